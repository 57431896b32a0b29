"""When a cron schedule is due. Schedules are read in UTC, like a CronJob without `timeZone`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronsim import CronSim

# cronsim iterates strictly after its start; starting a hair after `now` makes `now` itself a tick.
_JUST_AFTER = timedelta(microseconds=1)


def due_tick(expression: str, since: datetime, now: datetime) -> datetime | None:
    """The newest tick in (since, now], or None. Ticks missed while the operator was down collapse
    into this one: a schedule that fell behind asks for one run, not a burst."""
    latest = next(CronSim(expression, (now + _JUST_AFTER).astimezone(UTC), reverse=True), None)
    if latest is None or latest <= since:
        return None
    return latest


def next_tick(expression: str, now: datetime) -> datetime:
    """The first tick after `now`: the operator wakes then, whatever its poll interval."""
    return next(CronSim(expression, now.astimezone(UTC)))
