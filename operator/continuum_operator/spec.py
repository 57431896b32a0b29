"""The TrainingPipeline spec as typed models.

The CRD schema rejects most bad input at `kubectl apply`; these models are the second line: they
catch what a schema cannot express (a cron field out of range, a reserved alias) and name the field,
so the controller can report `Ready=False, reason=InvalidSpec` with a message a user can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

_DURATION = re.compile(r"^(?P<value>[0-9]+)(?P<unit>s|m|h)$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}
_DATA_URI = r"^(hdfs|webhdfs|file)://\S+$"
_SPARK_MEMORY = r"^[1-9][0-9]*[kKmMgGtT]$"
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_VERSION_LIKE_ALIAS = re.compile(r"^[vV][0-9]+$")


def parse_duration(value: object) -> timedelta:
    """`30s`, `5m`, `1h` → timedelta; anything else, zero included, is an error."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a duration such as 30s, 5m or 1h")
    seconds = int(match["value"]) * _DURATION_UNITS[match["unit"]]
    if seconds == 0:
        raise ValueError("must be longer than zero")
    return timedelta(seconds=seconds)


def _check_cron(expression: str) -> str:
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as error:
        raise ValueError(f"{expression!r} is not a 5-field cron expression: {error}") from None
    return expression


def _check_alias(alias: str) -> str:
    # MLflow refuses these: `latest` and `v<N>` already mean something in `models:/` URIs.
    if not _ALIAS.match(alias) or alias == "latest" or _VERSION_LIKE_ALIAS.match(alias):
        raise ValueError(f"{alias!r} is not a valid MLflow alias (not 'latest', not 'v<number>')")
    return alias


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
CronExpression = Annotated[str, AfterValidator(_check_cron)]
Alias = Annotated[str, AfterValidator(_check_alias)]
SparkMemory = Annotated[str, Field(pattern=_SPARK_MEMORY)]


class _Model(BaseModel):
    # Unknown fields are ignored rather than refused: the API server has already pruned them, and a
    # newer CRD must not break an older operator.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


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


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class HistoryMode(StrEnum):
    ALL = "All"
    LATEST = "Latest"


class SecretRef(_Model):
    name: str = Field(min_length=1)


class DataSource(_Model):
    uri: str = Field(pattern=_DATA_URI)
    format: DataFormat = DataFormat.CSV
    batch_pattern: str = Field(default="*", min_length=1)
    completion_marker: str = Field(default="_SUCCESS", min_length=1)
    poll_interval: Duration = timedelta(seconds=30)


class Trigger(_Model):
    on_new_data: bool = True
    schedule: CronExpression | None = None


class Driver(_Model):
    cores: int = Field(default=1, ge=1, le=64)
    memory: SparkMemory = "1g"


class Executor(_Model):
    instances: int = Field(default=1, ge=1, le=100)
    cores: int = Field(default=1, ge=1, le=64)
    memory: SparkMemory = "1g"


class CrossValidation(_Model):
    folds: int = Field(default=3, ge=2, le=20)
    parallelism: int = Field(default=2, ge=1, le=64)


class History(_Model):
    """Which batches a run trains on: all of them, or only the latest N."""

    mode: HistoryMode = HistoryMode.ALL
    batches: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _latest_needs_a_count(self) -> History:
        if self.mode is HistoryMode.LATEST and self.batches is None:
            raise ValueError("batches is required when mode is Latest")
        return self


class Training(_Model):
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
    ensemble: tuple[EnsembleMember, ...] = Field(default=tuple(EnsembleMember), min_length=1)
    cross_validation: CrossValidation = Field(default_factory=CrossValidation)
    history: History = Field(default_factory=History)


class MLflow(_Model):
    tracking_uri: str = Field(pattern=r"^(https?|file)://\S+$")
    experiment: str | None = None
    registered_model: str = Field(min_length=1)
    credentials_secret_ref: SecretRef | None = None


class Promotion(_Model):
    metric: PromotionMetric = PromotionMetric.RMSE
    direction: Direction = Direction.MINIMIZE
    min_improvement: float = Field(default=0.0, ge=0.0, le=1.0)
    """Relative: 0.02 asks the candidate to beat the champion by 2 % of the champion's score."""
    alias: Alias = "champion"


class TrainingPipelineSpec(_Model):
    data: DataSource
    trigger: Trigger = Field(default_factory=Trigger)
    training: Training
    mlflow: MLflow
    promotion: Promotion = Field(default_factory=Promotion)
    train_set_export_uri: str | None = Field(default=None, pattern=_DATA_URI)
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    history_limit: int = Field(default=5, ge=1, le=100)


class InvalidSpecError(ValueError):
    """A spec the controller cannot act on; `str()` names every offending field."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{field}: {why}" for field, why in self.problems.items()))


def _field_path(location: tuple[int | str, ...]) -> str:
    path = "spec"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_training_pipeline_spec(spec: Mapping[str, Any]) -> TrainingPipelineSpec:
    try:
        return TrainingPipelineSpec.model_validate(spec)
    except ValidationError as error:
        problems: dict[str, str] = {}
        for detail in error.errors(include_url=False):
            message = str(detail["msg"]).removeprefix("Value error, ")
            problems.setdefault(_field_path(detail["loc"]), message)
        raise InvalidSpecError(problems) from None
