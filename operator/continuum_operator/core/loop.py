"""The loop every object of a Continuum kind runs in, whatever its kind.

Each object gets one loop (a kopf daemon) that runs a reconcile pass at its poll interval, at a
moment the pass asks for (a cron tick, a rollout deadline), and sooner when woken. Watchers of
each kind wake it (`wake`). Only the loop reconciles, so the passes of one object never race.

The objects carry no finalizer: deleting one needs nothing from the operator (what it created is
owned through ownerReferences and garbage-collected), so `kubectl delete` completes while the
operator is down. kopf puts a finalizer on every object a daemon runs for, to stop the daemon
before the object goes; the loop needs none, because it ends by itself once a pass finds the
object gone (or replaced by a new one of the same name), and a deletion wakes it.

A pass reads the object as stored now, lets the kind's controller decide and act, writes what
changed in its status and posts its Events. A pass that fails unexpectedly (the API server
refusing a call, a bug) sets Ready=False with reason `ReconcileFailed` and the error, posts a
Warning Event, and the loop retries with backoff; dependencies a controller reports as failed
(HDFS, MLflow) back off the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import kopf
from kubernetes import config as kube_config

from continuum_operator.adapters import metrics
from continuum_operator.adapters.kube import Kube, describe
from continuum_operator.core import api
from continuum_operator.core.api import Kind
from continuum_operator.core.backoff import next_delay
from continuum_operator.core.conditions import READY, Conditions
from continuum_operator.core.status import Event, status_changes

DEFAULT_POLL_INTERVAL = timedelta(seconds=30)
FINALIZER = f"{api.GROUP}/operator"
"""The finalizer earlier versions put on every object: kopf removes it from objects it finds
carrying it, since no handler needs one."""
RECONCILE_FAILED = "ReconcileFailed"


@dataclass
class PassResult:
    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """The dependencies that failed in this pass (the next pass backs off), for metrics."""
    poll_interval: timedelta = DEFAULT_POLL_INTERVAL
    wake_at: datetime | None = None
    """A moment the next pass is due, if sooner than the poll interval."""


class Controller(Protocol):
    """One kind's reconcile logic."""

    kind: Kind

    def new_memory(self) -> Any:
        """What one object's loop keeps between passes; losing it (a restart) may only repeat
        an Event."""

    def poll_interval(self, body: Mapping[str, Any]) -> timedelta:
        """How often the object wants a pass, from its spec alone: the backoff of a failed pass
        starts from it."""

    def reconcile(self, body: Mapping[str, Any], memory: Any, now: datetime) -> PassResult:
        """One pass: observe, decide, act; the status to write and the Events to post."""


Factory = Callable[[kopf.Memo], Controller]
_factories: dict[Kind, Factory] = {}


def register(kind: Kind, factory: Factory) -> None:
    """Makes `kind` reconciled by the controller `factory` builds at startup."""
    _factories[kind] = factory


@kopf.on.startup(id="continuum")
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    # The Kubernetes client of the adapters: in-cluster config in a pod, the kubeconfig outside.
    kube_config.load_config()
    memo.kube = Kube()
    memo.wakeups = {}
    memo.controllers = {kind: factory(memo) for kind, factory in _factories.items()}


def daemon(kind: Kind) -> None:
    """Runs one loop per object of `kind`, as a kopf daemon registered without kopf's finalizer
    (see the module's docstring)."""

    async def object_loop(
        namespace: str, name: str, uid: str, memo: kopf.Memo, logger: logging.Logger, **_: Any
    ) -> None:
        await run(memo, kind, namespace, name, logger, uid=uid)

    registry = kopf.get_default_registry()
    kopf.daemon(
        api.GROUP, api.VERSION, kind.plural, id=f"{kind}-loop", cancellation_timeout=2.0,
        registry=registry,
    )(object_loop)  # fmt: skip
    # kopf.daemon has no option to go without the finalizer; its handler is a frozen dataclass.
    spawning = registry._spawning
    spawning._handlers = [
        dataclasses.replace(handler, requires_finalizer=False)
        if handler.fn is object_loop
        else handler
        for handler in spawning._handlers
    ]


def wake(memo: kopf.Memo, kind: Kind, namespace: str, name: str) -> None:
    wakeup: asyncio.Event | None = memo.wakeups.get((kind, namespace, name))
    if wakeup is not None:
        wakeup.set()


def wake_all(memo: kopf.Memo, kind: Kind) -> None:
    for (loop_kind, _, _), wakeup in list(memo.wakeups.items()):
        if loop_kind is kind:
            wakeup.set()


def publish(body: Mapping[str, Any], events: list[Event]) -> None:
    for event in events:
        kopf.event(
            dict(body),
            type="Warning" if event.warning else "Normal",
            reason=event.reason,
            message=event.message,
        )


def read(kube: Kube, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
    """The object as stored now (never a cached copy: the last pass's status write must be
    seen), or None once it is gone."""
    return kube.get(kind, namespace, name)


def sync(
    kube: Kube, controller: Controller, body: Mapping[str, Any], memory: Any, now: datetime
) -> PassResult:
    """Reconciles the object and writes what changed in its status."""
    result = controller.reconcile(body, memory, now)
    patch = status_changes(body.get("status") or {}, result.status)
    if patch:
        metadata = body["metadata"]
        kube.patch_status(controller.kind, metadata["namespace"], metadata["name"], patch)
    return result


def report_failure(
    kube: Kube, kind: Kind, body: Mapping[str, Any], error: BaseException, now: datetime
) -> list[Event]:
    """Ready=False with the error on the object; the Event for it, if Ready changed."""
    status = body.get("status") or {}
    conditions = Conditions(status, int(status.get("observedGeneration") or 0), now)
    conditions.set(READY, False, RECONCILE_FAILED, describe(error)[:4000])
    patch = status_changes(status, {"conditions": conditions.items})
    if patch:
        metadata = body["metadata"]
        kube.patch_status(kind, metadata["namespace"], metadata["name"], patch)
    return conditions.events


def current(body: Mapping[str, Any] | None, uid: str | None) -> bool:
    """Whether `body` is still the object a loop was started for: not gone, and not a new object
    that took its name."""
    return body is not None and (uid is None or body["metadata"].get("uid") == uid)


async def run(
    memo: kopf.Memo,
    kind: Kind,
    namespace: str,
    name: str,
    logger: logging.Logger,
    *,
    uid: str | None = None,
) -> None:
    """The object's loop, until the object is gone (or kopf stops the daemon)."""
    controller: Controller = memo.controllers[kind]
    key = (kind, namespace, name)
    wakeup = asyncio.Event()
    earlier: asyncio.Event | None = memo.wakeups.get(key)
    if earlier is not None:  # the loop of a deleted object of this name: it looks and ends
        earlier.set()
    memo.wakeups[key] = wakeup
    memory = controller.new_memory()
    failures = 0
    poll_interval = DEFAULT_POLL_INTERVAL
    try:
        while True:
            wakeup.clear()
            now = datetime.now(UTC)
            wake_at: datetime | None = None
            body: dict[str, Any] | None = None
            try:
                with metrics.RECONCILE_SECONDS.labels(kind).time():
                    body = await asyncio.to_thread(read, memo.kube, kind, namespace, name)
                    if not current(body, uid):  # deleted: the loop ends with it
                        return
                    poll_interval = controller.poll_interval(body)
                    result = await asyncio.to_thread(sync, memo.kube, controller, body, memory, now)
            except Exception as error:  # the API server refused, or a bug: retried with backoff
                failures += 1
                metrics.ERRORS.labels(kind, type(error).__name__).inc()
                metrics.RECONCILES.labels(kind, "error").inc()
                logger.exception("reconcile failed; retrying with backoff")
                if body is not None:
                    await _report(memo.kube, kind, body, error, now, logger)
            else:
                publish(body, result.events)
                failures = failures + 1 if result.failed else 0
                for dependency in result.failed:
                    metrics.ERRORS.labels(kind, dependency).inc()
                metrics.RECONCILES.labels(kind, "degraded" if result.failed else "ok").inc()
                poll_interval, wake_at = result.poll_interval, result.wake_at
            delay = next_delay(poll_interval, failures, next_tick=wake_at, now=datetime.now(UTC))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=delay.total_seconds())
    finally:
        if memo.wakeups.get(key) is wakeup:
            del memo.wakeups[key]


async def _report(
    kube: Kube,
    kind: Kind,
    body: dict[str, Any],
    error: BaseException,
    now: datetime,
    logger: logging.Logger,
) -> None:
    try:
        events = await asyncio.to_thread(report_failure, kube, kind, body, error, now)
    except Exception:  # the API server is down as well: the log has the failure
        logger.warning("could not record the failure in status", exc_info=True)
        return
    publish(body, events)


@kopf.on.probe(id="loops")
def loops(memo: kopf.Memo, **_: Any) -> dict[str, int]:
    """How many object loops run, by kind, in the liveness endpoint's answer."""
    counts = dict.fromkeys(map(str, memo.get("controllers") or ()), 0)
    for kind, _, _ in memo.get("wakeups") or ():
        counts[str(kind)] = counts.get(str(kind), 0) + 1
    return counts
