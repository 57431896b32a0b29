"""Spark reads and writes the stack's Kafka through its `kafka` source and sink."""

from __future__ import annotations

import json
import time

from confluent_kafka import TopicPartition


def test_spark_reads_and_writes_kafka(stack, spark, new_topic, kafka_producer, kafka_consumer):
    requests, predictions = new_topic(2), new_topic(1)
    for listing_id in range(50):
        kafka_producer.produce(
            requests, key=str(listing_id), value=json.dumps({"id": listing_id, "year": 2010})
        )
    assert kafka_producer.flush(30) == 0

    source = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", stack["KAFKA_BOOTSTRAP_SERVERS"])
        .option("subscribe", requests)
        .option("startingOffsets", "earliest")
        .load()
    )
    records = source.selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value")
    assert sorted(int(r["key"]) for r in records.collect()) == list(range(50))

    (
        records.selectExpr("key", "concat('seen:', value) AS value")
        .write.format("kafka")
        .option("kafka.bootstrap.servers", stack["KAFKA_BOOTSTRAP_SERVERS"])
        .option("topic", predictions)
        .save()
    )
    kafka_consumer.assign([TopicPartition(predictions, 0, 0)])
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while len(seen) < 50 and time.monotonic() < deadline:
        message = kafka_consumer.poll(1.0)
        if message is not None and not message.error():
            seen.append(message.value().decode())
    assert len(seen) == 50
    assert all(value.startswith('seen:{"id": ') for value in seen)
