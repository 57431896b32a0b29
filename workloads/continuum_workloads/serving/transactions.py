"""Exactly-once output to Kafka, as the driver sees it. The writing itself runs in Spark's JVM,
in the tasks that scored the requests: `workloads/jvm/continuum/serving/TransactionalAnswers.java`
writes each micro-batch's answers from one partition of the requests topic in one Kafka
transaction together with that partition's consumer-group offset, under a transactional.id of
that partition's own, and says there why a crash, a replay and a zombie lose and double nothing.

Here: the handle on that writer (`TransactionalOutput`: the query step, and `take_over`, which
fences every earlier holder before a run's first batch), `Fenced` for the driver, and the
committed offsets: where exactly once left off (Real-time Mode starts there) and what it has
not yet answered (the lag gauge counts from there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition
from py4j.java_gateway import JavaObject
from pyspark.sql import DataFrame, SparkSession

from continuum_workloads.contract import ServingConfig

WRITER_CLASS = "continuum.serving.TransactionalAnswers"
FENCED_ERROR = "TransactionFenced"
"""The JVM exception a fenced writing task fails with, as it appears in the failed job's text."""


class Fenced(RuntimeError):
    """Another process took this transactional.id over; this one must stop writing."""


@dataclass(frozen=True)
class TransactionalOutput:
    """The exactly-once writer of one ServingDeployment: its client properties, its
    transactional.id (each partition's is `<transactional_id>-<partition>`), the consumer group
    its transactions commit the requests' offsets to, and the requests topic."""

    client_config: Mapping[str, str]
    transactional_id: str
    consumer_group: str
    requests_topic: str
    timeout_s: float = 30.0

    @classmethod
    def of(cls, config: ServingConfig, client_config: Mapping[str, str]) -> TransactionalOutput:
        """The writer of the ServingDeployment `config` describes."""
        return cls(
            dict(client_config),
            config.transactional_id,
            config.answered_offsets_group,
            config.requests_topic,
        )

    def _writer(self, spark: SparkSession) -> JavaObject:
        return spark.sparkContext._jvm.continuum.serving.TransactionalAnswers(
            dict(self.client_config),
            self.transactional_id,
            self.consumer_group,
            self.requests_topic,
            int(self.timeout_s * 1000),
        )

    def written(self, answers: DataFrame) -> DataFrame:
        """The step that writes `answers` (`answers.answer_records`' columns): one row per Kafka
        partition a task answered, `partition`, `records`, `skipped` (already answered by an
        earlier commit: a replay), `predictions` and `dead_letters` (JSON, a count per reason).
        Each call is a run of its own: its producers stay open from batch to batch."""
        spark = answers.sparkSession
        return DataFrame(self._writer(spark).written(answers._jdf), spark)

    def take_over(self, spark: SparkSession) -> int:
        """Opens (then closes) the transactional.id of every partition of the requests topic:
        the previous holder is fenced everywhere and its open transactions aborted before this
        one's first batch. Returns the number of partitions."""
        return int(self._writer(spark).takeOver())


def committed_offsets(
    client_config: Mapping[str, str], consumer_group: str, topic: str, timeout_s: float = 30.0
) -> dict[int, int]:
    """Every partition of `topic` with the next offset to answer as `consumer_group` last
    committed it, or -2 (Kafka's "earliest") where it never did."""
    consumer = group_reader(client_config, consumer_group)
    try:
        return read_committed_offsets(consumer, topic, timeout_s)
    finally:
        consumer.close()


def group_reader(client_config: Mapping[str, str], consumer_group: str) -> Consumer:
    """A consumer for reading `consumer_group`'s offsets: it never subscribes, so it never
    joins the group."""
    return Consumer({**client_config, "group.id": consumer_group, "enable.auto.commit": False})


def read_committed_offsets(consumer: Consumer, topic: str, timeout_s: float) -> dict[int, int]:
    """`committed_offsets` with a `group_reader` of the caller's."""
    found = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
    if found.error is not None:
        raise KafkaException(found.error)
    wanted = [TopicPartition(topic, p) for p in sorted(found.partitions)]
    committed = consumer.committed(wanted, timeout=timeout_s)
    return {tp.partition: tp.offset if tp.offset >= 0 else -2 for tp in committed}
