"""Rollout decisions of a ServingDeployment, from what its Deployment shows and what status
recorded: first deploy, roll forward, completion, a stall rolled back or not, failed versions kept
out until a newer version or a spec change, superseded rollouts, lost status writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from operator_samples import NOW

from continuum_operator.serving.rollout import (
    FailedVersion,
    ObservedDeployment,
    Phase,
    Result,
    Rollout,
    ServingState,
    Step,
    failed_annotation,
    plan,
)

LATER = NOW + timedelta(minutes=11)


def rolling(version: str, **fields: object) -> ObservedDeployment:
    """A Deployment whose template holds `version`, its new pods not all available yet."""
    base = ObservedDeployment(
        version, generation=2, observed_generation=2, desired=2, replicas=3, updated=1,
        ready=2, available=2, minimum_available=True,
    )  # fmt: skip
    return replace(base, **fields)


def rolled_out(version: str) -> ObservedDeployment:
    return rolling(version, replicas=2, updated=2, ready=2, available=2)


def stalled(version: str) -> ObservedDeployment:
    return rolling(version, deadline_exceeded=True)


def step(
    target: str | None,
    deployment: ObservedDeployment | None,
    state: ServingState = ServingState(),  # noqa: B008 - frozen, never mutated
    *,
    generation: int = 1,
    auto_rollback: bool = True,
    now=NOW,
) -> Step:
    return plan(
        target,
        deployment,
        state,
        generation=generation,
        auto_rollback=auto_rollback,
        history_limit=10,
        now=now,
    )


def reasons(result: Step) -> list[str]:
    return [event.reason for event in result.events]


def serving(version: str, *rollouts: Rollout, failed: tuple = ()) -> ServingState:
    return ServingState(version, rollouts, failed)


def test_the_first_version_is_deployed_and_recorded_as_a_rollout() -> None:
    first = step("1", None)

    assert first.deploy == "1"
    assert first.state.rollouts == (Rollout("1", None, NOW),)
    assert first.phase is Phase.ROLLING_OUT
    assert reasons(first) == ["RolloutStarted"]

    done = step("1", rolled_out("1"), first.state, now=LATER)
    assert done.state.serving_version == "1"
    assert done.state.rollouts[0].result is Result.SUCCEEDED
    assert done.state.rollouts[0].finish == LATER
    assert done.phase is Phase.SERVING
    assert (done.progressing.status, done.progressing.reason) == (False, "RolloutComplete")
    assert done.degraded.status is False
    assert reasons(done) == ["RolloutSucceeded"]


def test_a_new_target_rolls_forward_and_the_old_version_serves_until_it_is_done() -> None:
    started = step("2", rolled_out("1"), serving("1"))

    assert started.deploy == "2"
    assert started.state.rollouts[0] == Rollout("2", "1", NOW)
    assert started.state.serving_version == "1"

    in_progress = step("2", rolling("2"), started.state)
    assert in_progress.deploy == "2" and in_progress.events == ()
    assert (in_progress.progressing.status, in_progress.progressing.reason) == (True, "RollingOut")
    assert in_progress.state.serving_version == "1"


def test_a_stalled_rollout_is_rolled_back_and_its_version_kept_out() -> None:
    state = serving("1", Rollout("2", "1", NOW))

    failed = step("2", stalled("2"), state, now=LATER)

    assert failed.deploy == "1"
    assert failed.state.rollouts[0].result is Result.ROLLED_BACK
    assert "rolled back to 1" in (failed.state.rollouts[0].message or "")
    assert failed.state.failed == (FailedVersion("2", 1),)
    assert failed.failed_rollout is not None and failed.failed_rollout.to_version == "2"
    assert failed.phase is Phase.ROLLED_BACK
    assert (failed.degraded.status, failed.degraded.reason) == (True, "RolloutRolledBack")
    assert reasons(failed) == ["RolloutFailed", "RollbackStarted"]
    assert failed.events[0].warning

    # The alias still names version 2: the serving version stays, no new rollout.
    rolling_back = step("2", rolling("1"), failed.state, now=LATER)
    assert rolling_back.deploy == "1" and rolling_back.events == ()
    assert rolling_back.progressing.reason == "RollingBack"
    back = step("2", rolled_out("1"), rolling_back.state, now=LATER)
    assert back.deploy == "1" and back.failed_rollout is None
    assert back.phase is Phase.ROLLED_BACK and back.degraded.status is True


def test_a_failed_version_is_retried_after_a_spec_change_and_a_newer_one_goes_ahead() -> None:
    after_rollback = serving(
        "1", Rollout("2", "1", NOW, Result.ROLLED_BACK, NOW), failed=(FailedVersion("2", 1),)
    )

    assert step("2", rolled_out("1"), after_rollback, generation=2).deploy == "2"
    newer = step("3", rolled_out("1"), after_rollback)
    assert newer.deploy == "3"
    assert newer.state.rollouts[0] == Rollout("3", "1", NOW)
    assert newer.state.failed == (FailedVersion("2", 1),)
    assert step("3", rolled_out("1"), after_rollback, generation=2).state.failed == ()


def test_without_auto_rollback_a_stall_fails_and_leaves_the_deployment_alone() -> None:
    failed = step("2", stalled("2"), serving("1", Rollout("2", "1", NOW)), auto_rollback=False)

    assert failed.deploy == "2"
    assert failed.state.rollouts[0].result is Result.FAILED
    assert "autoRollback is off" in (failed.state.rollouts[0].message or "")
    assert failed.phase is Phase.FAILED and failed.degraded.status is True


def test_a_first_version_that_stalls_has_nothing_to_roll_back_to() -> None:
    failed = step("1", stalled("1"), ServingState(None, (Rollout("1", None, NOW),)))

    assert failed.deploy == "1"
    assert failed.state.rollouts[0].result is Result.FAILED
    assert "no earlier version" in (failed.state.rollouts[0].message or "")


def test_a_target_that_moves_on_mid_rollout_supersedes_it() -> None:
    moved = step("3", rolling("2"), serving("1", Rollout("2", "1", NOW)))

    assert moved.deploy == "3"
    assert [r.result for r in moved.state.rollouts] == [Result.IN_PROGRESS, Result.SUPERSEDED]
    assert moved.state.rollouts[0] == Rollout("3", "1", NOW)
    assert reasons(moved) == ["RolloutSuperseded", "RolloutStarted"]

    back = step("1", rolling("2"), serving("1", Rollout("2", "1", NOW)))
    assert back.deploy == "1"
    assert back.state.rollouts[0].result is Result.SUPERSEDED
    assert len(back.state.rollouts) == 1  # returning to the serving version is no new rollout


def test_an_unknown_target_changes_nothing() -> None:
    kept = step(None, rolled_out("1"), serving("1"))

    assert kept.deploy == "1" and kept.events == () and kept.phase is Phase.SERVING
    assert step(None, None).deploy is None
    assert step(None, None).phase is Phase.PENDING


def test_a_rollout_whose_status_write_was_lost_is_recorded_from_the_deployment() -> None:
    late = step("2", rolling("2"), serving("1"))

    assert late.state.rollouts[0] == Rollout("2", "1", NOW)
    assert late.deploy == "2"
    assert late.phase is Phase.ROLLING_OUT


def test_a_rollback_whose_status_write_was_lost_is_not_retried() -> None:
    # The rollback patch carried the failed version in the Deployment's annotation.
    deployment = replace(rolling("1"), failed=(FailedVersion("2", 1),))

    settled = step("2", deployment, serving("1", Rollout("2", "1", NOW)))

    assert settled.deploy == "1"
    assert settled.state.rollouts[0].result is Result.ROLLED_BACK
    assert settled.state.failed == (FailedVersion("2", 1),)


def test_a_deployment_not_yet_observed_by_its_controller_is_neither_done_nor_stalled() -> None:
    stale = rolling("2", generation=3, observed_generation=2, deadline_exceeded=True)
    stale = replace(stale, replicas=2, updated=2, available=2)

    assert not stale.rolled_out and not stale.stalled
    assert step("2", stale, serving("1", Rollout("2", "1", NOW))).failed_rollout is None


def test_the_deployment_is_read_from_its_body() -> None:
    body = {
        "metadata": {
            "generation": 4,
            "annotations": {
                "continuum.ml/failed-versions": failed_annotation([FailedVersion("7", 2)]),
                "continuum.ml/applied-hash": "abc",
            },
        },
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"annotations": {"continuum.ml/model-version": "8"}}},
        },
        "status": {
            "observedGeneration": 4,
            "replicas": 3,
            "updatedReplicas": 1,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},
            ],
        },
    }

    observed = ObservedDeployment.from_body(body, "continuum.ml/applied-hash")

    assert observed == ObservedDeployment(
        "8", 4, 4, 2, 3, 1, 2, 2, True, True, (FailedVersion("7", 2),), "abc"
    )
    assert observed.stalled and not observed.rolled_out


def test_status_round_trip() -> None:
    state = serving(
        "1",
        Rollout("2", "1", NOW, Result.ROLLED_BACK, LATER, "why"),
        Rollout("1", None, NOW),
        failed=(FailedVersion("2", 1),),
    )

    assert ServingState.from_status(state.to_status()) == state


def test_the_history_is_bounded() -> None:
    history = tuple(
        Rollout(str(n), str(n - 1), NOW, Result.SUCCEEDED, NOW) for n in range(20, 1, -1)
    )
    result = plan(
        "21",
        rolled_out("20"),
        serving("20", *history),
        generation=1,
        auto_rollback=True,
        history_limit=5,
        now=NOW,
    )

    assert [r.to_version for r in result.state.rollouts] == ["21", "20", "19", "18", "17"]
