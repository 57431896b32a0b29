from __future__ import annotations

from datetime import timedelta

from operator_samples import NOW

from continuum_operator.core.conditions import READY, condition_status, set_condition

LATER = NOW + timedelta(minutes=5)


def ready(conditions: list, status: bool | None, reason: str, *, now=NOW, generation=1) -> list:
    return set_condition(
        conditions,
        READY,
        status,
        reason=reason,
        message=f"because {reason}",
        observed_generation=generation,
        now=now,
    )


def test_new_condition_has_every_conventional_field() -> None:
    (condition,) = ready([], True, "RunSucceeded")

    assert condition == {
        "type": "Ready",
        "status": "True",
        "reason": "RunSucceeded",
        "message": "because RunSucceeded",
        "lastTransitionTime": "2026-03-02T12:00:00Z",
        "observedGeneration": 1,
    }


def test_transition_time_moves_only_when_the_status_changes() -> None:
    first = ready([], False, "SparkOperatorMissing")

    same_status = ready(first, False, "InvalidSpec", now=LATER, generation=2)
    flipped = ready(same_status, True, "RunSucceeded", now=LATER)

    assert same_status[0]["lastTransitionTime"] == "2026-03-02T12:00:00Z"
    assert same_status[0]["reason"] == "InvalidSpec"
    assert same_status[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "2026-03-02T12:05:00Z"


def test_other_conditions_are_kept_in_place_and_input_is_not_mutated() -> None:
    other = {"type": "DataSourceAvailable", "status": "True", "lastTransitionTime": "x"}
    conditions = [other, *ready([], None, "Starting")]

    updated = ready(conditions, True, "RunSucceeded", now=LATER)

    assert [c["type"] for c in updated] == ["DataSourceAvailable", "Ready"]
    assert updated[0] == other
    assert conditions[1]["status"] == "Unknown"
    assert condition_status(updated, READY) is True
    assert condition_status(conditions, READY) is None
    assert condition_status(updated, "RegistryAvailable") is None
