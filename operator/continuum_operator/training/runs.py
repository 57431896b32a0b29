"""A training run: what it is started for, its deterministic name, and what its SparkApplication
says about it.

The run's name is its SparkApplication's name and its id in MLflow. It derives only from the
pipeline (namespace and name) and what the run consumes (batches, schedule tick, retrain token), so
planning the same run twice, after a retry or an operator restart, yields the same name and the API
server refuses the duplicate, while pipelines of one name in two namespaces never share a run id
in an MLflow server they share.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from continuum_operator.core import api
from continuum_operator.core.times import format_time, parse_time
from continuum_workloads.dataset.batches import Batch

MAX_NAME_LENGTH = 63
"""The SparkApplication name becomes a label value and a Service name prefix."""
_HASH_LENGTH = 8
_NOT_IN_NAME = re.compile(r"[^a-z0-9-]+")


class RunTrigger(StrEnum):
    NEW_DATA = "NewData"
    SCHEDULE = "Schedule"
    MANUAL = "Manual"


_TRIGGERS = frozenset(RunTrigger)


class RunState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABORTED = "Aborted"
    """Its SparkApplication disappeared before finishing: replaced, or deleted by someone."""


class Failure(StrEnum):
    """Why a failed run failed, which decides whether it is started again."""

    DATA_ERROR = "DataError"
    """The job found its data unusable: a retry would fail the same way; its batches failed."""
    TRANSIENT = "Transient"
    """Anything else (MLflow or HDFS down, the driver evicted): retried after a backoff."""
    RETRY_LIMIT = "RetryLimit"
    """Transient, but no retry is left: its batches failed."""


FINISHED_STATES = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.ABORTED})

# Only COMPLETED and FAILED are terminal for the spark-operator; SUBMISSION_FAILED and FAILING may
# still be retried by its restart policy, so they are not failures yet.
_SPARK_STATES = {
    "": RunState.PENDING,
    "SUBMITTED": RunState.PENDING,
    "SUBMISSION_FAILED": RunState.PENDING,
    "PENDING_RERUN": RunState.PENDING,
    "SUSPENDING": RunState.PENDING,
    "SUSPENDED": RunState.PENDING,
    "RESUMING": RunState.PENDING,
    "RUNNING": RunState.RUNNING,
    "SUCCEEDING": RunState.RUNNING,
    "FAILING": RunState.RUNNING,
    "INVALIDATING": RunState.RUNNING,
    "UNKNOWN": RunState.RUNNING,
    "COMPLETED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
}


def run_state(spark_state: str | None) -> RunState:
    """A spark-operator `applicationState.state` as a run state; states added by a later
    spark-operator count as running, so they never end a run early."""
    return _SPARK_STATES.get(spark_state or "", RunState.RUNNING)


@dataclass(frozen=True)
class RunRequest:
    """What a run is started for."""

    triggers: tuple[RunTrigger, ...]
    batches: tuple[Batch, ...] = ()
    schedule_time: datetime | None = None
    retrain_token: str | None = None
    attempt: int = 1
    """1, then one more for each retry of the same work."""

    def name(self, pipeline: str, namespace: str) -> str:
        work = [
            namespace,
            pipeline,
            sorted(batch.name for batch in self.batches),
            None if self.schedule_time is None else format_time(self.schedule_time),
            self.retrain_token,
        ]
        # A retry is a run of its own, named as deterministically as the first attempt.
        identity = json.dumps(work if self.attempt == 1 else [*work, self.attempt])
        digest = hashlib.sha256(identity.encode()).hexdigest()[:_HASH_LENGTH]
        newest = max(self.batches, key=lambda batch: batch.key).name if self.batches else None
        label = newest or "-".join(self.triggers) or "run"
        readable = _NOT_IN_NAME.sub("-", f"{pipeline}-{label}".lower())
        readable = readable[: MAX_NAME_LENGTH - _HASH_LENGTH - 1].strip("-")
        if not readable[:1].isalpha():
            # A Service name (the driver's UI service) must start with a letter.
            readable = f"r-{readable}"[: MAX_NAME_LENGTH - _HASH_LENGTH - 1].rstrip("-")
        return f"{readable}-{digest}"

    def annotations(self) -> dict[str, str]:
        annotations = {
            api.BATCHES_ANNOTATION: json.dumps([batch.to_dict() for batch in self.batches]),
            api.TRIGGERS_ANNOTATION: ",".join(self.triggers),
        }
        if self.schedule_time is not None:
            annotations[api.SCHEDULE_TIME_ANNOTATION] = format_time(self.schedule_time)
        if self.retrain_token is not None:
            annotations[api.RETRAIN_TOKEN_ANNOTATION] = self.retrain_token
        if self.attempt > 1:
            annotations[api.ATTEMPT_ANNOTATION] = str(self.attempt)
        return annotations


MESSAGE_LIMIT = 500
"""Characters of a run's message kept in status: a failed submission's message is the whole
output of spark-submit, stack traces included."""
_CAUSE_LINE = re.compile(r"^(Exception in thread|Caused by:|\S+(Exception|Error)\b)")


def error_summary(message: str | None) -> str | None:
    """The spark-operator's error message in one bounded line: its first line, and the first line
    of the output that names an exception (the cause of a failed spark-submit)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return None
    cause = next((line for line in lines[1:] if _CAUSE_LINE.match(line)), None)
    summary = f"{lines[0]} … {cause}" if cause else lines[0]
    return summary if len(summary) <= MESSAGE_LIMIT else f"{summary[: MESSAGE_LIMIT - 1]}…"


@dataclass(frozen=True)
class ObservedRun:
    """A run as its SparkApplication shows it."""

    name: str
    request: RunRequest
    spark_state: str
    error_message: str | None = None
    created: datetime | None = None
    terminated: datetime | None = None

    @property
    def state(self) -> RunState:
        return run_state(self.spark_state)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @classmethod
    def from_spark_application(cls, body: Mapping[str, Any]) -> ObservedRun:
        metadata = body.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        status = body.get("status") or {}
        application_state = status.get("applicationState") or {}
        triggers = annotations.get(api.TRIGGERS_ANNOTATION, "")
        request = RunRequest(
            # Skips what this operator does not know, rather than failing on a hand-edited value.
            triggers=tuple(RunTrigger(item) for item in triggers.split(",") if item in _TRIGGERS),
            batches=tuple(
                Batch.from_dict(item)
                for item in json.loads(annotations.get(api.BATCHES_ANNOTATION) or "[]")
            ),
            schedule_time=parse_time(annotations.get(api.SCHEDULE_TIME_ANNOTATION)),
            retrain_token=annotations.get(api.RETRAIN_TOKEN_ANNOTATION),
            attempt=_attempt(annotations.get(api.ATTEMPT_ANNOTATION)),
        )
        return cls(
            name=metadata["name"],
            request=request,
            spark_state=application_state.get("state") or "",
            error_message=application_state.get("errorMessage") or None,
            created=parse_time(metadata.get("creationTimestamp")),
            terminated=parse_time(status.get("terminationTime")),
        )


def _attempt(text: str | None) -> int:
    """The attempt annotation's value; a missing or hand-edited one counts as a first attempt."""
    return int(text) if text and text.isdigit() and int(text) >= 1 else 1
