"""How long an object's loop sleeps before its next pass."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=10)


def next_delay(
    poll_interval: timedelta, failures: int, *, next_tick: datetime | None, now: datetime
) -> timedelta:
    """The poll interval; after `failures` failed passes in a row (a dependency or the API
    server unreachable) the first retry comes after the poll interval or ten seconds, whichever
    is shorter, and each further one waits twice as long, up to five minutes or the poll interval
    if that is longer: a short outage is over soon, a long one is not hammered. A moment due
    sooner (a cron tick) wins."""
    delay = poll_interval
    if failures:
        base = min(poll_interval, FIRST_RETRY)
        cap = max(MAX_BACKOFF, poll_interval)
        # Doubling past the cap changes nothing, and 2**failures would overflow a timedelta
        # after a few dozen failures: the exponent stops where the cap is reached.
        exponent = min(failures, math.ceil(math.log2(cap / base)))
        delay = min(base * 2**exponent, cap)
    if next_tick is not None:
        delay = min(delay, max(next_tick - now, timedelta(0)))
    return delay
