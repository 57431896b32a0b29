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
SPARK_APPLICATIONS_CRD = f"{SPARK_APPLICATIONS}.{SPARK_GROUP}"

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
# MLflow run and on the model version it registers. Plain identifiers, so that search filters
# (`tag.continuum_run_id = '...'`) need no quoting.
MLFLOW_RUN_ID_TAG = "continuum_run_id"
"""The run's id: the SparkApplication's name."""
MLFLOW_PIPELINE_TAG = "continuum_pipeline"
"""`<namespace>/<name>` of the TrainingPipeline."""
MLFLOW_BATCHES_TAG = "continuum_batches"
"""The batches the model was trained on, comma-separated."""
MLFLOW_PROMOTION_TAG = "continuum_promotion"
"""On the model version: the gate's decision, Promoted or Rejected."""
MLFLOW_PROMOTION_REASON_TAG = "continuum_promotion_reason"
"""On the model version: why the gate decided so."""
