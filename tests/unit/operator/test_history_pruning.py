from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from operator_samples import NOW

from continuum_operator.training.history import Decision, Promotion, RunRecord, bounded, observe
from continuum_operator.training.pruning import spark_applications_to_delete
from continuum_operator.training.runs import ObservedRun, RunRequest, RunTrigger

DECIDED = Promotion(Decision.REJECTED, "worse than the champion")


def run(name: str, spark_state: str, started_minutes_ago: int) -> ObservedRun:
    created = NOW - timedelta(minutes=started_minutes_ago)
    finished = spark_state in {"COMPLETED", "FAILED"}
    return ObservedRun(
        name,
        RunRequest((RunTrigger.NEW_DATA,)),
        spark_state,
        created=created,
        terminated=created + timedelta(minutes=1) if finished else None,
    )


def decided(history: tuple[RunRecord, ...], *undecided: str) -> tuple[RunRecord, ...]:
    """The history once the promotion gate has decided every succeeded run but `undecided`."""
    return tuple(
        replace(record, promotion=DECIDED)
        if record.finished and record.promotion is None and record.name not in undecided
        else record
        for record in history
    )


RUNS = [
    run("running", "RUNNING", 0),
    run("newest", "COMPLETED", 10),
    run("failed", "FAILED", 20),
    run("older", "COMPLETED", 30),
    run("oldest", "COMPLETED", 40),
]


def test_finished_beyond_the_limit_are_deleted_oldest_first() -> None:
    history = decided(observe((), RUNS, now=NOW).history)
    assert spark_applications_to_delete(RUNS, history, limit=2) == ["oldest", "older"]


def test_runs_in_progress_are_never_deleted() -> None:
    history = decided(observe((), RUNS, now=NOW).history)
    assert "running" not in spark_applications_to_delete(RUNS, history, limit=0)


def test_nothing_to_delete_within_the_limit() -> None:
    history = decided(observe((), RUNS, now=NOW).history)
    assert spark_applications_to_delete(RUNS, history, limit=4) == []


def test_a_succeeded_run_is_kept_until_its_promotion_is_decided() -> None:
    history = decided(observe((), RUNS, now=NOW).history, "oldest")

    assert spark_applications_to_delete(RUNS, history, limit=1) == ["older", "failed"]
    assert "oldest" in {record.name for record in bounded(history, 1)}


def test_the_pass_that_pushes_a_run_out_of_the_history_deletes_its_spark_application() -> None:
    """Pass by pass as the controller runs them: the status of one pass is the next one's input."""
    first, second = run("first", "FAILED", 20), run("second", "RUNNING", 10)
    status = bounded(observe((), [first, second], now=NOW).history, 1)
    assert [record.name for record in status] == ["second", "first"]

    second = replace(second, spark_state="FAILED", terminated=NOW)
    history = observe(status, [first, second], now=NOW).history

    assert spark_applications_to_delete([first, second], history, limit=1) == ["first"]
    assert [record.name for record in bounded(history, 1)] == ["second"]


def test_a_failed_run_awaiting_its_retry_is_kept_whatever_the_limit() -> None:
    history = decided(observe((), RUNS, now=NOW).history)

    assert spark_applications_to_delete(RUNS, history, limit=0, keep={"failed"}) == [
        "oldest", "older", "newest",
    ]  # fmt: skip
