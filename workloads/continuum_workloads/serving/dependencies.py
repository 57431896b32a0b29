"""Whether the services a scoring pod needs answer: Kafka and the checkpoint store, probed in
the background every few seconds. While one does not, `/readyz` says which and why, and the log
says once when it stopped answering and once when it answers again (not on every probe).

MLflow is not probed here: it matters only while the model loads (retried until it answers,
`/readyz` false meanwhile); a loaded model keeps scoring through an MLflow outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from pyspark.sql import SparkSession

from continuum_workloads.serving.probes import Readiness

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 5.0
PROBE_INTERVAL_S = 2.0
READINESS_PART = "dependencies"
Probe = Callable[[], None]
"""Returns when the service answers; raises with the reason when it does not."""


def readiness_reason(failures: Mapping[str, str]) -> str | None:
    """What `/readyz` says about the services: None when every one answers."""
    if not failures:
        return None
    return "; ".join(f"{name} unreachable ({why})" for name, why in sorted(failures.items()))


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(services that stopped answering, services that answer again), each sorted."""
    return sorted(set(after) - set(before)), sorted(set(before) - set(after))


def summary(error: BaseException) -> str:
    """One line for a log or a probe answer; a JVM exception by its class and message."""
    java = getattr(error, "java_exception", None)
    text = str(java.toString()) if java is not None else str(error)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def kafka_probe(client_config: Mapping[str, str]) -> Probe:
    """A metadata request to the brokers."""
    from confluent_kafka.admin import AdminClient

    # The probe reports an outage itself, once; librdkafka would log every failed connect.
    admin = AdminClient({**client_config, "log_level": 2})

    def probe() -> None:
        if not admin.list_topics(timeout=PROBE_TIMEOUT_S).brokers:
            raise ConnectionError("the metadata lists no brokers")

    return probe


def checkpoint_probe(spark: SparkSession, uri: str) -> Probe:
    """Looks up the checkpoint directory through Hadoop's FileSystem, as Spark reaches it, with
    one connection attempt per probe instead of Hadoop's default of ten."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    conf = jvm.org.apache.hadoop.conf.Configuration(spark.sparkContext._jsc.hadoopConfiguration())
    conf.setInt("ipc.client.connect.max.retries", 0)
    conf.setInt("ipc.client.connect.max.retries.on.timeouts", 0)
    conf.setInt("ipc.client.connect.timeout", int(PROBE_TIMEOUT_S * 1000))
    path = jvm.org.apache.hadoop.fs.Path(uri)
    filesystem = jvm.org.apache.hadoop.fs.FileSystem.newInstance(path.toUri(), conf)

    def probe() -> None:
        filesystem.exists(path)  # False when not made yet; raises when unreachable

    return probe


class DependencyWatch:
    """Probes each named service every PROBE_INTERVAL_S until stopped; keeps the readiness part
    READINESS_PART and the log up to date."""

    def __init__(self, probes: Mapping[str, Probe], readiness: Readiness) -> None:
        self.probes = dict(probes)
        self.readiness = readiness
        self.failures: dict[str, str] = {}
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, name="dependencies", daemon=True)

    def check(self) -> dict[str, str]:
        """Probes every service once; the reasons of those that did not answer."""
        failures: dict[str, str] = {}
        for name, probe in self.probes.items():
            try:
                probe()
            except Exception as error:  # every failure is an outage to report, whatever it is
                failures[name] = summary(error)
        gone, back = changes(self.failures, failures)
        for name in gone:
            log.error("%s is unreachable (%s); not ready until it answers", name, failures[name])
        for name in back:
            log.info("%s answers again", name)
        self.failures = failures
        self.readiness.set(readiness_reason(failures), READINESS_PART)
        return failures

    def _run(self) -> None:
        while not self.halt.is_set():
            self.check()
            self.halt.wait(PROBE_INTERVAL_S)

    def start(self) -> DependencyWatch:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.halt.set()
