"""Which failed runs are retried, when, and under which name."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from operator_samples import NOW, spec_with

from continuum_operator.core import api
from continuum_operator.training.retries import (
    MAX_RETRY_DELAY,
    failure_of,
    plan_retries,
    retry_delay,
)
from continuum_operator.training.runs import Failure, ObservedRun, RunRequest, RunTrigger
from continuum_workloads.dataset.batches import Batch

RETRY = spec_with(retry={"limit": 2, "backoff": "30s"}).retry
FIRST = RunRequest((RunTrigger.NEW_DATA,), (Batch("batch-0001", 100),))
SECOND = replace(FIRST, attempt=2)


def failed(request: RunRequest, at=NOW) -> ObservedRun:
    return ObservedRun(request.name("p", "ml"), request, "FAILED", "evicted", at, at)


def test_the_spec_defaults_to_two_retries_thirty_seconds_apart_doubling() -> None:
    assert (RETRY.limit, RETRY.backoff) == (2, timedelta(seconds=30))
    assert spec_with().retry == RETRY
    assert [retry_delay(RETRY, attempt) for attempt in (1, 2, 3)] == [
        timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120),
    ]  # fmt: skip


def test_the_delay_is_clamped_before_doubling_whatever_the_attempt() -> None:
    assert retry_delay(RETRY, 1_000_000) == MAX_RETRY_DELAY
    long = spec_with(retry={"backoff": "10h"}).retry
    assert retry_delay(long, 50) == timedelta(hours=10)


@pytest.mark.parametrize(
    ("attempted", "data_error", "expected"),
    [
        (FIRST, True, Failure.DATA_ERROR),
        (FIRST, False, Failure.TRANSIENT),
        (replace(FIRST, attempt=2), False, Failure.TRANSIENT),
        (replace(FIRST, attempt=3), False, Failure.RETRY_LIMIT),  # two retries failed as well
        (replace(FIRST, attempt=3), True, Failure.DATA_ERROR),
    ],
)
def test_only_a_data_error_or_the_limit_ends_the_retries(
    attempted: RunRequest, data_error: bool, expected: Failure
) -> None:
    assert failure_of(failed(attempted), data_error=data_error, retry=RETRY) is expected


def test_a_transient_failure_is_retried_after_the_backoff_as_the_same_work() -> None:
    run = failed(FIRST)
    failures = {run.name: Failure.TRANSIENT}

    waiting = plan_retries(RETRY, [run], failures, NOW + timedelta(seconds=10))
    due = plan_retries(RETRY, [run], failures, NOW + timedelta(seconds=30))

    assert waiting.due == () and waiting.next_due == NOW + timedelta(seconds=30)
    assert due.due == (SECOND,) and due.next_due is None
    assert waiting.awaiting == due.awaiting == {run.name}
    assert SECOND.batches == FIRST.batches and SECOND.triggers == FIRST.triggers
    assert SECOND.name("p", "ml") != FIRST.name("p", "ml")
    assert SECOND.annotations()[api.ATTEMPT_ANNOTATION] == "2"
    assert api.ATTEMPT_ANNOTATION not in FIRST.annotations()


def test_a_retry_already_started_is_not_started_again() -> None:
    run = failed(FIRST)
    retry = ObservedRun(SECOND.name("p", "ml"), SECOND, "RUNNING")

    plan = plan_retries(RETRY, [run, retry], {run.name: Failure.TRANSIENT}, NOW + RETRY.backoff)

    assert plan == plan_retries(RETRY, [], {}, NOW)
    assert plan.due == ()


@pytest.mark.parametrize("failure", [None, Failure.DATA_ERROR, Failure.RETRY_LIMIT])
def test_a_failure_that_is_not_transient_or_not_known_yet_is_not_retried(
    failure: Failure | None,
) -> None:
    run = failed(FIRST)
    failures = {} if failure is None else {run.name: failure}

    assert plan_retries(RETRY, [run], failures, NOW + timedelta(hours=1)).due == ()


def test_the_attempt_survives_the_round_trip_through_the_spark_application() -> None:
    body = {
        "metadata": {"name": SECOND.name("p", "ml"), "annotations": SECOND.annotations()},
        "status": {"applicationState": {"state": "FAILED"}},
    }

    assert ObservedRun.from_spark_application(body).request == SECOND
