"""How far the scorer is behind: the requests waiting in the requests topic beyond the offsets
its consumer group last committed. In `exactlyOnce` mode each transaction commits its
partition's offset together with its answers, so this is exactly the number of requests not
yet answered (the consumer-group lag Kafka's own tools report for the same group). Real-time
Mode commits no offsets, so it has no lag gauge.

The holder samples it on a thread of its own (`LagWatch`): a slow or absent broker must not
hold up the watch that stops scoring when the Lease is lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import Gauge

from continuum_workloads.serving.transactions import group_reader, read_committed_offsets

log = logging.getLogger(__name__)
LAG_EVERY_S = 5.0
KAFKA_TIMEOUT_S = 5.0


def records_behind(watermarks: Mapping[int, tuple[int, int]], committed: Mapping[int, int]) -> int:
    """Records past the committed offsets, over the partitions of `watermarks` ((low, high) per
    partition). A partition with no committed offset (negative, as `read_committed_offsets`
    gives it), or one below the log's start (retention removed records nobody answered), counts
    from the log's start."""
    return sum(high - max(committed.get(p, -1), low) for p, (low, high) in watermarks.items())


class LagWatch(threading.Thread):
    """Sets `gauge` to `records_behind` the requests topic every LAG_EVERY_S until `stop()`.
    A sample Kafka cannot answer leaves the gauge as it was (the readiness watch says why)."""

    def __init__(
        self,
        client_config: Mapping[str, str],
        consumer_group: str,
        topic: str,
        gauge: Gauge,
        every_s: float = LAG_EVERY_S,
    ) -> None:
        super().__init__(name="continuum-lag", daemon=True)
        self.consumer = group_reader(client_config, consumer_group)
        self.topic, self.gauge, self.every_s = topic, gauge, every_s
        self.halt = threading.Event()

    def sample(self) -> int:
        committed = read_committed_offsets(self.consumer, self.topic, KAFKA_TIMEOUT_S)
        watermarks = {
            p: self.consumer.get_watermark_offsets(
                TopicPartition(self.topic, p), timeout=KAFKA_TIMEOUT_S
            )
            for p in committed
        }
        return records_behind(watermarks, committed)

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                try:
                    self.gauge.set(self.sample())
                except KafkaException as error:
                    log.debug("the requests topic's lag not sampled: %s", error)
                self.halt.wait(self.every_s)
        finally:
            self.consumer.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(2 * KAFKA_TIMEOUT_S + self.every_s)
