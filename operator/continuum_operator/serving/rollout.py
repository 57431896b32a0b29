"""Rolling a ServingDeployment's scorer from one model version to the next, as pure decisions.

The scorer's Deployment rolls pods with maxSurge 1 and maxUnavailable 0, so the old version serves
until the new pods are Ready; the Kubernetes Deployment controller reports a rollout that makes no
progress within `progressDeadlineSeconds` (condition Progressing=False, ProgressDeadlineExceeded).
From what the Deployment shows and what status recorded, each pass decides:

- a rollout in progress whose pods are all updated and available has succeeded: its version is
  now the serving version;
- one that exceeded its deadline has failed: its version is remembered as failed under this
  generation of the spec (not retried until a newer version or a spec change) and, with
  autoRollback, the Deployment goes back to the serving version;
- a target different from what the Deployment runs starts a rollout (a rollout still in progress
  is superseded).

State lives in the cluster only: status (serving version, rollout history, failed versions) and
the Deployment itself (its template's version; the failed versions also in an annotation, written
with the rollback patch, so a rollback is never retried even if the status write after it is
lost). A rollout the status never recorded (the operator stopped between patching the Deployment
and writing status) is recognised from the Deployment and recorded late.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from continuum_operator.core.status import Event
from continuum_operator.core.times import format_time, parse_time

VERSION_ANNOTATION = "continuum.ml/model-version"
"""On the pod template: the model version its pods serve."""
FAILED_VERSIONS_ANNOTATION = "continuum.ml/failed-versions"
"""On the Deployment: the failed versions, as in status."""


class Result(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"


class Phase(StrEnum):
    PENDING = "Pending"
    ROLLING_OUT = "RollingOut"
    SERVING = "Serving"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"
    INVALID = "Invalid"


@dataclass(frozen=True)
class Rollout:
    to_version: str
    from_version: str | None
    start: datetime
    result: Result = Result.IN_PROGRESS
    finish: datetime | None = None
    message: str | None = None

    def ended(self, result: Result, now: datetime, message: str | None = None) -> Rollout:
        return replace(self, result=result, finish=now, message=message)

    def to_status(self) -> dict[str, Any]:
        raw = {
            "toVersion": self.to_version,
            "fromVersion": self.from_version,
            "startTime": format_time(self.start),
            "finishTime": format_time(self.finish) if self.finish else None,
            "result": str(self.result),
            "message": self.message,
        }
        return {key: value for key, value in raw.items() if value is not None}

    @classmethod
    def from_status(cls, raw: Mapping[str, Any]) -> Rollout:
        start = parse_time(raw.get("startTime"))
        assert start is not None  # required by the schema
        return cls(
            to_version=str(raw["toVersion"]),
            from_version=raw.get("fromVersion"),
            start=start,
            result=Result(raw["result"]),
            finish=parse_time(raw.get("finishTime")),
            message=raw.get("message"),
        )


@dataclass(frozen=True)
class FailedVersion:
    version: str
    generation: int

    def to_status(self) -> dict[str, Any]:
        return {"version": self.version, "generation": self.generation}

    @classmethod
    def from_status(cls, raw: Mapping[str, Any]) -> FailedVersion:
        return cls(str(raw["version"]), int(raw["generation"]))


def failed_from_annotation(text: str | None) -> tuple[FailedVersion, ...]:
    try:
        return tuple(FailedVersion.from_status(item) for item in json.loads(text or "[]"))
    except (ValueError, KeyError, TypeError):
        return ()  # hand-edited: status still has them


def failed_annotation(failed: Sequence[FailedVersion]) -> str:
    return json.dumps([item.to_status() for item in failed], separators=(",", ":"))


@dataclass(frozen=True)
class ObservedDeployment:
    """The scorer's Deployment as read from the API server."""

    version: str | None
    generation: int = 0
    observed_generation: int = 0
    desired: int = 1
    replicas: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    deadline_exceeded: bool = False
    minimum_available: bool = False
    """Its Available condition: at least the minimum of pods are available."""
    failed: tuple[FailedVersion, ...] = ()
    applied_hash: str | None = None

    @property
    def current(self) -> bool:
        """The Deployment controller has seen the latest spec."""
        return self.observed_generation >= self.generation

    @property
    def rolled_out(self) -> bool:
        """Every pod runs the current template and is available; no old pod is left."""
        return (
            self.current
            and self.updated == self.desired
            and self.replicas == self.desired
            and self.available >= self.desired
        )

    @property
    def stalled(self) -> bool:
        return self.current and self.deadline_exceeded

    @classmethod
    def from_body(cls, body: Mapping[str, Any], hash_annotation: str) -> ObservedDeployment:
        metadata = body.get("metadata") or {}
        spec = body.get("spec") or {}
        status = body.get("status") or {}
        template = (spec.get("template") or {}).get("metadata") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or ()}
        progressing = conditions.get("Progressing") or {}
        annotations = metadata.get("annotations") or {}
        return cls(
            version=(template.get("annotations") or {}).get(VERSION_ANNOTATION),
            generation=int(metadata.get("generation") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
            desired=int(spec.get("replicas", 1)),
            replicas=int(status.get("replicas") or 0),
            updated=int(status.get("updatedReplicas") or 0),
            ready=int(status.get("readyReplicas") or 0),
            available=int(status.get("availableReplicas") or 0),
            deadline_exceeded=progressing.get("status") == "False"
            and progressing.get("reason") == "ProgressDeadlineExceeded",
            minimum_available=(conditions.get("Available") or {}).get("status") == "True",
            failed=failed_from_annotation(annotations.get(FAILED_VERSIONS_ANNOTATION)),
            applied_hash=annotations.get(hash_annotation),
        )


@dataclass(frozen=True)
class ServingState:
    """What status records."""

    serving_version: str | None = None
    rollouts: tuple[Rollout, ...] = ()
    """Newest first."""
    failed: tuple[FailedVersion, ...] = ()

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> ServingState:
        return cls(
            serving_version=status.get("servingVersion"),
            rollouts=tuple(Rollout.from_status(raw) for raw in status.get("rollouts") or ()),
            failed=tuple(
                FailedVersion.from_status(raw) for raw in status.get("failedVersions") or ()
            ),
        )

    def to_status(self) -> dict[str, Any]:
        return {
            "servingVersion": self.serving_version,
            "rollouts": [rollout.to_status() for rollout in self.rollouts],
            "failedVersions": [item.to_status() for item in self.failed],
        }


@dataclass(frozen=True)
class ConditionValue:
    status: bool
    reason: str
    message: str


@dataclass(frozen=True)
class Step:
    deploy: str | None
    """The version the Deployment's template must hold after this pass; None: no Deployment yet
    and nothing to deploy."""
    state: ServingState
    events: tuple[Event, ...] = ()
    failed_rollout: Rollout | None = None
    """A rollout that failed in this pass: its version is tagged as failed in MLflow."""
    phase: Phase = Phase.PENDING
    progressing: ConditionValue | None = None
    degraded: ConditionValue = field(
        default_factory=lambda: ConditionValue(False, "RolloutsSucceeding", "no failed rollout")
    )


def plan(
    target: str | None,
    deployment: ObservedDeployment | None,
    state: ServingState,
    *,
    generation: int,
    auto_rollback: bool,
    history_limit: int,
    now: datetime,
) -> Step:
    """`target`: the version the model policy names now, or None when unknown (registry
    unreachable, nothing registered): then the Deployment keeps what it runs."""
    # Failures are remembered for this generation of the spec only: a spec change retries.
    remembered = {*state.failed, *(deployment.failed if deployment else ())}
    failed = [item for item in remembered if item.generation == generation]
    rollouts = list(state.rollouts)
    serving = state.serving_version
    events: list[Event] = []
    failed_rollout: Rollout | None = None
    deployed = deployment.version if deployment else None
    current = rollouts[0] if rollouts and rollouts[0].result is Result.IN_PROGRESS else None

    if (
        deployed is not None
        and deployed != serving
        and (current is None or current.to_version != deployed)
    ):
        # The Deployment runs a version no rollout in status accounts for: a status write was
        # lost after the patch. Record it now; its progress is read from the Deployment.
        if current is not None:
            rollouts[0] = current.ended(Result.SUPERSEDED, now, f"superseded by version {deployed}")
        current = Rollout(deployed, serving, now)
        events.append(Event("RolloutStarted", f"rolling out version {deployed} (recorded late)"))
        rollouts.insert(0, current)

    if current is not None and deployment is not None and deployed == current.to_version:
        if deployment.rolled_out:
            rollouts[0] = current.ended(Result.SUCCEEDED, now)
            serving, current = current.to_version, None
            events.append(Event("RolloutSucceeded", f"every scorer pod serves version {serving}"))
        elif deployment.stalled:
            failed.append(FailedVersion(current.to_version, generation))
            why = f"version {current.to_version} was not Ready within the progress deadline"
            if auto_rollback and current.from_version is not None:
                ended = current.ended(
                    Result.ROLLED_BACK, now, f"{why}; rolled back to {current.from_version}"
                )
                events.append(Event("RolloutFailed", f"{why}; rolling back", warning=True))
                events.append(
                    Event("RollbackStarted", f"rolling back to version {current.from_version}")
                )
            else:
                because = "autoRollback is off" if not auto_rollback else "no earlier version"
                ended = current.ended(Result.FAILED, now, f"{why}; not rolled back: {because}")
                events.append(Event("RolloutFailed", ended.message or why, warning=True))
            rollouts[0], current, failed_rollout = ended, None, ended

    blocked = {item.version for item in failed}
    if target is None:
        desired = deployed
    elif target in blocked:
        # The failed version stays out; with autoRollback the serving version returns.
        desired = serving if auto_rollback and serving is not None else deployed
    else:
        desired = target

    if current is not None and current.to_version != desired:
        # The rollout in progress is no longer wanted: its version failed before (the status
        # write after the rollback was lost), or the target moved on.
        if current.to_version in blocked:
            ended = current.ended(
                Result.ROLLED_BACK, now, f"version {current.to_version} failed before"
            )
        else:
            message = f"rollout of version {current.to_version} superseded by version {desired}"
            ended = current.ended(Result.SUPERSEDED, now, message)
            events.append(Event("RolloutSuperseded", message))
        rollouts[0], current = ended, None
    if desired is not None and desired not in (deployed, serving) and current is None:
        current = Rollout(desired, serving, now)
        rollouts.insert(0, current)
        source = f"from version {serving}" if serving else "first version"
        events.append(Event("RolloutStarted", f"rolling out version {desired} ({source})"))

    newest_first = tuple(rollouts[:history_limit])
    latest_finished = next((r for r in newest_first if r.result is not Result.IN_PROGRESS), None)
    return Step(
        deploy=desired,
        state=ServingState(serving, newest_first, tuple(sorted(set(failed), key=_order))),
        events=tuple(events),
        failed_rollout=failed_rollout,
        phase=_phase(desired, current, latest_finished),
        progressing=_progressing(deployment, current, latest_finished),
        degraded=_degraded(deployment, current, latest_finished),
    )


def _order(item: FailedVersion) -> tuple[int, str]:
    return (len(item.version), item.version)


def _phase(desired: str | None, current: Rollout | None, latest: Rollout | None) -> Phase:
    if current is not None:
        return Phase.ROLLING_OUT
    if desired is None:
        return Phase.PENDING
    if latest is not None and latest.result is Result.ROLLED_BACK:
        return Phase.ROLLED_BACK
    if latest is not None and latest.result is Result.FAILED:
        return Phase.FAILED
    return Phase.SERVING


def _progressing(
    deployment: ObservedDeployment | None, current: Rollout | None, latest: Rollout | None
) -> ConditionValue | None:
    if deployment is None:
        return None
    if deployment.stalled:
        return ConditionValue(
            False, "ProgressDeadlineExceeded", "the scorer's pods did not become Ready in time"
        )
    if deployment.rolled_out and current is None:
        return ConditionValue(False, "RolloutComplete", "every scorer pod is updated and available")
    if current is not None:
        return ConditionValue(True, "RollingOut", f"rolling out version {current.to_version}")
    if latest is not None and latest.result is Result.ROLLED_BACK:
        return ConditionValue(True, "RollingBack", f"rolling back to {latest.from_version}")
    return ConditionValue(True, "Updating", "the scorer's pods are being updated")


def _degraded(
    deployment: ObservedDeployment | None, current: Rollout | None, latest: Rollout | None
) -> ConditionValue:
    if latest is not None and latest.result in (Result.ROLLED_BACK, Result.FAILED):
        return ConditionValue(True, f"Rollout{latest.result}", latest.message or "")
    if deployment is not None and deployment.stalled and current is None:
        return ConditionValue(
            True, "ProgressDeadlineExceeded", "the scorer's pods did not become Ready in time"
        )
    return ConditionValue(False, "RolloutsSucceeding", "no failed rollout")
