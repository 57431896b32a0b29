"""The scorer's lag gauge against the stack's Kafka: requests beyond the offsets its consumer
group committed, followed as the group commits."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client import CollectorRegistry, Gauge

from continuum_workloads.serving.lag import LagWatch
from localstack.process import wait_for

WAIT_S = 60


def wait_for_value(registry: CollectorRegistry, value: float) -> None:
    def off() -> str | None:
        now = registry.get_sample_value("lag")
        return None if now == value else f"the lag stayed at {now}, not {value}"

    assert wait_for(off, WAIT_S, interval=0.1) is None


def test_the_lag_is_what_the_consumer_group_has_not_committed(stack, new_topic) -> None:
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    topic, group = new_topic(2), f"test-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": bootstrap})
    for index in range(30):
        producer.produce(topic, value=b"{}", partition=index % 2)
    assert producer.flush(30) == 0
    registry = CollectorRegistry()
    gauge = Gauge("lag", "lag", registry=registry)
    gauge.set(-1)  # the watch's first sample replaces it
    watch = LagWatch({"bootstrap.servers": bootstrap}, group, topic, gauge, every_s=0.2)
    committer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    watch.start()
    try:
        wait_for_value(registry, 30)  # nothing committed: the whole topic
        committer.commit(offsets=[TopicPartition(topic, 0, 15), TopicPartition(topic, 1, 4)],
                         asynchronous=False)  # fmt: skip
        wait_for_value(registry, 11)
        committer.commit(offsets=[TopicPartition(topic, 1, 15)], asynchronous=False)
        wait_for_value(registry, 0)
    finally:
        watch.stop()
        committer.close()
    assert not watch.is_alive()
