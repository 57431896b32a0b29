from __future__ import annotations

from datetime import timedelta

from operator_samples import NOW

from continuum_operator.training.history import (
    Decision,
    Phase,
    Promotion,
    RunRecord,
    bounded,
    current_run,
    last_model_version,
    observe,
    phase,
    with_failures,
    with_outcome,
)
from continuum_operator.training.runs import (
    MESSAGE_LIMIT,
    Failure,
    ObservedRun,
    RunRequest,
    RunState,
    RunTrigger,
    error_summary,
)
from continuum_workloads.dataset.batches import Batch


def run(name: str, spark_state: str, minutes_ago: int, *, error: str | None = None) -> ObservedRun:
    created = NOW - timedelta(minutes=minutes_ago)
    return ObservedRun(
        name,
        RunRequest((RunTrigger.NEW_DATA,), (Batch("b2", 2), Batch("b1", 1))),
        spark_state,
        error_message=error,
        created=created,
        terminated=created + timedelta(minutes=1)
        if spark_state in {"COMPLETED", "FAILED"}
        else None,
    )


def test_new_run_enters_the_history_and_is_reported_as_changed() -> None:
    update = observe((), [run("r1", "SUBMITTED", 5)], now=NOW)

    (record,) = update.history
    assert record.name == "r1"
    assert record.state is RunState.PENDING
    assert (record.batch_count, record.first_batch, record.last_batch) == (2, "b1", "b2")
    assert record.start_time == NOW - timedelta(minutes=5)
    assert record.finish_time is None
    assert update.changed == (record,)


def test_state_change_is_reported_once() -> None:
    first = observe((), [run("r1", "RUNNING", 5)], now=NOW)

    same = observe(first.history, [run("r1", "RUNNING", 5)], now=NOW)
    failed = observe(first.history, [run("r1", "FAILED", 5, error="ExitCode: 1")], now=NOW)

    assert same.changed == ()
    (record,) = failed.changed
    assert record.state is RunState.FAILED
    assert record.message == "ExitCode: 1"
    assert record.finish_time == NOW - timedelta(minutes=4)


def test_outcome_survives_later_observations_and_pruning_of_the_application() -> None:
    done = observe((), [run("r1", "COMPLETED", 5)], now=NOW).history
    promoted = Promotion(Decision.PROMOTED, "first model")
    recorded = with_outcome(
        done,
        "r1",
        mlflow_run_id="abc",
        model_version="3",
        metrics={"rmse": 1.5},
        promotion=promoted,
    )

    again = observe(recorded, [run("r1", "COMPLETED", 5)], now=NOW).history
    pruned = observe(recorded, [], now=NOW).history

    for history in (again, pruned):
        (record,) = history
        assert record.model_version == "3"
        assert record.promotion == promoted
        assert record.state is RunState.SUCCEEDED


def test_unfinished_run_whose_application_vanished_is_aborted() -> None:
    running = observe((), [run("r1", "RUNNING", 5)], now=NOW).history

    update = observe(running, [], now=NOW)

    (record,) = update.history
    assert record.state is RunState.ABORTED
    assert record.finish_time == NOW
    assert update.changed == (record,)


def test_history_is_newest_first_and_bounded_but_keeps_every_unsettled_run() -> None:
    runs = [run(f"failed-{i}", "FAILED", 100 - i) for i in range(6)]
    runs += [run("old-but-running", "RUNNING", 500), run("old-undecided", "COMPLETED", 400)]

    history = observe((), runs, now=NOW).history

    assert [record.name for record in history][:3] == ["failed-5", "failed-4", "failed-3"]
    assert [record.name for record in bounded(history, 2)] == [
        "failed-5", "failed-4", "old-undecided", "old-but-running",
    ]  # fmt: skip


def test_phase_and_summaries() -> None:
    ok = RunRecord("ok", RunState.SUCCEEDED, model_version="7", start_time=NOW)
    bad = RunRecord("bad", RunState.FAILED, start_time=NOW + timedelta(minutes=1))
    busy = RunRecord("busy", RunState.RUNNING)

    assert phase(()) is Phase.PENDING
    assert phase((ok,)) is Phase.IDLE
    assert phase((bad, ok)) is Phase.FAILED
    assert phase((busy, bad, ok)) is Phase.TRAINING
    for failure, expected in [
        (Failure.TRANSIENT, Phase.RETRYING),
        (Failure.RETRY_LIMIT, Phase.FAILED),
        (Failure.DATA_ERROR, Phase.FAILED),
    ]:
        assert phase(with_failures((bad, ok), {"bad": failure})) is expected
    assert current_run((busy, bad, ok)) == "busy"
    assert current_run((bad, ok)) is None
    assert last_model_version((busy, bad, ok)) == "7"


def test_settled_only_once_the_outcome_is_known() -> None:
    assert not RunRecord("r", RunState.RUNNING).settled
    assert not RunRecord("r", RunState.SUCCEEDED).settled
    assert RunRecord("r", RunState.FAILED).settled
    assert RunRecord("r", RunState.SUCCEEDED, promotion=Promotion(Decision.REJECTED, "")).settled


def test_record_status_round_trip_leaves_unset_fields_out() -> None:
    record = RunRecord(
        "r1",
        RunState.SUCCEEDED,
        triggers=("NewData",),
        batch_count=2,
        first_batch="b1",
        last_batch="b2",
        spark_state="COMPLETED",
        start_time=NOW,
        finish_time=NOW + timedelta(minutes=3),
        mlflow_run_id="abc",
        model_version="4",
        metrics={"rmse": 1.25},
        promotion=Promotion(Decision.PROMOTED, "better"),
    )
    failed = RunRecord("r3", RunState.FAILED, attempt=2, failure=Failure.TRANSIENT)

    raw = record.to_status()

    assert raw["promotion"] == {"decision": "Promoted", "reason": "better"}
    assert raw["startTime"] == "2026-03-02T12:00:00Z"
    assert RunRecord.from_status(raw) == record
    assert failed.to_status()["failure"] == "Transient"
    assert RunRecord.from_status(failed.to_status()) == failed
    assert set(RunRecord("r2", RunState.PENDING).to_status()) == {
        "name",
        "state",
        "triggers",
        "batches",
        "sparkState",
        "attempt",
        "metrics",
    }


SUBMISSION_FAILED = """failed to submit spark application: failed to run spark-submit: WARNING: x
26/12/03 23:06:26 WARN NativeCodeLoader: Unable to load native-hadoop library
Exception in thread "main" io.fabric8.KubernetesClientException: networkpolicies is forbidden
\tat io.fabric8.kubernetes.client.KubernetesClientException.copyAsCause(X.java:205)
Caused by: java.net.UnknownHostException: later cause
"""


def test_a_failed_submission_s_output_is_summed_up_in_one_bounded_line() -> None:
    summary = error_summary(SUBMISSION_FAILED)
    assert summary == (
        "failed to submit spark application: failed to run spark-submit: WARNING: x … "
        'Exception in thread "main" io.fabric8.KubernetesClientException: networkpolicies is '
        "forbidden"
    )
    assert error_summary("driver container failed with ExitCode: 1, Reason: Error") == (
        "driver container failed with ExitCode: 1, Reason: Error"
    )
    assert error_summary(None) is None
    assert len(error_summary("x" * 5000) or "") == MESSAGE_LIMIT


def test_a_data_error_shows_the_job_s_reason_and_keeps_it_on_later_passes() -> None:
    failed = run("r", "FAILED", 5, error="driver container failed with ExitCode: 1, Reason: Error")
    [seen] = observe((), (failed,), now=NOW).history
    assert seen.message == "driver container failed with ExitCode: 1, Reason: Error"

    [recorded] = with_failures(
        (seen,), {"r": Failure.DATA_ERROR}, {"r": "no 'price' column in the batch"}
    )
    assert (recorded.failure, recorded.message) == (
        Failure.DATA_ERROR,
        "no 'price' column in the batch",
    )
    # The next pass observes the same SparkApplication: the reason stays.
    [again] = with_failures(
        observe((recorded,), (failed,), now=NOW).history, {"r": Failure.DATA_ERROR}
    )
    assert again.message == "no 'price' column in the batch"
