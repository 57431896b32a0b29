"""The operator loop's pure parts: when to sleep until, and which pipeline changes need a pass."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import kopf
import pytest
from operator_samples import NOW

from continuum_operator.core import api
from continuum_operator.core.backoff import MAX_BACKOFF, next_delay
from continuum_operator.core.status import status_changes
from continuum_operator.training.reconcile import asks_for_pass
from continuum_operator.training.schedule import next_tick

SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 30 * SECOND), (1, 20 * SECOND), (2, 40 * SECOND), (3, 80 * SECOND), (9, MAX_BACKOFF)],
)
def test_failures_are_retried_within_seconds_then_back_off_up_to_five_minutes(
    failures: int, expected: timedelta
) -> None:
    assert next_delay(30 * SECOND, failures, next_tick=None, now=NOW) == expected


@pytest.mark.parametrize("interval", [SECOND, 7 * SECOND, 30 * SECOND, timedelta(hours=2)])
def test_a_thousand_failures_in_a_row_stay_at_the_cap(interval: timedelta) -> None:
    cap = max(MAX_BACKOFF, interval)
    delays = [next_delay(interval, n, next_tick=None, now=NOW) for n in range(1, 1001)]
    assert delays[-1] == cap
    assert all(earlier <= later <= cap for earlier, later in pairwise(delays))


def test_a_long_poll_interval_is_retried_sooner_and_backs_off_up_to_itself() -> None:
    assert next_delay(timedelta(hours=1), 1, next_tick=None, now=NOW) == 20 * SECOND
    assert next_delay(timedelta(hours=1), 20, next_tick=None, now=NOW) == timedelta(hours=1)
    assert next_delay(SECOND, 1, next_tick=None, now=NOW) == 2 * SECOND


def test_a_cron_tick_due_sooner_shortens_the_sleep() -> None:
    assert next_delay(30 * SECOND, 0, next_tick=NOW + 5 * SECOND, now=NOW) == 5 * SECOND
    assert next_delay(30 * SECOND, 0, next_tick=NOW - SECOND, now=NOW) == timedelta(0)


def test_next_tick_is_strictly_after_now_in_utc() -> None:
    assert next_tick("0 3 * * *", NOW) == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    assert next_tick("0 12 * * *", NOW) == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


def pipeline(generation: int, observed: int, retrain: str | None, last: str | None) -> dict:
    annotations = {api.RETRAIN_ANNOTATION: retrain} if retrain else {}
    return {
        "metadata": {"generation": generation, "annotations": annotations},
        "status": {"observedGeneration": observed, "lastRetrain": last},
    }


@pytest.mark.parametrize(
    ("body", "wanted"),
    [
        (pipeline(2, 2, None, None), False),  # its own status write
        (pipeline(3, 2, None, None), True),  # spec edited
        (pipeline(2, 2, "a", None), True),  # retrain asked
        (pipeline(2, 2, "a", "a"), False),  # already acted on
        (pipeline(2, 2, "b", "a"), True),  # asked again
    ],
)
def test_only_spec_edits_and_new_retrain_values_ask_for_a_pass(body: dict, wanted: bool) -> None:
    assert asks_for_pass(body) is wanted


def test_the_status_patch_holds_only_what_changed() -> None:
    current = {"phase": "Idle", "currentRun": "r1", "runs": [{"name": "r1"}]}
    wanted = {"phase": "Training", "currentRun": None, "runs": [{"name": "r1"}]}
    assert status_changes(current, wanted) == {"phase": "Training", "currentRun": None}


def test_nulls_the_api_server_dropped_are_no_change() -> None:
    stored = {"batches": {"recent": []}, "runs": [{"name": "r1", "batches": {"count": 0}}]}
    wanted = {
        "batches": {"watermark": None, "recent": []},
        "lastBatch": None,
        "runs": [{"name": "r1", "message": None, "batches": {"count": 0, "first": None}}],
    }
    assert status_changes(stored, wanted) == {}
    wanted["batches"]["recent"] = [{"name": "b1"}]
    assert status_changes(stored, wanted) == {
        "batches": {"watermark": None, "recent": [{"name": "b1"}]}
    }


def test_the_loops_of_both_kinds_leave_their_objects_without_a_finalizer() -> None:
    # kopf.daemon always asks for one; the loops are registered without it (core.loop.daemon).
    for kind in ("training", "serving"):
        importlib.import_module(f"continuum_operator.{kind}.handlers")
    daemons = kopf.get_default_registry()._spawning.get_all_handlers()

    assert {handler.id for handler in daemons} == {
        "TrainingPipeline-loop",
        "ServingDeployment-loop",
    }
    assert not any(handler.requires_finalizer for handler in daemons)
