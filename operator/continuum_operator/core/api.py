"""Names of the continuum.ml API and the labels and annotations the operator puts on the objects it
creates, in one place so that writers and readers cannot drift apart."""

from __future__ import annotations

from enum import StrEnum

GROUP = "continuum.ml"
VERSION = "v1alpha1"
TRAINING_PIPELINES = "trainingpipelines"
SERVING_DEPLOYMENTS = "servingdeployments"


class Kind(StrEnum):
    """The kinds the operator reconciles; the value is the kind's name, as in `kind:`."""

    TRAINING_PIPELINE = "TrainingPipeline"
    SERVING_DEPLOYMENT = "ServingDeployment"

    @property
    def plural(self) -> str:
        return {
            Kind.TRAINING_PIPELINE: TRAINING_PIPELINES,
            Kind.SERVING_DEPLOYMENT: SERVING_DEPLOYMENTS,
        }[self]


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
ATTEMPT_ANNOTATION = f"{GROUP}/attempt"
"""On the SparkApplication of a retry: its attempt, 2 for the first retry."""
