"""Names of the continuum.ml API and the labels and annotations the operator puts on the objects it
creates, in one place so that writers and readers cannot drift apart."""

from __future__ import annotations

GROUP = "continuum.ml"
VERSION = "v1alpha1"
TRAINING_PIPELINES = "trainingpipelines"
SERVING_DEPLOYMENTS = "servingdeployments"

SPARK_GROUP = "sparkoperator.k8s.io"
SPARK_VERSION = "v1beta2"
SPARK_APPLICATIONS = "sparkapplications"

RETRAIN_ANNOTATION = f"{GROUP}/retrain"
"""Set on a TrainingPipeline to a new value to ask for a run now."""

PIPELINE_LABEL = f"{GROUP}/pipeline"
RUN_LABEL = f"{GROUP}/run"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "continuum-operator"

# What a run was started for, written on its SparkApplication: after an operator restart the
# SparkApplication alone tells which batches and triggers it consumed, even if the pipeline's
# status was never updated.
BATCHES_ANNOTATION = f"{GROUP}/batches"
TRIGGERS_ANNOTATION = f"{GROUP}/triggers"
SCHEDULE_TIME_ANNOTATION = f"{GROUP}/schedule-time"
RETRAIN_TOKEN_ANNOTATION = f"{GROUP}/retrain-token"

# The training job's record in MLflow, read by the operator to find a run's outcome: tags on the
# MLflow run and on the model version it registers. Values are strings (MLflow tags are).
MLFLOW_RUN_ID_TAG = f"{GROUP}/run-id"
"""The run's id: the SparkApplication's name."""
MLFLOW_PIPELINE_TAG = f"{GROUP}/pipeline"
"""`<namespace>/<name>` of the TrainingPipeline."""
MLFLOW_BATCHES_TAG = f"{GROUP}/batches"
"""The batches the model was trained on, comma-separated."""
MLFLOW_PROMOTION_TAG = f"{GROUP}/promotion"
"""On the model version: the gate's decision (Promoted or Rejected) and why."""
