"""The MLflow Model Registry as the TrainingPipeline controller uses it: find what a run
registered, read its metrics, record the promotion decision and move the alias.

The training job tags its MLflow run and the model version it registers with
`api.MLFLOW_RUN_ID_TAG` = the run's name (its SparkApplication's name), so the operator finds them
without knowing MLflow ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from continuum_operator import api
from continuum_operator.history import Decision, Promotion

_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
_T = TypeVar("_T")


class RegistryError(Exception):
    """MLflow could not be reached or refused a call; `str()` says why."""


@dataclass(frozen=True)
class RunOutcome:
    """What a finished training run left in MLflow."""

    model_version: str | None
    """None when the run registered no version (the job failed before registering)."""
    mlflow_run_id: str | None = None
    metrics: dict[str, float] | None = None
    decision: Promotion | None = None
    """A decision already recorded on the version: an earlier pass decided, then was interrupted."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


class Registry:
    """One MLflow tracking server; every error surfaces as a `RegistryError`."""

    def __init__(self, tracking_uri: str) -> None:
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.tracking_uri = tracking_uri

    def _call(self, what: str, function: Callable[..., _T], *args: object) -> _T:
        try:
            return function(*args)
        except MlflowException as error:
            raise RegistryError(f"MLflow {what}: {error.message}") from error
        except Exception as error:  # connection refused, timeouts: the server is unreachable
            raise RegistryError(f"MLflow at {self.tracking_uri} unreachable: {error}") from error

    def champion_version(self, model: str, alias: str) -> str | None:
        """The version holding `alias`, or None when the model or the alias does not exist."""
        try:
            return self._client.get_model_version_by_alias(model, alias).version
        except MlflowException as error:
            if error.error_code == _NOT_FOUND or "not found" in error.message.lower():
                return None
            raise RegistryError(f"MLflow alias {model}@{alias}: {error.message}") from error
        except Exception as error:
            raise RegistryError(f"MLflow at {self.tracking_uri} unreachable: {error}") from error

    def outcome(self, model: str, run_name: str) -> RunOutcome:
        filter_string = (
            f"name='{_escape(model)}' and tag.{api.MLFLOW_RUN_ID_TAG}='{_escape(run_name)}'"
        )
        versions = self._call(
            "model version search", self._client.search_model_versions, filter_string
        )
        if not versions:
            return RunOutcome(model_version=None)
        # A retried job may register twice; the newest version is the one it finished with.
        version = max(versions, key=lambda found: int(found.version))
        metrics: dict[str, float] = {}
        if version.run_id:
            run = self._call("run lookup", self._client.get_run, version.run_id)
            metrics = {key: float(value) for key, value in run.data.metrics.items()}
        tags = version.tags or {}
        decision = (
            Promotion(
                Decision(tags[api.MLFLOW_PROMOTION_TAG]),
                tags.get(api.MLFLOW_PROMOTION_REASON_TAG, ""),
            )
            if tags.get(api.MLFLOW_PROMOTION_TAG) in set(Decision)
            else None
        )
        return RunOutcome(str(version.version), version.run_id, metrics, decision)

    def record_decision(self, model: str, version: str, promotion: Promotion) -> None:
        """Tags the decision on the version first, so a pass interrupted before the alias moves
        finds the decision again instead of deciding anew against a moved champion."""
        set_tag = self._client.set_model_version_tag
        self._call(
            "tag", set_tag, model, version, api.MLFLOW_PROMOTION_REASON_TAG, promotion.reason[:5000]
        )
        self._call(
            "tag", set_tag, model, version, api.MLFLOW_PROMOTION_TAG, str(promotion.decision)
        )

    def promote(self, model: str, alias: str, version: str) -> None:
        self._call("alias", self._client.set_registered_model_alias, model, alias, version)
