"""How long a pipeline's loop sleeps before its next pass."""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(minutes=5)


def next_delay(
    poll_interval: timedelta, failures: int, *, next_tick: datetime | None, now: datetime
) -> timedelta:
    """The poll interval; after `failures` failed passes in a row (HDFS, MLflow or the API server
    unreachable) it doubles per failure up to five minutes, or up to the poll interval if that is
    longer, so a down dependency is not hammered. A cron tick due sooner wins."""
    delay = poll_interval
    if failures:
        delay = min(poll_interval * 2**failures, max(MAX_BACKOFF, poll_interval))
    if next_tick is not None:
        delay = min(delay, max(next_tick - now, timedelta(0)))
    return delay
