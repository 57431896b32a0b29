"""What a training run records in MLflow: a parent run with one nested run per member, the model
with its signature, a registered version tagged with its lineage, and the champion's score."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, Schema
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession

from continuum_workloads.contract import MLFLOW_BATCHES_TAG, MLFLOW_PIPELINE_TAG, MLFLOW_RUN_ID_TAG
from continuum_workloads.training.ensemble import FittedMember
from continuum_workloads.training.evaluation import holdout_metrics

log = logging.getLogger(__name__)


def lineage_tags(run_id: str, pipeline: str, batches: list[str]) -> dict[str, str]:
    return {
        MLFLOW_RUN_ID_TAG: run_id,
        MLFLOW_PIPELINE_TAG: pipeline,
        MLFLOW_BATCHES_TAG: ",".join(batches),
    }


# The model inputs a run left out because its data holds no value of them (comma-separated).
DROPPED_INPUTS_TAG = "dropped_inputs"


def log_member(member: FittedMember, metrics: dict[str, float]) -> None:
    """A nested run per member: its settings, holdout scores, out-of-fold RMSE, fitting time
    per round (fold 0.., then the fit on all training rows)."""
    with mlflow.start_run(run_name=member.name, nested=True):
        mlflow.log_params({"member": member.name, **member.settings})
        mlflow.log_metrics(
            {
                **metrics,
                "cv_rmse": member.cv_rmse,
                "train_seconds": member.train_seconds,
                **{f"train_seconds.round_{i}": s for i, s in enumerate(member.fold_seconds)},
            }
        )


def shared_filesystem(data_uri: str) -> str | None:
    """The distributed filesystem the data is on (`<scheme>://<authority>`), which the driver and
    every executor share; None for local data."""
    location = urlsplit(data_uri)
    if location.scheme in ("", "file", "local"):
        return None
    return f"{location.scheme}://{location.netloc}"


def model_staging_dir(data_uri: str, run_id: str) -> str | None:
    """Where Spark ML writes a model on its way to MLflow, and reads one on its way back: its
    executors write and read the model's data, so on a cluster it must be a filesystem they all
    share with the driver: the data's (`/tmp/continuum/models/<run>` there, which MLflow resolves
    on the default filesystem: the job makes the data's its default). None for local data:
    MLflow's default, the driver's own disk, which local mode shares."""
    shared = shared_filesystem(data_uri)
    return None if shared is None else f"{shared}/tmp/continuum/models/{run_id}"


def remove_staging_dir(spark: SparkSession, staging_dir: str | None) -> None:
    """Deletes the run's staged copies (its model on the way to MLflow, the champion's on the
    way back) from the data's filesystem, through Spark's own Hadoop client."""
    if staging_dir is None:
        return
    path = spark._jvm.org.apache.hadoop.fs.Path(staging_dir)  # type: ignore[union-attr]
    path.getFileSystem(spark._jsc.hadoopConfiguration()).delete(path, True)  # type: ignore[union-attr]


def champion_metrics(
    client: MlflowClient,
    registered_model: str,
    alias: str,
    holdout: DataFrame,
    staging_dir: str | None = None,
) -> tuple[ModelVersion | None, dict[str, float]]:
    """The version behind `alias` and its score on this run's holdout; (None, {}) without one."""
    try:
        champion = client.get_model_version_by_alias(registered_model, alias)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None, {}
        raise
    model = mlflow.spark.load_model(f"models:/{registered_model}@{alias}", dfs_tmpdir=staging_dir)
    return champion, holdout_metrics(model.transform(holdout))


def listing_signature(columns: list[str]) -> ModelSignature:
    """Raw listings in, as published (every column text, any may be missing); a price out."""
    return ModelSignature(
        inputs=Schema([ColSpec("string", name, required=False) for name in columns]),
        outputs=Schema([ColSpec("double", "prediction")]),
    )


def register(
    model: PipelineModel,
    registered_model: str,
    input_columns: list[str],
    tags: dict[str, str],
    staging_dir: str | None = None,
) -> ModelVersion:
    """Log the PipelineModel with the Spark flavour and its signature (the raw listing columns
    in, the price out) and register it as a new version (`staging_dir`: see
    model_staging_dir)."""
    # No input example: MLflow would check it by loading the model again, staged through the
    # data's filesystem, and scoring it; the job has just scored the holdout with this model.
    info = mlflow.spark.log_model(
        model,
        "model",
        signature=listing_signature(input_columns),
        dfs_tmpdir=staging_dir,
        # Every stage is Spark's own, so the model needs pyspark and nothing else. Stated, because
        # MLflow would otherwise infer it by loading the model again in a new Python and Spark.
        pip_requirements=mlflow.spark.get_default_pip_requirements(),
    )
    version = mlflow.register_model(info.model_uri, registered_model, tags=tags)
    log.info("registered %s version %s", registered_model, version.version)
    return version
