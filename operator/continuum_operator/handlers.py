"""The kopf handlers: thin wiring around `controller.Reconciler`.

Each TrainingPipeline gets one loop (a kopf daemon) that runs a reconcile pass every
`spec.data.pollInterval`, at cron ticks, and sooner when woken. Watchers wake it: a changed spec or
retrain annotation, any change of one of its SparkApplications (state changes included), and the
SparkApplication CRD appearing or going. Only the loop reconciles, so the passes of one pipeline
never race each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import kopf
from kubernetes import config as kube_config

from continuum_operator import api, metrics
from continuum_operator.backoff import next_delay
from continuum_operator.controller import (
    DEFAULT_POLL_INTERVAL,
    Memory,
    PassResult,
    Reconciler,
    asks_for_pass,
)
from continuum_operator.datasource import DataSourceLister, parse_webhdfs_map
from continuum_operator.kube import Kube
from continuum_operator.registry import Registry
from continuum_operator.schedule import next_tick

FINALIZER = f"{api.GROUP}/operator"
"""The daemon's finalizer on pipelines: named for Continuum, so users know whose it is."""

WEBHDFS_ENV = "CONTINUUM_WEBHDFS_URL"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    # The WebHDFS client logs every listing at INFO: one line per pipeline per poll.
    logging.getLogger("hdfs").setLevel(logging.WARNING)
    # The Kubernetes client of the adapters: in-cluster config in a pod, the kubeconfig outside.
    kube_config.load_config()
    memo.reconciler = Reconciler(
        Kube(),
        DataSourceLister(
            parse_webhdfs_map(memo.get("webhdfs_url") or os.environ.get(WEBHDFS_ENV, "")),
            os.environ.get("HADOOP_USER_NAME"),
        ),
        lru_cache(maxsize=64)(Registry),
    )
    memo.wakeups = {}


def _wake(memo: kopf.Memo, namespace: str, name: str) -> None:
    wakeup: asyncio.Event | None = memo.wakeups.get((namespace, name))
    if wakeup is not None:
        wakeup.set()


@kopf.on.event(api.GROUP, api.VERSION, api.TRAINING_PIPELINES)
async def pipeline_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    if asks_for_pass(body):
        _wake(memo, body.metadata.namespace, body.metadata.name)


@kopf.on.event(
    api.SPARK_GROUP,
    api.SPARK_VERSION,
    api.SPARK_APPLICATIONS,
    labels={api.MANAGED_BY_LABEL: api.MANAGED_BY},
)
async def spark_application_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    for owner in body.metadata.get("ownerReferences") or ():
        if owner.get("kind") == "TrainingPipeline":
            _wake(memo, body.metadata.namespace, owner["name"])


@kopf.on.event(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    when=lambda name, **_: name == api.SPARK_APPLICATIONS_CRD,
)
async def spark_operator_changed(memo: kopf.Memo, **_: Any) -> None:
    """The spark-operator's CRD installed, changed or removed: every pipeline looks now rather
    than after its backoff, so installing the spark-operator takes effect at once."""
    for wakeup in memo.wakeups.values():
        wakeup.set()


def _publish(pipeline: Mapping[str, Any], result: PassResult) -> None:
    for event in result.events:
        kopf.event(
            dict(pipeline),
            type="Warning" if event.warning else "Normal",
            reason=event.reason,
            message=event.message,
        )
    for run in result.started:
        for trigger in run.triggers:
            metrics.RUNS_STARTED.labels(trigger).inc()
        if run.marker_latency is not None:
            metrics.MARKER_TO_RUN_SECONDS.observe(max(run.marker_latency, 0.0))


@kopf.daemon(api.GROUP, api.VERSION, api.TRAINING_PIPELINES, cancellation_timeout=2.0)
async def pipeline_loop(
    namespace: str, name: str, memo: kopf.Memo, logger: logging.Logger, **_: Any
) -> None:
    wakeup = memo.wakeups.setdefault((namespace, name), asyncio.Event())
    memory = Memory()
    failures = 0
    try:
        while True:
            wakeup.clear()
            now = datetime.now(UTC)
            result: PassResult | None = None
            try:
                with metrics.HANDLER_SECONDS.labels("reconcile").time():
                    synced = await asyncio.to_thread(
                        memo.reconciler.sync, namespace, name, memory, now
                    )
            except Exception as error:  # the API server or a client bug: retried with backoff
                metrics.ERRORS.labels(type(error).__name__).inc()
                metrics.RECONCILES.labels("error").inc()
                logger.exception("reconcile failed; retrying with backoff")
                failures += 1
            else:
                if synced is None:  # deleted; the daemon is stopped with it
                    return
                pipeline, result = synced
                _publish(pipeline, result)
                failures = failures + 1 if result.failed else 0
                for dependency in result.failed:
                    metrics.ERRORS.labels(dependency).inc()
                metrics.RECONCILES.labels("degraded" if result.failed else "ok").inc()
            delay = next_delay(
                result.poll_interval if result else DEFAULT_POLL_INTERVAL,
                failures,
                next_tick=next_tick(result.schedule, now) if result and result.schedule else None,
                now=datetime.now(UTC),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=delay.total_seconds())
    finally:
        memo.wakeups.pop((namespace, name), None)


@kopf.on.probe(id="pipelines")
def pipelines(memo: kopf.Memo, **_: Any) -> int:
    """How many pipeline loops run, in the liveness endpoint's answer."""
    return len(memo.get("wakeups") or ())
