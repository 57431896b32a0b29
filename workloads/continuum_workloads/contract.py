"""What the operator and the workloads agree on: the MLflow tags a training run leaves for the
operator, and the environment, port and endpoints of a serving pod.

Both sides import these names from here, so a writer and its reader cannot drift apart. Pure
Python: the operator's image holds no Spark, and imports this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import StrEnum

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
MLFLOW_FAILURE_TAG = "continuum_failure"
"""On the MLflow run of a failed training run: `DATA_ERROR` when the job found its data unusable
(no input, missing columns, every row rejected), so that the operator does not retry it; absent
for any other failure."""
DATA_ERROR = "DataError"
MLFLOW_FAILURE_REASON_TAG = "failure_reason"
"""On the MLflow run of a failed training run: why it failed, in one line (the operator shows a
data error's reason in the run's status)."""
MLFLOW_CHAMPION_VERSION_TAG = "champion_version"
"""On the MLflow run: the champion version the run scored on its holdout (its `champion_<metric>`
metrics); absent when there was no champion."""

# The serving pod (`continuum serve`): one HTTP port for probes and Prometheus.
SERVING_HTTP_PORT = 8080
HEALTHZ_PATH = "/healthz"
"""200 while the process is alive (liveness)."""
READYZ_PATH = "/readyz"
"""200 once the model is loaded and warmed by one scoring pass, and while Kafka, HDFS and the
Lease are usable; a pod waiting for the Lease is Ready (it is the rollout's next holder)."""
METRICS_PATH = "/metrics"


class ServingMode(StrEnum):
    EXACTLY_ONCE = "exactlyOnce"
    """Micro-batches written through one Kafka transaction each, fenced by a fixed
    transactional.id: nothing lost or duplicated across restarts and handoffs."""
    REALTIME = "realtime"
    """Spark's Real-time Mode: lower latency, at-least-once."""


_ENV_PREFIX = "CONTINUUM_"

# The pod's own identity, from the downward API: its name is its identity as the Lease's holder,
# its namespace the Lease's.
POD_NAME_ENV = "CONTINUUM_POD_NAME"
POD_NAMESPACE_ENV = "CONTINUUM_POD_NAMESPACE"


def downward_api_env() -> list[dict[str, object]]:
    """The container `env` entries that give a serving pod its identity."""
    return [
        {"name": POD_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": POD_NAMESPACE_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]


@dataclass(frozen=True)
class ServingConfig:
    """Everything a serving pod is told, as environment variables: the operator writes them with
    `to_env`, `continuum serve` reads them with `from_env`. Secrets are never here: MLflow
    credentials come as their own variables from a Secret (envFrom), Kafka client properties as
    files of a mounted Secret (`kafka_properties_dir`)."""

    model_name: str
    model_version: str
    mlflow_tracking_uri: str
    kafka_bootstrap_servers: str
    requests_topic: str
    predictions_topic: str
    dead_letter_topic: str
    checkpoint_uri: str
    """Base URI; the scoring and metrics queries keep their checkpoints beneath it."""
    transactional_id: str
    """Fixed per ServingDeployment, not per pod: a new holder fences the old one at the broker."""
    lease_name: str
    """coordination.k8s.io/v1 Lease, in the pod's namespace, whose holder alone runs the queries."""
    feedback_topic: str | None = None
    metrics_topic: str | None = None
    consumer_group: str | None = None
    kafka_properties_dir: str | None = None
    """A directory of files, each named for a Kafka client property and holding its value."""
    mode: ServingMode = ServingMode.EXACTLY_ONCE
    trigger_interval: str = "0s"
    metrics_window: str = "10m"
    metrics_slide: str = "1m"
    feedback_delay: str = "10m"
    http_port: int = SERVING_HTTP_PORT
    stop_wait_s: int = 50
    """How long a stopped holder waits for its running batch to end before it stops it anyway:
    the pod's termination grace period less the time to stop, release the Lease and exit."""
    spark_conf: Mapping[str, str] = field(default_factory=dict)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}/{self.model_version}"

    @property
    def topics(self) -> tuple[str, str, str]:
        """(requests, predictions, dead letters)."""
        return self.requests_topic, self.predictions_topic, self.dead_letter_topic

    @property
    def answered_offsets_group(self) -> str:
        """The consumer group whose committed offsets say which requests are answered."""
        return self.consumer_group or self.transactional_id

    def checkpoint(self, query: str) -> str:
        """The checkpoint of one of the pod's queries, beneath `checkpoint_uri`."""
        return f"{self.checkpoint_uri.rstrip('/')}/{query}"

    @staticmethod
    def env_name(field_name: str) -> str:
        if field_name == "mlflow_tracking_uri":
            return "MLFLOW_TRACKING_URI"  # MLflow's own variable: its client reads it as is
        return _ENV_PREFIX + field_name.upper()

    def to_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for name, value in asdict(self).items():
            if value is None:
                continue
            env[self.env_name(name)] = (
                json.dumps(dict(value), sort_keys=True) if name == "spark_conf" else str(value)
            )
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServingConfig:
        """Raises ValueError naming every missing or malformed variable."""
        values: dict[str, object] = {}
        problems: list[str] = []
        for item in fields(cls):
            variable = cls.env_name(item.name)
            raw = environ.get(variable)
            if raw is None or raw == "":
                if item.default is MISSING and item.default_factory is MISSING:
                    problems.append(f"{variable} is not set")
                continue
            try:
                values[item.name] = _parse(item.name, raw)
            except ValueError as error:
                problems.append(f"{variable}={raw!r}: {error}")
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**values)  # type: ignore[arg-type]


def _parse(name: str, raw: str) -> object:
    if name == "mode":
        return ServingMode(raw)
    if name == "http_port":
        port = int(raw)
        if not 0 < port < 65536:
            raise ValueError("not a port number")
        return port
    if name == "stop_wait_s":
        seconds = int(raw)
        if seconds < 1:
            raise ValueError("not a positive number of seconds")
        return seconds
    if name == "spark_conf":
        conf = json.loads(raw)
        if not isinstance(conf, dict):
            raise ValueError("not a JSON object")
        return {str(key): str(value) for key, value in conf.items()}
    return raw
