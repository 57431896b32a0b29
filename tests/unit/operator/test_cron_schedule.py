from __future__ import annotations

from datetime import UTC, datetime

from continuum_operator.training.schedule import due_tick


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, 2, hour, minute, second, tzinfo=UTC)


def test_not_due_before_the_next_tick() -> None:
    assert due_tick("0 3 * * *", since=at(3), now=at(23, 59)) is None


def test_due_at_the_tick_itself() -> None:
    assert due_tick("*/15 * * * *", since=at(12), now=at(12, 15)) == at(12, 15)


def test_missed_ticks_collapse_into_the_newest() -> None:
    assert due_tick("*/15 * * * *", since=at(1), now=at(12, 20)) == at(12, 15)


def test_tick_equal_to_since_is_not_due_again() -> None:
    assert due_tick("*/15 * * * *", since=at(12, 15), now=at(12, 29, 59)) is None


def test_day_of_week_names() -> None:
    # 2026-03-02 is a Monday.
    assert due_tick("0 3 * * MON", since=at(0), now=at(4)) == at(3)
    assert due_tick("0 3 * * TUE", since=at(0), now=at(4)) is None
