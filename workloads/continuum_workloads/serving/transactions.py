"""Exactly-once output to Kafka: each micro-batch's predictions and dead letters of one partition
of the requests topic go out in one Kafka transaction together with that partition's
consumer-group offset, under a transactional.id of that partition's own.

Why it holds:
- Crash: a batch whose transaction did not commit left nothing visible to `read_committed`
  readers; the next holder's `init_transactions` aborts it and Spark replays the batch from its
  checkpoint, so every request in it is answered again, once.
- Replay: Spark re-runs a batch whose output already committed (it stopped before writing its own
  commit log). The committed group offsets say so: records below them are skipped.
- Zombie: the transactional.id is fixed per ServingDeployment and partition, so a new holder's
  `init_transactions` (`take_over`, before its first batch) bumps the producer epoch and the
  broker refuses the old holder's late writes and commit (`Fenced`); that process must stop.
  A writer opens the id before it reads the committed offset, so whichever writer commits, it
  answers only what no earlier commit did.
- Outage: a transaction whose brokers do not answer within its deadline is given up
  (`TransactionAborted`) and its producer with it: librdkafka's `send_offsets_to_transaction`
  can block past its own timeout when the group coordinator goes away (confluentinc/librdkafka
  #5456, seen here when the broker restarts), so the calls run in a thread of their own. The
  next writer's `init_transactions` aborts what the stuck one left open; if the stuck one
  commits first after all, its offsets make the replayed batch skip those records.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from continuum_workloads.serving.records import OutgoingRecord

log = logging.getLogger(__name__)


class Fenced(RuntimeError):
    """Another process took this transactional.id over; this one must stop writing."""


class TransactionAborted(RuntimeError):
    """The batch's transaction was aborted; nothing of it is visible. Running it again is safe."""


def _is_fatal(error: KafkaException) -> bool:
    kafka_error = error.args[0] if error.args else None
    return isinstance(kafka_error, KafkaError) and (
        kafka_error.fatal()
        or kafka_error.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED)
    )


def within_deadline(deadline_s: float, call: Callable[[], int]) -> int:
    """`call()`'s result, run in a daemon thread, or TimeoutError after `deadline_s` (the thread
    is left behind, blocked where it is)."""
    outcome: Future[int] = Future()

    def run() -> None:
        try:
            outcome.set_result(call())
        except BaseException as error:  # handed over to the waiting caller as is
            outcome.set_exception(error)

    threading.Thread(target=run, name="kafka-transaction", daemon=True).start()
    try:
        return outcome.result(timeout=deadline_s)
    except FutureTimeout:
        raise TimeoutError(f"no answer from the brokers within {deadline_s:.0f} s") from None


def partition_transactional_id(transactional_id: str, partition: int) -> str:
    """The transactional.id of one partition of the requests topic."""
    return f"{transactional_id}-{partition}"


def take_over(
    client_config: Mapping[str, str], transactional_id: str, topic: str, timeout_s: float = 30.0
) -> int:
    """Opens (then closes) the transactional.id of every partition of `topic`: the previous
    holder is fenced everywhere and its open transactions aborted before this one's first
    batch. Returns the number of partitions."""
    probe = Consumer({**client_config, "group.id": f"{transactional_id}-take-over"})
    try:
        found = probe.list_topics(topic, timeout=timeout_s).topics[topic]
    finally:
        probe.close()
    if found.error is not None:
        raise KafkaException(found.error)
    for partition in sorted(found.partitions):
        writer = TransactionalWriter(
            client_config, partition_transactional_id(transactional_id, partition),
            transactional_id, topic, timeout_s,
        )  # fmt: skip
        try:
            writer.open()
        finally:
            writer.discard()
    return len(found.partitions)


def committed_offsets(
    client_config: Mapping[str, str], consumer_group: str, topic: str, timeout_s: float = 30.0
) -> dict[int, int]:
    """Every partition of `topic` with the next offset to answer as `consumer_group` last
    committed it, or -2 (Kafka's "earliest") where it never did."""
    consumer = Consumer({**client_config, "group.id": consumer_group, "enable.auto.commit": False})
    try:
        found = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        if found.error is not None:
            raise KafkaException(found.error)
        wanted = [TopicPartition(topic, p) for p in sorted(found.partitions)]
        committed = consumer.committed(wanted, timeout=timeout_s)
        return {tp.partition: tp.offset if tp.offset >= 0 else -2 for tp in committed}
    finally:
        consumer.close()


class TransactionalWriter:
    """One transactional producer and the requests' consumer group, for one source topic."""

    def __init__(
        self,
        client_config: Mapping[str, str],
        transactional_id: str,
        consumer_group: str,
        source_topic: str,
        timeout_s: float = 30.0,
    ) -> None:
        self.source_topic = source_topic
        self.timeout_s = timeout_s
        self.stuck = False
        """Set once a transaction blocked past its deadline: this writer must be discarded."""
        self._producer = Producer(
            {
                **client_config,
                "transactional.id": transactional_id,
                "transaction.timeout.ms": int(timeout_s * 1000),
                "linger.ms": 5,
                "queue.buffering.max.messages": 1_000_000,
            }
        )
        self._offsets = Consumer(
            {
                **client_config,
                "group.id": consumer_group,
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )

    def open(self) -> TransactionalWriter:
        """Takes the transactional.id over: aborts whatever its previous holder left open and
        fences that holder."""
        try:
            self._producer.init_transactions(self.timeout_s)
            return self
        except KafkaException as error:
            if _is_fatal(error):
                raise Fenced(str(error)) from error
            raise

    def committed(self, partitions: Iterable[int]) -> dict[int, int]:
        """The next offset to answer per partition, as committed by the last transaction."""
        wanted = [TopicPartition(self.source_topic, p) for p in sorted(set(partitions))]
        if not wanted:
            return {}
        found = self._offsets.committed(wanted, timeout=self.timeout_s)
        return {tp.partition: tp.offset for tp in found if tp.offset >= 0}

    def commit(self, records: Iterable[OutgoingRecord], offsets: Mapping[int, int]) -> int:
        """Writes `records` and commits `offsets` for the source topic in one transaction;
        returns how many records it wrote. Raises Fenced or TransactionAborted (also when the
        brokers do not answer within twice `timeout_s`; the writer is `stuck` then)."""
        if self.stuck:
            raise TransactionAborted("this writer's last transaction is stuck; open a new one")
        try:
            return within_deadline(2 * self.timeout_s, lambda: self._commit(records, offsets))
        except TimeoutError as error:
            self.stuck = True
            raise TransactionAborted(f"{error}; the transaction is given up") from error

    def _commit(self, records: Iterable[OutgoingRecord], offsets: Mapping[int, int]) -> int:
        written = 0
        try:
            self._producer.begin_transaction()
            for record in records:
                self._produce(record)
                written += 1
            self._producer.send_offsets_to_transaction(
                [TopicPartition(self.source_topic, p, o) for p, o in sorted(offsets.items())],
                self._offsets.consumer_group_metadata(),
                self.timeout_s,
            )
            self._producer.commit_transaction(self.timeout_s)
        except KafkaException as error:
            if _is_fatal(error):
                raise Fenced(str(error)) from error
            self._abort()
            raise TransactionAborted(str(error)) from error
        return written

    def _produce(self, record: OutgoingRecord) -> None:
        while True:
            try:
                self._producer.produce(
                    record.topic, value=record.value, key=record.key, headers=list(record.headers)
                )
                return
            except BufferError:  # the local queue is full: let it drain, then go on
                self._producer.poll(0.05)

    def _abort(self) -> None:
        try:
            self._producer.abort_transaction(self.timeout_s)
        except KafkaException as error:
            if _is_fatal(error):
                raise Fenced(str(error)) from error
            log.warning("aborting the transaction failed: %s", error)

    def close(self) -> None:
        self._offsets.close()
        self._producer.flush(self.timeout_s)

    def discard(self) -> None:
        """Drops this writer after a failure without waiting for the brokers: an open
        transaction is left to the next `open` of the transactional.id, which aborts it."""
        self._producer.purge()
        self._offsets.close()
