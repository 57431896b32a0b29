"""The stack's Kafka is a real broker: what goes in comes out, complete and in order."""

from __future__ import annotations

import time
from collections import defaultdict

from confluent_kafka import KafkaError, TopicPartition

MESSAGES = 1000
PARTITIONS = 3


def test_thousand_messages_come_back_in_order_per_partition(
    new_topic, kafka_producer, kafka_consumer
):
    topic = new_topic(PARTITIONS)
    produced: dict[int, list[int]] = defaultdict(list)

    def delivered(error, message) -> None:
        assert error is None, error
        produced[message.partition()].append(int(message.value()))

    for sequence in range(MESSAGES):
        kafka_producer.produce(
            topic, key=f"car-{sequence % 17}", value=str(sequence), on_delivery=delivered
        )
        kafka_producer.poll(0)
    assert kafka_producer.flush(30) == 0

    kafka_consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    consumed: dict[int, list[int]] = defaultdict(list)
    deadline = time.monotonic() + 60
    while sum(map(len, consumed.values())) < MESSAGES and time.monotonic() < deadline:
        message = kafka_consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
            continue
        consumed[message.partition()].append(int(message.value()))

    assert sorted(v for values in consumed.values() for v in values) == list(range(MESSAGES))
    assert len(produced) > 1, "the keys should spread over several partitions"
    for partition, values in produced.items():
        assert consumed[partition] == values, f"partition {partition} out of order"
