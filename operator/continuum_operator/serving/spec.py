"""The ServingDeployment spec as typed models: the second line behind the CRD schema, catching what
the schema cannot and naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from continuum_operator.core.spec import (
    Alias,
    Duration,
    MLflowServer,
    PullPolicy,
    SecretRef,
    SpecModel,
    parse_duration,
    parse_spec,
)
from continuum_workloads.contract import ServingMode

_TOPIC = r"^[A-Za-z0-9._-]{1,249}$"
REALTIME_MIN_TRIGGER = timedelta(seconds=5)
"""Spark's Real-time Mode refuses shorter batch durations (realTimeMode.minBatchDuration)."""
EXIT_MARGIN_S = 10
"""Of a scorer pod's termination grace period, what it keeps for stopping its query, releasing
the Lease and exiting once its running batch has ended."""

TriggerInterval = Annotated[
    timedelta, BeforeValidator(lambda v: parse_duration(v, allow_zero=True))
]
Topic = Annotated[str, Field(pattern=_TOPIC)]


class ModelPolicy(StrEnum):
    ALIAS = "Alias"
    LATEST = "Latest"
    PINNED = "Pinned"


class Model(SpecModel):
    name: str = Field(min_length=1, max_length=256)
    policy: ModelPolicy = ModelPolicy.ALIAS
    alias: Alias = "champion"
    version: str | None = Field(default=None, pattern=r"^[1-9][0-9]*$")

    @model_validator(mode="after")
    def _pinned_needs_a_version(self) -> Model:
        if self.policy is ModelPolicy.PINNED and self.version is None:
            raise ValueError("version is required when policy is Pinned")
        return self


class MLflow(MLflowServer):
    tracking_uri: str = Field(pattern=r"^https?://\S+$")
    poll_interval: Duration = timedelta(seconds=15)


class Topics(SpecModel):
    requests: Topic
    predictions: Topic
    dead_letter: Topic
    feedback: Topic | None = None
    metrics: Topic | None = None

    @model_validator(mode="after")
    def _metrics_need_feedback(self) -> Topics:
        if self.metrics is not None and self.feedback is None:
            raise ValueError("metrics needs feedback (live metrics are computed from feedback)")
        return self


class Kafka(SpecModel):
    bootstrap_servers: str = Field(pattern=r"^[^,\s]+:[0-9]+(,[^,\s]+:[0-9]+)*$")
    consumer_group: str | None = Field(default=None, min_length=1, max_length=249)
    topics: Topics
    security_secret_ref: SecretRef | None = None


class Resources(SpecModel):
    requests: dict[str, str | int] = Field(default_factory=dict)
    limits: dict[str, str | int] = Field(default_factory=dict)


class Metrics(SpecModel):
    window: Duration = timedelta(minutes=10)
    slide: Duration = timedelta(minutes=1)
    feedback_delay: Duration = timedelta(minutes=10)

    @model_validator(mode="after")
    def _slide_within_window(self) -> Metrics:
        if self.slide > self.window:
            raise ValueError("slide must not be longer than window")
        return self


class Rollout(SpecModel):
    progress_deadline: Duration = timedelta(minutes=10)
    auto_rollback: bool = True
    history_limit: int = Field(default=10, ge=1, le=50)


class ServingDeploymentSpec(SpecModel):
    model: Model
    mlflow: MLflow
    kafka: Kafka
    image: str = Field(min_length=1)
    image_pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT
    checkpoint_uri: str = Field(pattern=r"^(hdfs|webhdfs|file|s3a)://\S+$")
    replicas: int = Field(default=1, ge=1, le=20)
    mode: ServingMode = ServingMode.EXACTLY_ONCE
    trigger_interval: TriggerInterval | None = None
    resources: Resources = Field(default_factory=Resources)
    spark_conf: dict[str, str] = Field(default_factory=dict)
    termination_grace_period_seconds: int = Field(default=60, ge=1, le=3600)
    metrics: Metrics = Field(default_factory=Metrics)
    rollout: Rollout = Field(default_factory=Rollout)

    @model_validator(mode="after")
    def _realtime_trigger(self) -> ServingDeploymentSpec:
        if (
            self.mode is ServingMode.REALTIME
            and self.trigger_interval is not None
            and self.trigger_interval < REALTIME_MIN_TRIGGER
        ):
            raise ValueError("triggerInterval must be at least 5s in realtime mode")
        return self

    @property
    def stop_wait_seconds(self) -> int:
        """How long a stopped scorer pod waits for its running batch to end."""
        return max(1, self.termination_grace_period_seconds - EXIT_MARGIN_S)

    @property
    def effective_trigger_interval(self) -> timedelta:
        """As set, or 0s (as fast as possible), or in realtime mode its minimum."""
        if self.trigger_interval is not None:
            return self.trigger_interval
        return REALTIME_MIN_TRIGGER if self.mode is ServingMode.REALTIME else timedelta(0)


def parse_serving_deployment_spec(spec: Mapping[str, Any]) -> ServingDeploymentSpec:
    return parse_spec(ServingDeploymentSpec, spec)
