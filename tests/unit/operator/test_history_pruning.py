from __future__ import annotations

from datetime import timedelta

from continuum_operator.pruning import spark_applications_to_delete
from continuum_operator.runs import ObservedRun, RunRequest, RunTrigger
from operator_samples import NOW


def run(name: str, spark_state: str, finished_minutes_ago: int) -> ObservedRun:
    finished = NOW - timedelta(minutes=finished_minutes_ago)
    return ObservedRun(
        name,
        RunRequest((RunTrigger.NEW_DATA,)),
        spark_state,
        created=finished - timedelta(minutes=10),
        terminated=finished if spark_state in {"COMPLETED", "FAILED"} else None,
    )


RUNS = [
    run("newest", "COMPLETED", 1),
    run("failed", "FAILED", 2),
    run("older", "COMPLETED", 3),
    run("oldest", "COMPLETED", 4),
    run("running", "RUNNING", 0),
]
ALL = {r.name for r in RUNS}


def test_finished_beyond_the_limit_are_deleted_oldest_first() -> None:
    assert spark_applications_to_delete(RUNS, limit=2, settled=ALL) == ["oldest", "older"]


def test_runs_in_progress_are_never_deleted() -> None:
    assert "running" not in spark_applications_to_delete(RUNS, limit=0, settled=ALL)


def test_nothing_to_delete_within_the_limit() -> None:
    assert spark_applications_to_delete(RUNS, limit=4, settled=ALL) == []


def test_unsettled_runs_are_kept_until_their_outcome_is_recorded() -> None:
    assert spark_applications_to_delete(RUNS, limit=1, settled={"failed", "oldest"}) == [
        "oldest",
        "failed",
    ]
