"""The MLflow Model Registry as the controllers use it.

TrainingPipelines: find what a run registered, read its metrics, record the promotion decision and
move the alias. The training job tags its MLflow run and the model version it registers with
`contract.MLFLOW_RUN_ID_TAG` = the run's name (its SparkApplication's name) and
`contract.MLFLOW_PIPELINE_TAG` = `<namespace>/<pipeline>`; the operator finds them by both tags, so
pipelines sharing a server or a model never see each other's runs.

ServingDeployments: one request tells which versions a model's aliases name and which is the
latest (`model_snapshot`), and a version whose rollout failed is tagged so.

Each server is called with the credentials of the object that names it (its
`mlflow.credentialsSecretRef`, the same Secret its pods get), or else with the operator's own
environment (MLflow's MLFLOW_TRACKING_* variables). Every request is counted in
`continuum_registry_requests_total`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from mlflow.entities import ViewType
from mlflow.entities.model_registry import ModelVersionTag
from mlflow.exceptions import MlflowException
from mlflow.store.model_registry.rest_store import RestStore as RegistryStore
from mlflow.store.tracking.rest_store import RestStore as TrackingStore
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import MlflowHostCreds
from prometheus_client import Counter

from continuum_workloads import contract

_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
_T = TypeVar("_T")

MLFLOW_ROLLOUT_FAILED_TAG = "continuum_rollout_failed"
"""On a model version whose rollout failed: `<namespace>/<name>: <why>` of the
ServingDeployment that rolled it back."""

REQUESTS = Counter(
    "continuum_registry_requests_total",
    "Requests to MLflow tracking servers, by call and result (ok, error)",
    ["call", "result"],
)


class RegistryError(Exception):
    """MLflow could not be reached or refused a call; `str()` says why."""


class NotFound(RegistryError):
    """The registry does not know the model, version or alias asked for."""


@dataclass(frozen=True)
class Credentials:
    """What a credentials Secret holds, under MLflow's own variable names."""

    username: str | None = None
    password: str | None = None
    token: str | None = None
    insecure_tls: bool = False

    @classmethod
    def from_secret_data(cls, data: Mapping[str, str]) -> Credentials:
        return cls(
            username=data.get("MLFLOW_TRACKING_USERNAME") or None,
            password=data.get("MLFLOW_TRACKING_PASSWORD") or None,
            token=data.get("MLFLOW_TRACKING_TOKEN") or None,
            insecure_tls=data.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true",
        )


@dataclass(frozen=True)
class RunOutcome:
    """What a finished training run left in MLflow."""

    model_version: str | None
    """None when the run registered no version (the job failed before registering)."""
    mlflow_run_id: str | None = None
    metrics: dict[str, float] | None = None
    tags: dict[str, str] | None = None
    """The version's tags: a promotion decision already recorded there means an earlier pass
    decided, then was interrupted."""
    scored_against: str | None = None
    """The champion version the run scored on its holdout; None when there was none."""


@dataclass(frozen=True)
class ModelSnapshot:
    """What the registry says of one model at one moment."""

    name: str
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Alias → version."""
    latest_version: str | None = None
    """The newest version whose registration finished (status READY)."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


class Registry:
    """One MLflow tracking server, called with one set of credentials; every error surfaces as
    a `RegistryError`."""

    def __init__(self, tracking_uri: str, credentials: Credentials | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.credentials = credentials
        self._registry = RegistryStore(self.host_credentials)
        self._tracking = TrackingStore(self.host_credentials)

    def host_credentials(self) -> MlflowHostCreds:
        """What each request authenticates with (asked before every request)."""
        if self.credentials is None:
            return get_default_host_creds(self.tracking_uri)
        return MlflowHostCreds(
            self.tracking_uri,
            username=self.credentials.username,
            password=self.credentials.password,
            token=self.credentials.token,
            ignore_tls_verification=self.credentials.insecure_tls,
        )

    def _call(self, what: str, function: Callable[..., _T], *args: object) -> _T:
        try:
            value = function(*args)
        except MlflowException as error:
            REQUESTS.labels(function.__name__, "error").inc()
            if error.error_code == _NOT_FOUND or "not found" in error.message.lower():
                raise NotFound(f"MLflow {what}: {error.message}") from error
            raise RegistryError(f"MLflow {what}: {error.message}") from error
        except Exception as error:  # connection refused, timeouts: the server is unreachable
            REQUESTS.labels(function.__name__, "error").inc()
            raise RegistryError(f"MLflow at {self.tracking_uri} unreachable: {error}") from error
        REQUESTS.labels(function.__name__, "ok").inc()
        return value

    # --- TrainingPipelines ------------------------------------------------------------------

    def champion_version(self, model: str, alias: str) -> str | None:
        """The version holding `alias`, or None when the model or the alias does not exist."""
        try:
            found = self._call(
                f"alias {model}@{alias}", self._registry.get_model_version_by_alias, model, alias
            )
        except NotFound:
            return None
        return found.version

    def outcome(self, model: str, pipeline: str, run_name: str) -> RunOutcome:
        """What run `run_name` of `pipeline` (`<namespace>/<name>`) registered as `model`."""
        filter_string = " and ".join(
            [
                f"name='{_escape(model)}'",
                f"tag.{contract.MLFLOW_PIPELINE_TAG}='{_escape(pipeline)}'",
                f"tag.{contract.MLFLOW_RUN_ID_TAG}='{_escape(run_name)}'",
            ]
        )
        versions = self._call(
            "model version search", self._registry.search_model_versions, filter_string
        )
        if not versions:
            return RunOutcome(model_version=None)
        # A retried job may register twice; the newest version is the one it finished with.
        version = max(versions, key=lambda found: int(found.version))
        metrics: dict[str, float] = {}
        scored_against = None
        if version.run_id:
            run = self._call("run lookup", self._tracking.get_run, version.run_id)
            metrics = {key: float(value) for key, value in run.data.metrics.items()}
            scored_against = run.data.tags.get(contract.MLFLOW_CHAMPION_VERSION_TAG)
        return RunOutcome(
            str(version.version), version.run_id, metrics, dict(version.tags or {}), scored_against
        )

    @contextmanager
    def exclusive(self, model: str) -> Iterator[None]:
        """Holds every other pass of this operator off `model` on this server: reading its alias,
        deciding and moving the alias become one step. Replicas of the operator do not run
        passes side by side (peering), and MLflow has no conditional alias update to fence
        anyone else."""
        with _model_lock(self.tracking_uri, model):
            yield

    def data_error(self, experiment: str, run_name: str) -> str | None:
        """Why the job found its data unusable, when the MLflow run of training run `run_name`
        in `experiment` says it did; None otherwise, and when there is no such run: the job
        failed before it reached MLflow (its driver never started, or was evicted), which is no
        data error. Run names derive from the pipeline's namespace and name, so the name alone
        keys the lookup."""
        found = self._call(
            f"experiment {experiment}", self._tracking.get_experiment_by_name, experiment
        )
        if found is None:
            return None
        filter_string = (
            f"attributes.run_name = '{_escape(run_name)}' and "
            f"tags.{contract.MLFLOW_FAILURE_TAG} = '{contract.DATA_ERROR}'"
        )
        runs = self._call(
            "run search",
            self._tracking.search_runs,
            [found.experiment_id],
            filter_string,
            ViewType.ALL,
            1,
        )
        if not runs:
            return None
        return runs[0].data.tags.get(contract.MLFLOW_FAILURE_REASON_TAG) or "unusable data"

    def record_decision(self, model: str, version: str, decision: str, reason: str) -> None:
        """Tags the decision on the version first, so a pass interrupted before the alias moves
        finds the decision again instead of deciding anew against a moved champion."""
        self.tag(model, version, contract.MLFLOW_PROMOTION_REASON_TAG, reason[:5000])
        self.tag(model, version, contract.MLFLOW_PROMOTION_TAG, decision)

    def promote(self, model: str, alias: str, version: str) -> None:
        self._call("alias", self._registry.set_registered_model_alias, model, alias, version)

    # --- ServingDeployments -------------------------------------------------------------------

    def model_snapshot(self, model: str) -> ModelSnapshot:
        """The model's aliases and latest version, in one request. `NotFound` when the
        registry does not know the model."""
        found = self._call(f"model {model}", self._registry.get_registered_model, model)
        # One latest version per (deprecated) stage; a version is in one stage only, so the
        # newest of them is the newest version.
        ready = [v for v in found.latest_versions or () if str(v.status) == "READY"]
        latest = max(ready, key=lambda v: int(v.version), default=None)
        return ModelSnapshot(
            name=model,
            aliases={alias: str(version) for alias, version in (found.aliases or {}).items()},
            latest_version=None if latest is None else str(latest.version),
        )

    def tag(self, model: str, version: str, key: str, value: str) -> None:
        self._call(
            "tag", self._registry.set_model_version_tag, model, version, ModelVersionTag(key, value)
        )


_MODEL_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_MODEL_LOCKS_GUARD = threading.Lock()


def _model_lock(tracking_uri: str, model: str) -> threading.Lock:
    with _MODEL_LOCKS_GUARD:
        return _MODEL_LOCKS.setdefault((tracking_uri, model), threading.Lock())


@lru_cache(maxsize=256)
def registry_for(tracking_uri: str, credentials: Credentials | None = None) -> Registry:
    """One client per server and credentials, kept so connections are reused."""
    return Registry(tracking_uri, credentials)
