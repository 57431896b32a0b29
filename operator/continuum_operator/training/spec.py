"""The TrainingPipeline spec as typed models: the second line behind the CRD schema
(`core.spec`), catching what a schema cannot express (a cron field out of range, a reserved
alias) and naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, Field, model_validator

from continuum_operator.core.spec import (
    Alias,
    Duration,
    MLflowServer,
    PullPolicy,
    SpecModel,
    parse_spec,
)

_DATA_URI = r"^(hdfs|webhdfs|file)://\S+$"
_SPARK_MEMORY = r"^[1-9][0-9]*[kKmMgGtT]$"


def _check_cron(expression: str) -> str:
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as error:
        raise ValueError(f"{expression!r} is not a 5-field cron expression: {error}") from None
    return expression


CronExpression = Annotated[str, AfterValidator(_check_cron)]
SparkMemory = Annotated[str, Field(pattern=_SPARK_MEMORY)]


class DataFormat(StrEnum):
    """Formats the training job reads: the listings as published."""

    CSV = "csv"


class ConcurrencyPolicy(StrEnum):
    FORBID = "Forbid"
    REPLACE = "Replace"
    ALLOW = "Allow"


class PromotionMetric(StrEnum):
    """The holdout metrics the training job logs for the candidate and the champion."""

    RMSE = "rmse"
    MAE = "mae"
    R2 = "r2"


class Direction(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


class EnsembleMember(StrEnum):
    GBT = "gbt"
    RANDOM_FOREST = "randomForest"
    LINEAR_REGRESSION = "linearRegression"


class HistoryMode(StrEnum):
    ALL = "All"
    LATEST = "Latest"


class DataSource(SpecModel):
    uri: str = Field(pattern=_DATA_URI)
    format: DataFormat = DataFormat.CSV
    batch_pattern: str = Field(default="*", min_length=1)
    completion_marker: str = Field(default="_SUCCESS", min_length=1)
    poll_interval: Duration = timedelta(seconds=30)


class Trigger(SpecModel):
    on_new_data: bool = True
    schedule: CronExpression | None = None


class Driver(SpecModel):
    cores: int = Field(default=1, ge=1, le=64)
    memory: SparkMemory = "1g"


class Executor(SpecModel):
    instances: int = Field(default=1, ge=1, le=100)
    cores: int = Field(default=1, ge=1, le=64)
    memory: SparkMemory = "1g"


class CrossValidation(SpecModel):
    folds: int = Field(default=3, ge=2, le=20)
    # One fold at a time: on 50k rows with a 2-core driver it was the fastest and used a third
    # less driver memory than folds side by side (bench/training.py).
    parallelism: int = Field(default=1, ge=1, le=64)


class History(SpecModel):
    """Which batches a run trains on: all of them, or only the latest N."""

    mode: HistoryMode = HistoryMode.ALL
    batches: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _latest_needs_a_count(self) -> History:
        if self.mode is HistoryMode.LATEST and self.batches is None:
            raise ValueError("batches is required when mode is Latest")
        return self


class Training(SpecModel):
    image: str = Field(min_length=1)
    image_pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT
    spark_version: str = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    main_application_file: str = (
        "local:///opt/continuum/workloads/continuum_workloads/training/job.py"
    )
    spark_conf: dict[str, str] = Field(default_factory=dict)
    driver: Driver = Field(default_factory=Driver)
    executor: Executor = Field(default_factory=Executor)
    service_account: str | None = None
    # GBT is left out by default: it cost more than half of the fitting and the stacker gave it
    # almost no weight on the bench's listings (README, "The training job").
    ensemble: tuple[EnsembleMember, ...] = Field(
        default=(EnsembleMember.RANDOM_FOREST, EnsembleMember.LINEAR_REGRESSION), min_length=1
    )
    cross_validation: CrossValidation = Field(default_factory=CrossValidation)
    history: History = Field(default_factory=History)


class MLflow(MLflowServer):
    experiment: str | None = None
    registered_model: str = Field(min_length=1)


class Promotion(SpecModel):
    metric: PromotionMetric = PromotionMetric.RMSE
    direction: Direction = Direction.MINIMIZE
    min_improvement: float = Field(default=0.0, ge=0.0, le=1.0)
    """Relative: 0.02 asks the candidate to beat the champion by 2 % of the champion's score."""
    alias: Alias = "champion"


class Retry(SpecModel):
    """How a run that failed for a transient reason is started again (a data error never is)."""

    limit: int = Field(default=2, ge=0, le=10)
    """Retries after the first attempt; 0: none."""
    backoff: Duration = timedelta(seconds=30)
    """Before the first retry; each further one waits twice as long as the one before."""


class TrainingPipelineSpec(SpecModel):
    data: DataSource
    trigger: Trigger = Field(default_factory=Trigger)
    training: Training
    mlflow: MLflow
    promotion: Promotion = Field(default_factory=Promotion)
    train_set_export_uri: str | None = Field(default=None, pattern=_DATA_URI)
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    retry: Retry = Field(default_factory=Retry)
    history_limit: int = Field(default=5, ge=1, le=100)


def parse_training_pipeline_spec(spec: Mapping[str, Any]) -> TrainingPipelineSpec:
    return parse_spec(TrainingPipelineSpec, spec)
