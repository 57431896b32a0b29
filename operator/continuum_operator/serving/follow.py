"""Following models in the registry: one request per distinct model per poll interval, however
many ServingDeployments follow it.

ServingDeployments do not call MLflow in their passes. A pass says which model it follows
(`follow`), and reads the latest snapshot of it from here. One task polls each followed model
(server, credentials, name) at the shortest interval its followers ask for, and wakes the
followers when what the registry says changed. A webhook call only asks for an early poll of the
models it names (`refresh`): the registry stays the truth, so a forged, late or repeated call can
at most cost one request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge

from continuum_operator.adapters.registry import (
    Credentials,
    ModelSnapshot,
    NotFound,
    RegistryError,
)
from continuum_operator.core.backoff import next_delay

Follower = tuple[str, str]
"""(namespace, name) of a ServingDeployment."""
Observation = ModelSnapshot | RegistryError
"""What the last poll saw: a snapshot, `NotFound`, or the registry failing."""

POLLS = Counter(
    "continuum_model_polls_total",
    "Polls of followed models in the registry (one request each), by what asked for them "
    "(interval, webhook) and result (ok, error)",
    ["trigger", "result"],
)
FOLLOWED = Gauge("continuum_followed_models", "Distinct models followed by ServingDeployments")

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelKey:
    tracking_uri: str
    model: str
    credentials: Credentials | None = None


@dataclass
class _Watch:
    followers: dict[Follower, timedelta] = field(default_factory=dict)
    observation: Observation | None = None
    due: float = 0.0
    """Monotonic time of the next poll."""
    trigger: str = "interval"
    failures: int = 0

    @property
    def interval(self) -> timedelta:
        return min(self.followers.values())


def _same(before: Observation | None, after: Observation) -> bool:
    if isinstance(before, RegistryError) or isinstance(after, RegistryError):
        return type(before) is type(after) and str(before) == str(after)
    return before == after


class ModelFollowers:
    def __init__(
        self,
        fetch: Callable[[ModelKey], ModelSnapshot],
        wake: Callable[[Follower], None],
        alive: Callable[[Follower], bool],
    ) -> None:
        self._fetch = fetch
        self._wake = wake
        self._alive = alive
        self._lock = threading.Lock()
        self._watches: dict[ModelKey, _Watch] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kick = asyncio.Event()

    def follow(self, follower: Follower, key: ModelKey, interval: timedelta) -> Observation | None:
        """Makes `follower` follow `key` (and nothing else); the latest observation of it, None
        before its first poll. Thread-safe: called from reconcile passes."""
        with self._lock:
            for other, watch in self._watches.items():
                if other != key:
                    watch.followers.pop(follower, None)
            watch = self._watches.setdefault(key, _Watch())
            new = not watch.followers and watch.observation is None
            watch.followers[follower] = interval
            observation = watch.observation
        if new:
            self._kick_soon()
        return observation

    def refresh(self, model: str) -> int:
        """Polls every followed model named `model` now; how many there are."""
        with self._lock:
            keys = [key for key in self._watches if key.model == model]
            for key in keys:
                self._watches[key].due = 0.0
                self._watches[key].trigger = "webhook"
        if keys:
            self._kick_soon()
        return len(keys)

    def _kick_soon(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._kick.set)

    def _prune(self) -> None:
        with self._lock:
            for key, watch in list(self._watches.items()):
                for follower in [f for f in watch.followers if not self._alive(f)]:
                    del watch.followers[follower]
                if not watch.followers:
                    del self._watches[key]
            FOLLOWED.set(len(self._watches))

    def _due(self, now: float) -> list[tuple[ModelKey, str]]:
        with self._lock:
            due = [(key, w.trigger) for key, w in self._watches.items() if w.due <= now]
            for key, _ in due:
                self._watches[key].trigger = "interval"
            return due

    async def _poll(self, key: ModelKey, trigger: str) -> None:
        try:
            observation: Observation = await asyncio.to_thread(self._fetch, key)
        except RegistryError as error:
            observation = error
        failed = isinstance(observation, RegistryError) and not isinstance(observation, NotFound)
        POLLS.labels(trigger, "error" if failed else "ok").inc()
        with self._lock:
            watch = self._watches.get(key)
            if watch is None:  # unfollowed meanwhile
                return
            changed = not _same(watch.observation, observation)
            watch.observation = observation
            watch.failures = watch.failures + 1 if failed else 0
            # A failing registry is asked less often, as a failing pass is.
            delay = next_delay(
                watch.interval, watch.failures, next_tick=None, now=datetime.now(UTC)
            )
            watch.due = time.monotonic() + delay.total_seconds()
            followers = list(watch.followers) if changed else []
        for follower in followers:
            self._wake(follower)

    async def run(self) -> None:
        """Polls what is due until cancelled (at the operator's shutdown)."""
        self._loop = asyncio.get_running_loop()
        while True:
            self._kick.clear()
            self._prune()
            for key, trigger in self._due(time.monotonic()):
                try:
                    await self._poll(key, trigger)
                except Exception:  # a bug must not stop every follower's polling
                    _logger.exception("polling %s failed", key.model)
            with self._lock:
                upcoming = min((w.due for w in self._watches.values()), default=None)
            sleep = 60.0 if upcoming is None else max(upcoming - time.monotonic(), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=sleep)
