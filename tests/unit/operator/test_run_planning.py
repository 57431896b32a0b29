from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from operator_samples import NOW, spec_with

from continuum_operator.training.planning import PipelineState, Plan, plan_run
from continuum_operator.training.runs import ObservedRun, RunRequest, RunTrigger
from continuum_operator.training.spec import TrainingPipelineSpec
from continuum_workloads.dataset.batches import Batch

B1, B2, B3 = Batch("batch-0001", 100), Batch("batch-0002", 200), Batch("batch-0003", 300)
CREATED = NOW - timedelta(days=1)


def observed(request: RunRequest, spark_state: str = "RUNNING") -> ObservedRun:
    return ObservedRun(request.name("used-cars", "ml"), request, spark_state, created=CREATED)


def plan(
    spec: TrainingPipelineSpec | None = None,
    *,
    state: PipelineState | None = None,
    batches: Sequence[Batch] = (),
    runs: Sequence[ObservedRun] = (),
    retrain: str | None = None,
    now: datetime = NOW,
) -> Plan:
    return plan_run(
        spec or spec_with(),
        state=state or PipelineState(),
        complete_batches=batches,
        runs=runs,
        retrain_annotation=retrain,
        created=CREATED,
        now=now,
    )


def test_nothing_to_do_without_data_or_trigger() -> None:
    result = plan()

    assert result.start is None
    assert result.delete == ()
    assert result.state == PipelineState()


def test_new_batches_start_one_run_for_all_of_them() -> None:
    result = plan(batches=[B2, B1])

    assert result.start == RunRequest((RunTrigger.NEW_DATA,), (B2, B1))
    assert result.state.processed.contains(B1)
    assert result.state.processed.contains(B2)


def test_planning_twice_from_the_same_observation_names_the_same_run() -> None:
    first, second = plan(batches=[B1, B2]), plan(batches=[B1, B2])

    assert first.start is not None and second.start is not None
    assert first.start.name("used-cars", "ml") == second.start.name("used-cars", "ml")


def test_forbid_waits_for_the_run_in_progress_and_keeps_the_batches_pending() -> None:
    running = observed(RunRequest((RunTrigger.NEW_DATA,), (B1,)))

    result = plan(state=PipelineState().absorb([running.request]), batches=[B2], runs=[running])

    assert result.start is None
    assert result.waiting_for == (running.name,)
    assert not result.state.processed.contains(B2)


def test_forbid_coalesces_batches_that_arrived_during_a_run_into_one_run() -> None:
    done = observed(RunRequest((RunTrigger.NEW_DATA,), (B1,)), "COMPLETED")
    state = PipelineState().absorb([done.request])

    result = plan(state=state, batches=[B2, B3], runs=[done])

    assert result.start is not None
    assert set(result.start.batches) == {B2, B3}
    assert result.waiting_for == ()


def test_run_created_before_a_crash_is_not_started_again() -> None:
    # The SparkApplication exists but its start never reached the status.
    created_earlier = observed(RunRequest((RunTrigger.NEW_DATA,), (B1,)), "SUBMITTED")

    for policy in ("Forbid", "Allow", "Replace"):
        result = plan(spec_with(concurrencyPolicy=policy), batches=[B1], runs=[created_earlier])

        assert result.start is None, policy
        assert result.state.processed.contains(B1), policy


def test_replace_deletes_the_run_in_progress_and_carries_its_batches_over() -> None:
    running = observed(RunRequest((RunTrigger.NEW_DATA,), (B1,)))

    result = plan(
        spec_with(concurrencyPolicy="Replace"),
        state=PipelineState().absorb([running.request]),
        batches=[B2],
        runs=[running],
    )

    assert result.delete == (running.name,)
    assert result.start is not None
    assert result.start.batches == (B1, B2)
    assert result.start.name("used-cars", "ml") != running.name


def test_allow_starts_alongside_with_only_the_new_batches() -> None:
    running = observed(RunRequest((RunTrigger.NEW_DATA,), (B1,)))

    result = plan(
        spec_with(concurrencyPolicy="Allow"),
        state=PipelineState().absorb([running.request]),
        batches=[B2],
        runs=[running],
    )

    assert result.delete == ()
    assert result.start is not None
    assert result.start.batches == (B2,)


def test_finished_runs_do_not_hold_back_forbid() -> None:
    failed = observed(RunRequest((RunTrigger.NEW_DATA,), (B1,)), "FAILED")

    result = plan(batches=[B2], runs=[failed])

    assert result.start is not None
    assert result.start.batches == (B2,)


def test_without_on_new_data_batches_wait_for_the_schedule() -> None:
    spec = spec_with(trigger={"onNewData": False, "schedule": "0 3 * * *"})
    before_tick = datetime(2026, 3, 2, 2, 59, tzinfo=UTC)
    state = PipelineState(last_schedule_time=datetime(2026, 3, 1, 3, tzinfo=UTC))

    waiting = plan(spec, state=state, batches=[B1], now=before_tick)
    due = plan(spec, state=state, batches=[B1], now=datetime(2026, 3, 2, 3, 1, tzinfo=UTC))

    assert waiting.start is None
    assert not waiting.state.processed.contains(B1)
    assert due.start == RunRequest(
        (RunTrigger.SCHEDULE,), (B1,), schedule_time=datetime(2026, 3, 2, 3, tzinfo=UTC)
    )


def test_schedule_tick_runs_once() -> None:
    spec = spec_with(trigger={"schedule": "0 * * * *"})

    first = plan(spec)
    again = plan(spec, state=first.state)

    assert first.start is not None
    assert first.start.triggers == (RunTrigger.SCHEDULE,)
    assert first.start.schedule_time == NOW
    assert first.state.last_schedule_time == NOW
    assert again.start is None


def test_no_tick_is_due_from_before_the_pipeline_existed() -> None:
    spec = spec_with(trigger={"schedule": "0 0 1 1 *"})  # yearly, last tick long before CREATED

    assert plan(spec).start is None


def test_schedule_tick_consumed_by_an_observed_run_is_not_due_again() -> None:
    spec = spec_with(trigger={"schedule": "0 * * * *"})
    run = observed(RunRequest((RunTrigger.SCHEDULE,), schedule_time=NOW), "COMPLETED")

    result = plan(spec, runs=[run])

    assert result.start is None
    assert result.state.last_schedule_time == NOW


def test_new_retrain_annotation_value_starts_a_manual_run_once() -> None:
    first = plan(retrain="2026-03-02T12:00")
    again = plan(state=first.state, retrain="2026-03-02T12:00")
    newer = plan(state=first.state, retrain="2026-03-02T13:00")

    assert first.start == RunRequest((RunTrigger.MANUAL,), retrain_token="2026-03-02T12:00")
    assert again.start is None
    assert newer.start is not None
    assert newer.start.retrain_token == "2026-03-02T13:00"


def test_retrain_consumed_by_an_older_observed_run_is_recognised_whatever_the_order() -> None:
    older = observed(RunRequest((RunTrigger.MANUAL,), retrain_token="a"), "COMPLETED")
    newer = observed(RunRequest((RunTrigger.MANUAL,), retrain_token="b"), "COMPLETED")

    result = plan(runs=[newer, older], retrain="b")

    assert result.start is None
    assert result.state.last_retrain_token == "b"


def test_triggers_together_make_one_run() -> None:
    spec = spec_with(trigger={"schedule": "0 * * * *"})

    result = plan(spec, batches=[B1], retrain="now")

    assert result.start is not None
    assert result.start.triggers == (RunTrigger.NEW_DATA, RunTrigger.SCHEDULE, RunTrigger.MANUAL)
    assert result.start.batches == (B1,)


def test_state_status_round_trip() -> None:
    state = PipelineState().absorb(
        [RunRequest((RunTrigger.SCHEDULE,), (B1, B2), schedule_time=NOW, retrain_token="t")]
    )

    raw = state.to_status()

    assert raw["lastScheduleTime"] == "2026-03-02T12:00:00Z"
    assert raw["lastRetrain"] == "t"
    assert PipelineState.from_status(raw) == state
    assert PipelineState.from_status({}) == PipelineState()
