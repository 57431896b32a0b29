"""Retries of runs that failed for a transient reason: which failure a failed run had, and which
retries are due.

A retry is the same work as the run it repeats (same batches, triggers, tick and token) at the next
attempt, so its name is as deterministic as a first run's: a retry is started once, whatever the
restarts. It waits `spec.retry.backoff` after the failure, twice as long after each further one.
Only the job tells a data error from a transient failure (a tag on its MLflow run); a run that left
no MLflow run (its driver never started, or was evicted first) failed transiently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from continuum_operator.training.runs import Failure, ObservedRun, RunRequest, RunState
from continuum_operator.training.spec import Retry

MAX_RETRY_DELAY = timedelta(hours=6)
"""Doubling stops here: the tenth retry of a 1h backoff does not wait three weeks."""


def failure_of(run: ObservedRun, *, data_error: bool, retry: Retry) -> Failure:
    if data_error:
        return Failure.DATA_ERROR
    return Failure.TRANSIENT if run.request.attempt <= retry.limit else Failure.RETRY_LIMIT


def retry_delay(retry: Retry, attempt: int) -> timedelta:
    """How long the retry of failed attempt `attempt` waits after the failure."""
    # Clamped before doubling: 2**attempt stays small whatever the attempt says.
    doublings = min(attempt - 1, 30)
    return min(retry.backoff * 2**doublings, max(MAX_RETRY_DELAY, retry.backoff))


@dataclass(frozen=True)
class RetryPlan:
    due: tuple[RunRequest, ...] = ()
    """Retries to start now, oldest failure first."""
    next_due: datetime | None = None
    """When the next retry that is not due yet will be."""
    awaiting: frozenset[str] = frozenset()
    """Failed runs whose retry has not started yet."""


def plan_retries(
    retry: Retry, runs: Sequence[ObservedRun], failures: Mapping[str, Failure], now: datetime
) -> RetryPlan:
    """`runs`: the pipeline's SparkApplications; `failures`: the failure of each failed one that
    is known (a failure not known yet is retried, if at all, once it is)."""
    started = {run.request for run in runs}
    due: list[tuple[datetime, RunRequest]] = []
    later: list[datetime] = []
    awaiting: set[str] = set()
    for run in runs:
        if run.state is not RunState.FAILED or failures.get(run.name) is not Failure.TRANSIENT:
            continue
        request = replace(run.request, attempt=run.request.attempt + 1)
        if request in started:
            continue
        awaiting.add(run.name)
        failed_at = run.terminated or run.created or now
        at = failed_at + retry_delay(retry, run.request.attempt)
        if at <= now:
            due.append((at, request))
        else:
            later.append(at)
    return RetryPlan(
        tuple(request for _, request in sorted(due, key=lambda item: item[0])),
        min(later, default=None),
        frozenset(awaiting),
    )
