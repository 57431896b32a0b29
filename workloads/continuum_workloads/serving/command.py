"""`continuum serve`: the serving pod's process.

Reads its ServingConfig from the environment, serves /healthz /readyz /metrics, loads and warms
the model (then it is Ready), waits for the handoff Lease, takes the transactional ids over (which
fences any earlier holder; exactly-once mode) and runs the scoring query until SIGTERM: then it
stops after the current batch, releases the Lease and exits 0. Having lost the Lease (or unable
to tell that it still holds it, after a pause), it stops at once and exits 1, for Kubernetes to
restart it as a waiting pod.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from continuum_workloads.contract import (
    POD_NAME_ENV,
    POD_NAMESPACE_ENV,
    ServingConfig,
    ServingMode,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

    from continuum_workloads.serving.lease import HandoffLease
    from continuum_workloads.serving.model import ListingModel
    from continuum_workloads.serving.telemetry import ServingMetrics

log = logging.getLogger("continuum.serving")
T = TypeVar("T")
RETRY_S = (1, 2, 5, 10, 30)


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the streaming scorer of a ServingDeployment (its pods run this)",
        description="Scores Kafka requests with the registered model, exactly once "
        "(or at least once, with lower latency, in Spark's Real-time Mode). "
        "Configured by the environment the ServingDeployment's pods get (see the README).",
    )
    serve.set_defaults(run=lambda _args: serve_from_env(os.environ))


def kafka_client_config(config: ServingConfig) -> dict[str, str]:
    """bootstrap.servers plus one property per file of the mounted Secret, if any."""
    properties = {"bootstrap.servers": config.kafka_bootstrap_servers}
    if config.kafka_properties_dir:
        for path in sorted(Path(config.kafka_properties_dir).iterdir()):
            if path.is_file() and not path.name.startswith("."):
                properties[path.name] = path.read_text().strip()
    return properties


def _retrying(
    what: str,
    stop: threading.Event,
    attempt: Callable[[], T],
    on_failure: Callable[[str], None] | None = None,
) -> T | None:
    """Runs `attempt` until it succeeds (its result) or `stop` is set (None), with growing
    pauses between tries; `on_failure` hears why each try failed."""
    from continuum_workloads.serving.dependencies import summary

    for tries in range(sys.maxsize):
        try:
            return attempt()
        except Exception as error:  # every failure is logged and retried; stop ends it
            pause = RETRY_S[min(tries, len(RETRY_S) - 1)]
            log.warning("%s failed (%s); retrying in %d s", what, summary(error), pause)
            if on_failure is not None:
                on_failure(f"{what} failed: {summary(error)}")
            if stop.wait(pause):
                return None
    return None


def serve_from_env(environ: Mapping[str, str]) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        config = ServingConfig.from_env(environ)
        pod, namespace = environ[POD_NAME_ENV], environ[POD_NAMESPACE_ENV]
    except (ValueError, KeyError) as error:
        print(f"continuum serve: invalid environment: {error}", file=sys.stderr)
        return 2
    # `kill -USR1`: where each thread is, on the process's own stderr (the pod's log).
    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    return Server(config, pod, namespace).run()


class Server:
    def __init__(self, config: ServingConfig, pod: str, namespace: str) -> None:
        from continuum_workloads.serving.probes import Readiness
        from continuum_workloads.serving.records import ModelIdentity
        from continuum_workloads.serving.telemetry import ServingMetrics

        self.config, self.pod, self.namespace = config, pod, namespace
        self.identity = ModelIdentity(config.model_name, config.model_version)
        self.metrics = ServingMetrics(self.identity)
        self.readiness = Readiness("loading the model")
        self.metrics.ready.set_function(lambda: float(self.readiness.reason is None))
        self.stop = threading.Event()

    def _on_sigterm(self, signum: int, _frame: object) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        self.stop.set()

    def run(self) -> int:
        from kubernetes import config as kube_config

        from continuum_workloads.serving.dependencies import (
            DependencyWatch,
            checkpoint_probe,
            kafka_probe,
        )
        from continuum_workloads.serving.lease import HandoffLease
        from continuum_workloads.serving.model import ListingModel, ModelLoadError
        from continuum_workloads.serving.probes import serve_probes
        from continuum_workloads.serving.scorer import warm_up_validation
        from continuum_workloads.serving.session import build_session

        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, self._on_sigterm)
        probes = serve_probes(self.config.http_port, self.readiness, self.metrics.registry)
        spark_conf = self._spark_conf()
        if spark_conf is None:
            probes.shutdown()
            return 0
        spark = build_session(spark_conf, f"continuum-serve-{self.pod}")
        spark.sparkContext.setLogLevel("WARN")
        watch: DependencyWatch | None = None
        try:
            try:
                model = _retrying(
                    f"loading {self.config.model_uri}",
                    self.stop,
                    lambda: ListingModel.load(spark, self.identity),
                    self.readiness.set,
                )
                if model is None:
                    return 0
                price = model.warm_up()
            except ModelLoadError as error:
                log.error("%s", error)
                self.readiness.set(str(error))
                return 1
            log.info("model %s warmed up (a test listing: %.2f)", self.config.model_uri, price)
            warm_up_validation(spark)
            self.readiness.set(None)
            watch = DependencyWatch(
                {
                    f"Kafka ({self.config.kafka_bootstrap_servers})": kafka_probe(
                        kafka_client_config(self.config)
                    ),
                    f"the checkpoint store ({self.config.checkpoint_uri})": checkpoint_probe(
                        spark, self.config.checkpoint_uri
                    ),
                },
                self.readiness,
            ).start()
            try:
                kube_config.load_incluster_config()
            except kube_config.ConfigException:
                kube_config.load_kube_config()
            from kubernetes import client

            lease = HandoffLease(
                client.ApiClient(), self.namespace, self.config.lease_name, self.pod
            )
            planned = self._plan(spark, model, lease)
            log.info("waiting for Lease %s", self.config.lease_name)
            if not lease.take(self.stop):
                return 0
            self.metrics.lease_held.set(1)
            try:
                return self._hold(spark, model, lease, planned)
            finally:
                self.metrics.lease_held.set(0)
                lease.release()
        finally:
            if watch is not None:
                watch.stop()
            probes.shutdown()
            spark.stop()

    def _spark_conf(self) -> Mapping[str, str] | None:
        """The ServingDeployment's Spark conf; in `realtime` mode without a `spark.master`, one
        with task slots for the requests topic's partitions and the live-metrics query (the
        partitions read from Kafka, retrying until it answers). None if told to stop first."""
        from continuum_workloads.serving.session import LIVE_METRICS_SLOTS, realtime_master
        from continuum_workloads.serving.transactions import committed_offsets

        spark_conf = self.config.spark_conf
        if self.config.mode is not ServingMode.REALTIME or "spark.master" in spark_conf:
            return spark_conf
        topic = self.config.requests_topic
        partitions = _retrying(
            f"reading the partitions of {topic}",
            self.stop,
            lambda: len(committed_offsets(kafka_client_config(self.config),
                                          self.config.answered_offsets_group, topic)),
            self.readiness.set,
        )  # fmt: skip
        if partitions is None:
            return None
        master = realtime_master(partitions)
        log.info("realtime: Spark %s (a task slot per partition of %s, %d, and %d for the live"
                 " metrics)", master, topic, partitions, LIVE_METRICS_SLOTS)  # fmt: skip
        return {**spark_conf, "spark.master": master}

    def _plan(
        self, spark: SparkSession, model: ListingModel, lease: HandoffLease
    ) -> DataStreamWriter:
        """The scoring query of the configured mode, planned but not started."""
        from continuum_workloads.serving.scorer import BatchScorer, realtime_stream, scoring_stream

        client_config = kafka_client_config(self.config)
        if self.config.mode is ServingMode.REALTIME:
            return realtime_stream(spark, self.config, client_config, model)
        scorer = BatchScorer(model, self.config, client_config, self.metrics.observe, lease.current)
        return scoring_stream(spark, self.config, client_config, scorer)

    def _hold(
        self,
        spark: SparkSession,
        model: ListingModel,
        lease: HandoffLease,
        planned: DataStreamWriter | None,
    ) -> int:
        """Runs the scoring query while this pod holds the Lease; 0 after a graceful stop, 1 when
        the Lease is lost or this pod was fenced without holding it. A failed run (Kafka or the
        checkpoint store unreachable, or fenced by a paused former holder that woke up and has
        not yet seen that its Lease is gone) is restarted with growing pauses, each exactly-once
        run after taking the transactional ids over afresh: that aborts whatever the failed run
        left open, and the committed offsets say where to go on, so nothing is lost or doubled.
        `planned` (planned while the pod waited for the Lease) is the first run's query."""
        from continuum_workloads.serving.dependencies import summary
        from continuum_workloads.serving.lag import LagWatch

        client_config = kafka_client_config(self.config)
        # Started once scoring runs: a takeover waits for nothing else.
        live: LiveMetrics | None = None
        lag: LagWatch | None = None
        failures = 0
        try:
            while not self.stop.is_set():
                if not self._fenced_earlier_holders(spark, client_config):
                    return 0
                stream = planned or self._plan(spark, model, lease)
                planned = None
                query: StreamingQuery | None = None
                try:
                    query = stream.start()
                    log.info("scoring %s with %s (%s)", self.config.requests_topic,
                             self.config.model_uri, self.config.mode.value)  # fmt: skip
                    if live is None:
                        live = LiveMetrics(spark, self.config, client_config, self.metrics)
                    if lag is None and self.config.mode is ServingMode.EXACTLY_ONCE:
                        lag = LagWatch(client_config, self.config.answered_offsets_group,
                                       self.config.requests_topic, self.metrics.lag)  # fmt: skip
                        lag.start()
                    code = self._watch(query, lease, live)
                except Exception as error:  # the query failed or could not start
                    if not lease.current():
                        log.error("no longer the holder: stopped scoring")
                        return 1
                    progressed = query is not None and query.lastProgress is not None
                    failures = 1 if progressed else failures + 1
                    pause = RETRY_S[min(failures - 1, len(RETRY_S) - 1)]
                    log.error("the scoring query failed (%s); restarting it in %d s",
                              summary(error), pause)  # fmt: skip
                    self.stop.wait(pause)
                    continue
                if code is not None:
                    return code
            return 0
        finally:
            if live is not None:
                live.stop()
            if lag is not None:
                lag.stop()

    def _fenced_earlier_holders(self, spark: SparkSession, client_config: dict[str, str]) -> bool:
        """In exactly-once mode, takes the transactional ids over (retrying until it can);
        False if told to stop first. Real-time Mode writes no transactions: nothing to take."""
        from continuum_workloads.serving.transactions import TransactionalOutput

        if self.config.mode is not ServingMode.EXACTLY_ONCE:
            return True
        output = TransactionalOutput.of(self.config, client_config)
        taken = _retrying(
            "taking the transactional ids over", self.stop, lambda: output.take_over(spark)
        )
        return taken is not None

    def _watch(self, query: StreamingQuery, lease: HandoffLease, live: LiveMetrics) -> int | None:
        """Waits for SIGTERM (then stops between batches: 0), the loss of the Lease (stops at
        once: 1), or the query's end (None; a failure, a fence included, raises)."""
        from continuum_workloads.serving.scorer import sink_outcome

        counted_batch = -1
        while not (self.stop.is_set() or not lease.current()):
            if query.awaitTermination(1):
                break
            live.check()
            progress = query.lastProgress
            # Real-time Mode has no batch function to count with: the query's progress says.
            realtime = self.config.mode is ServingMode.REALTIME
            if realtime and progress and progress.batchId > counted_batch:
                counted_batch = progress.batchId
                self.metrics.observe(sink_outcome(progress))
        if not lease.current():
            query.stop()
            log.error("no longer the holder: stopped scoring")
            return 1
        if not self.stop.is_set():
            return None
        stop_between_batches(query, self.config.stop_wait_s)
        return 0


class LiveMetrics:
    """The live-metrics query beside the scoring one, when there is a feedback topic; restarted
    with growing pauses if it fails, and never a reason to stop scoring."""

    def __init__(
        self,
        spark: SparkSession,
        config: ServingConfig,
        client_config: dict[str, str],
        metrics: ServingMetrics,
    ) -> None:
        from continuum_workloads.serving.live_metrics import MetricsSink

        self.spark, self.config, self.client_config, self.metrics = (
            spark, config, client_config, metrics,
        )  # fmt: skip
        self.sink = MetricsSink(client_config, config.metrics_topic, metrics.observe_window)
        self.query: StreamingQuery | None = None
        self.failures = 0
        self.retry_at = 0.0
        self.counted_batch = -1
        if config.feedback_topic:
            self._start()

    def _start(self) -> None:
        from continuum_workloads.serving.live_metrics import start_live_metrics

        try:
            self.query = start_live_metrics(self.spark, self.config, self.client_config, self.sink)
        except Exception as error:  # a bad feedback topic must not stop scoring
            self._failed(error)

    def _failed(self, error: object) -> None:
        self.failures += 1
        pause = RETRY_S[min(self.failures - 1, len(RETRY_S) - 1)]
        log.error("the live-metrics query failed (%s); restarting in %d s",
                  str(error).splitlines()[0], pause)  # fmt: skip
        self.query = None
        self.retry_at = time.monotonic() + pause

    def check(self) -> None:
        """Counts late rows of the last batch; restarts a failed query when its pause is over."""
        from continuum_workloads.serving.live_metrics import late_feedback

        if not self.config.feedback_topic:
            return
        if self.query is None:
            if time.monotonic() >= self.retry_at:
                self._start()
            return
        if not self.query.isActive:
            self._failed(self.query.exception() or "stopped")
            return
        progress = self.query.lastProgress
        if progress and progress.get("batchId", -1) > self.counted_batch:
            self.counted_batch = progress["batchId"]
            self.metrics.late_feedback.inc(late_feedback(self.query))

    def stop(self) -> None:
        if self.query is not None and self.query.isActive:
            self.query.stop()


def stop_between_batches(query: StreamingQuery, wait_s: float) -> None:
    """Stops the query once the micro-batch (or real-time batch) running now has ended, or at
    once when none runs; at the latest `wait_s` after the call. Under a steady stream the next
    batch starts as soon as one ends, so the stop then lands at that next batch's start: safe (a
    batch stopped before its commit writes nothing that counts, and the next holder replays it)
    and cheap, as it has not done its work yet."""
    running = _last_batch(query) + 1
    deadline = time.monotonic() + wait_s
    while query.isActive and time.monotonic() < deadline:
        if not query.status["isTriggerActive"] or _last_batch(query) >= running:
            break
        time.sleep(0.05)
    query.stop()
    log.info("the scoring query stopped")


def _last_batch(query: StreamingQuery) -> int:
    """The id of the query's last finished micro-batch; -1 before the first."""
    return int((query.lastProgress or {}).get("batchId", -1))
