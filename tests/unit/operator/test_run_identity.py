from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from continuum_operator.core import api
from continuum_operator.training.runs import (
    ObservedRun,
    RunRequest,
    RunState,
    RunTrigger,
    run_state,
)
from continuum_workloads.dataset.batches import Batch

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
B1, B2 = Batch("batch-0001", 100), Batch("batch-0002", 200)


def test_name_is_deterministic_and_names_the_newest_batch() -> None:
    request = RunRequest((RunTrigger.NEW_DATA,), (B2, B1))

    assert request.name("used-cars", "ml") == RunRequest((RunTrigger.NEW_DATA,), (B1, B2)).name(
        "used-cars", "ml"
    )
    assert request.name("used-cars", "ml").startswith("used-cars-batch-0002-")


@pytest.mark.parametrize(
    "other",
    [
        RunRequest((RunTrigger.NEW_DATA,), (B1,)),
        RunRequest((RunTrigger.NEW_DATA,), (B1, B2), retrain_token="2"),
        RunRequest((RunTrigger.NEW_DATA,), (B1, B2), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_different_work_gets_a_different_name(other: RunRequest) -> None:
    assert other.name("p", "ml") != RunRequest((RunTrigger.NEW_DATA,), (B1, B2)).name("p", "ml")


def test_same_work_in_another_pipeline_gets_another_name() -> None:
    request = RunRequest((RunTrigger.NEW_DATA,), (B1,))

    assert request.name("a", "ml") != request.name("b", "ml")


def test_a_pipeline_of_the_same_name_in_another_namespace_gets_another_name() -> None:
    request = RunRequest((RunTrigger.NEW_DATA,), (B1,))

    assert request.name("used-cars", "team-a") != request.name("used-cars", "team-b")


@pytest.mark.parametrize(
    "pipeline", ["x" * 253, "9lives", "team.used-cars.v2", "a" * 60 + "-" + "b" * 10]
)
def test_name_is_a_dns_label_of_at_most_63_characters(pipeline: str) -> None:
    name = RunRequest((RunTrigger.NEW_DATA,), (Batch("Batch_0001.CSV", 1),)).name(pipeline, "ml")

    assert len(name) <= 63
    assert DNS_LABEL.match(name), name


def test_run_without_batches_is_named_after_its_trigger() -> None:
    request = RunRequest((RunTrigger.SCHEDULE,), schedule_time=datetime(2026, 1, 1, tzinfo=UTC))

    assert request.name("used-cars", "ml").startswith("used-cars-schedule-")


def test_observed_run_reads_back_what_the_request_wrote() -> None:
    request = RunRequest(
        (RunTrigger.NEW_DATA, RunTrigger.MANUAL),
        (B1, B2),
        schedule_time=datetime(2026, 1, 1, 3, tzinfo=UTC),
        retrain_token="again",
    )
    body = {
        "metadata": {
            "name": "used-cars-x",
            "annotations": request.annotations(),
            "creationTimestamp": "2026-01-01T03:00:05Z",
        },
        "status": {
            "applicationState": {"state": "FAILED", "errorMessage": "driver failed"},
            "terminationTime": "2026-01-01T03:10:00Z",
        },
    }

    run = ObservedRun.from_spark_application(body)

    assert run.request == request
    assert run.state is RunState.FAILED
    assert run.finished
    assert run.error_message == "driver failed"
    assert run.created == datetime(2026, 1, 1, 3, 0, 5, tzinfo=UTC)
    assert run.terminated == datetime(2026, 1, 1, 3, 10, tzinfo=UTC)


def test_fresh_spark_application_without_status_is_pending() -> None:
    run = ObservedRun.from_spark_application(
        {"metadata": {"name": "x", "annotations": {api.TRIGGERS_ANNOTATION: "NewData,Bogus"}}}
    )

    assert run.state is RunState.PENDING
    assert not run.finished
    assert run.request.triggers == (RunTrigger.NEW_DATA,)
    assert run.request.batches == ()


@pytest.mark.parametrize(
    ("spark_state", "expected"),
    [
        ("", RunState.PENDING),
        (None, RunState.PENDING),
        ("SUBMITTED", RunState.PENDING),
        ("SUBMISSION_FAILED", RunState.PENDING),
        ("RUNNING", RunState.RUNNING),
        ("SUCCEEDING", RunState.RUNNING),
        ("FAILING", RunState.RUNNING),
        ("INVALIDATING", RunState.RUNNING),
        ("COMPLETED", RunState.SUCCEEDED),
        ("FAILED", RunState.FAILED),
        ("SOME_FUTURE_STATE", RunState.RUNNING),
    ],
)
def test_spark_state_mapping(spark_state: str | None, expected: RunState) -> None:
    assert run_state(spark_state) is expected
