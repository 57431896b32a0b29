"""A watched kind whose CRD is deleted must not stop the operator.

The operator watches SparkApplications (to wake a pipeline as soon as its run changes state), and
the spark-operator's CRD may be uninstalled under it. The API server then ends the watch at once,
and kopf reopens it at once; if the reopened watch reaches the server before kopf's own CRD
observer has seen the deletion and stopped that watcher, the request gets 404 and kopf ends the
whole operator (kopf 1.45 treats every watch error but 410 as fatal). This module makes a 404 on
(re)opening a watch end that attempt quietly, after a pause, so that kopf tries again until the
kind is back (kopf's observer was seen to leave such a watcher running for as long as the CRD
stayed away) or the watcher is stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from kopf._cogs.clients import errors, watching

log = logging.getLogger(__name__)
RETRY_PAUSE_S = 1.0

WatchObjs = Callable[..., AsyncIterator[Any]]


def tolerating_a_vanished_kind(watch_objs: WatchObjs) -> WatchObjs:
    """`watch_objs` (kopf's one watch request), with a 404 turned into the end of the stream.
    Says once when a kind goes and once when it is served again, not at every try."""
    gone: set[str] = set()

    async def watch(**kwargs: Any) -> AsyncIterator[Any]:
        kind = str(kwargs.get("resource"))
        try:
            async for raw_input in watch_objs(**kwargs):
                if kind in gone:
                    gone.discard(kind)
                    log.info("%s is served again: watching it", kind)
                yield raw_input
        except errors.APINotFoundError:
            if kind not in gone:
                gone.add(kind)
                log.warning("%s is not served (its CRD is gone): trying its watch again every "
                            "%.0f s", kind, RETRY_PAUSE_S)  # fmt: skip
            await asyncio.sleep(RETRY_PAUSE_S)

    return watch


def install() -> None:
    """Wraps kopf's watch request, which kopf's watch loop looks up at every (re)connection.
    Once per process, before `kopf.run`."""
    watching.watch_objs = tolerating_a_vanished_kind(watching.watch_objs)  # type: ignore[assignment]
