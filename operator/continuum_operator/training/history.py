"""The pipeline's run history in status, kept in step with its SparkApplications, and the phase it
implies. The history outlives the SparkApplications: it is the record once they are pruned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from continuum_operator.core.times import EPOCH, format_time, parse_time
from continuum_operator.training.runs import (
    FINISHED_STATES,
    Failure,
    ObservedRun,
    RunState,
    error_summary,
)


class Phase(StrEnum):
    PENDING = "Pending"
    """No run yet."""
    TRAINING = "Training"
    RETRYING = "Retrying"
    """The last run failed for a transient reason; its retry starts after a backoff."""
    IDLE = "Idle"
    """The last run succeeded; waiting for data or a trigger."""
    FAILED = "Failed"
    """The last run failed; the current model keeps serving and new data still starts runs."""
    INVALID = "Invalid"


class Decision(StrEnum):
    PROMOTED = "Promoted"
    REJECTED = "Rejected"


@dataclass(frozen=True)
class Promotion:
    decision: Decision
    reason: str


@dataclass(frozen=True)
class RunRecord:
    name: str
    state: RunState
    triggers: tuple[str, ...] = ()
    batch_count: int = 0
    first_batch: str | None = None
    last_batch: str | None = None
    spark_state: str = ""
    attempt: int = 1
    failure: Failure | None = None
    message: str | None = None
    start_time: datetime | None = None
    finish_time: datetime | None = None
    mlflow_run_id: str | None = None
    model_version: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    promotion: Promotion | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def settled(self) -> bool:
        """Nothing left to learn from its SparkApplication: failed, or its outcome recorded."""
        return self.finished and (
            self.state is not RunState.SUCCEEDED or self.promotion is not None
        )

    def to_status(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "name": self.name,
            "state": str(self.state),
            "triggers": list(self.triggers),
            "batches": {
                "count": self.batch_count,
                "first": self.first_batch,
                "last": self.last_batch,
            },
            "sparkState": self.spark_state,
            "attempt": self.attempt,
            "failure": None if self.failure is None else str(self.failure),
            "message": self.message,
            "startTime": format_time(self.start_time) if self.start_time else None,
            "finishTime": format_time(self.finish_time) if self.finish_time else None,
            "mlflowRunId": self.mlflow_run_id,
            "modelVersion": self.model_version,
            "metrics": dict(self.metrics),
            "promotion": None
            if self.promotion is None
            else {"decision": str(self.promotion.decision), "reason": self.promotion.reason},
        }
        # Merge patches delete keys set to None; leaving them out keeps status minimal instead.
        return {key: value for key, value in raw.items() if value is not None}

    @classmethod
    def from_status(cls, raw: Mapping[str, Any]) -> RunRecord:
        batches = raw.get("batches") or {}
        promotion = raw.get("promotion")
        return cls(
            name=raw["name"],
            state=RunState(raw["state"]),
            triggers=tuple(raw.get("triggers") or ()),
            batch_count=int(batches.get("count") or 0),
            first_batch=batches.get("first"),
            last_batch=batches.get("last"),
            spark_state=raw.get("sparkState") or "",
            attempt=int(raw.get("attempt") or 1),
            failure=Failure(raw["failure"]) if raw.get("failure") in set(Failure) else None,
            message=raw.get("message"),
            start_time=parse_time(raw.get("startTime")),
            finish_time=parse_time(raw.get("finishTime")),
            mlflow_run_id=raw.get("mlflowRunId"),
            model_version=raw.get("modelVersion"),
            metrics={str(key): float(value) for key, value in (raw.get("metrics") or {}).items()},
            promotion=None
            if not promotion
            else Promotion(Decision(promotion["decision"]), promotion.get("reason") or ""),
        )


def _record_of(run: ObservedRun, known: RunRecord | None) -> RunRecord:
    batches = sorted(run.request.batches, key=lambda batch: batch.key)
    base = known or RunRecord(name=run.name, state=run.state)
    return replace(
        base,
        state=run.state,
        triggers=tuple(run.request.triggers),
        batch_count=len(batches),
        first_batch=batches[0].name if batches else None,
        last_batch=batches[-1].name if batches else None,
        spark_state=run.spark_state,
        attempt=run.request.attempt,
        # A failed run's message is settled once its failure is known (it may be the job's).
        message=base.message if base.failure else error_summary(run.error_message),
        start_time=base.start_time or run.created,
        finish_time=(run.terminated or base.finish_time) if run.finished else None,
    )


@dataclass(frozen=True)
class HistoryUpdate:
    history: tuple[RunRecord, ...]
    """Newest first: every run recorded or observed; `bounded` cuts it to what status keeps."""
    changed: tuple[RunRecord, ...]
    """Runs that are new or changed state: one Event each."""


def observe(
    history: Sequence[RunRecord], runs: Sequence[ObservedRun], *, now: datetime
) -> HistoryUpdate:
    """`runs` must be all of the pipeline's SparkApplications: an unfinished run missing from them
    was deleted, and is recorded as aborted."""
    known = {record.name: record for record in history}
    updated = {run.name: _record_of(run, known.get(run.name)) for run in runs}
    for record in history:
        if record.name not in updated:
            updated[record.name] = (
                record
                if record.finished
                else replace(
                    record,
                    state=RunState.ABORTED,
                    message="its SparkApplication was deleted before it finished",
                    finish_time=now,
                )
            )
    changed = tuple(
        record
        for name, record in updated.items()
        if name not in known or known[name].state is not record.state
    )
    newest_first = sorted(updated.values(), key=lambda r: r.start_time or EPOCH, reverse=True)
    return HistoryUpdate(history=tuple(newest_first), changed=changed)


def bounded(history: Sequence[RunRecord], limit: int) -> tuple[RunRecord, ...]:
    """What status keeps of a newest-first history: the newest `limit` finished runs, and every
    run not settled yet (in progress, or succeeded and waiting for its promotion decision)."""
    newest = [record.name for record in history if record.finished][:limit]
    return tuple(record for record in history if not record.settled or record.name in newest)


def with_outcome(
    history: Sequence[RunRecord],
    name: str,
    *,
    mlflow_run_id: str | None,
    model_version: str | None,
    metrics: Mapping[str, float],
    promotion: Promotion,
) -> tuple[RunRecord, ...]:
    """The history with a finished run's MLflow outcome and promotion decision recorded."""
    return tuple(
        replace(
            record,
            mlflow_run_id=mlflow_run_id,
            model_version=model_version,
            metrics=dict(metrics),
            promotion=promotion,
        )
        if record.name == name
        else record
        for record in history
    )


def with_failures(
    history: Sequence[RunRecord],
    failures: Mapping[str, Failure],
    reasons: Mapping[str, str] | None = None,
) -> tuple[RunRecord, ...]:
    """The history with the failure of each failed run in `failures` recorded, and the job's
    own reason (`reasons`: a data error's, from MLflow) as its message: the spark-operator only
    knows that the driver exited."""
    reasons = reasons or {}
    return tuple(
        replace(
            record,
            failure=failures[record.name],
            message=reasons.get(record.name, record.message),
        )
        if record.state is RunState.FAILED and record.name in failures
        else record
        for record in history
    )


def phase(history: Sequence[RunRecord]) -> Phase:
    if any(not record.finished for record in history):
        return Phase.TRAINING
    if not history:
        return Phase.PENDING
    if history[0].state is RunState.SUCCEEDED:
        return Phase.IDLE
    return Phase.RETRYING if history[0].failure is Failure.TRANSIENT else Phase.FAILED


def current_run(history: Sequence[RunRecord]) -> str | None:
    return next((record.name for record in history if not record.finished), None)


def last_model_version(history: Sequence[RunRecord]) -> str | None:
    return next((record.model_version for record in history if record.model_version), None)
