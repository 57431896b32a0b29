"""The scoring query: Kafka requests → validation → the model → predictions and dead letters,
each micro-batch written through `foreachBatch` in one Kafka transaction (`transactions`).

This first version collects each micro-batch to the driver, validates and scores it there (the
model itself runs in Spark) and produces from the driver: one transactional producer per
ServingDeployment. Its ceiling is the driver's; the README gives the measured figure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from continuum_workloads.contract import ServingConfig
from continuum_workloads.serving.model import ListingModel
from continuum_workloads.serving.records import SourceRecord, answers, next_offsets, pending
from continuum_workloads.serving.requests import ValidRequest, validate
from continuum_workloads.serving.session import spark_interval
from continuum_workloads.serving.transactions import Fenced, TransactionalWriter

log = logging.getLogger(__name__)
SCORING_QUERY = "continuum-scoring"


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: int
    records: int
    """Records in the micro-batch."""
    skipped: int
    """Records already answered by an earlier, committed transaction (a replay)."""
    predictions: int
    dead_letters: dict[str, int]
    """Dead letters by reason."""
    seconds: float


class BatchScorer:
    """The `foreachBatch` function. `on_batch` hears of each outcome (metrics, tests)."""

    def __init__(
        self,
        model: ListingModel,
        writer: TransactionalWriter,
        config: ServingConfig,
        on_batch: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        self.model = model
        self.writer = writer
        self.topics = (config.requests_topic, config.predictions_topic, config.dead_letter_topic)
        self.on_batch = on_batch
        self.fenced = threading.Event()
        """Set once the broker refused a commit because a newer holder took the transactional.id."""

    def __call__(self, frame: DataFrame, batch_id: int) -> None:
        try:
            self._score(frame, batch_id)
        except Fenced:
            self.fenced.set()
            log.error("batch %d: fenced by a newer holder of the transactional.id", batch_id)
            raise

    def _score(self, frame: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        records = [
            SourceRecord(row.partition, row.offset, row.key, row.value, row.timestamp_ms)
            for row in frame.select(
                "partition",
                "offset",
                "key",
                "value",
                F.unix_millis("timestamp").alias("timestamp_ms"),
            ).collect()
        ]
        todo = pending(records, self.writer.committed(r.partition for r in records))
        judged = [validate(record.value) for record in todo]
        valid = [verdict for verdict in judged if isinstance(verdict, ValidRequest)]
        prices = self.model.prices([verdict.listing for verdict in valid])
        outgoing = answers(
            todo, judged, prices, self.model.identity, self.topics, int(time.time() * 1000)
        )
        if todo:
            self.writer.commit(outgoing, next_offsets(todo))
        dead: dict[str, int] = {}
        for verdict in judged:
            if not isinstance(verdict, ValidRequest):
                dead[verdict.reason] = dead.get(verdict.reason, 0) + 1
        outcome = BatchOutcome(
            batch_id,
            len(records),
            len(records) - len(todo),
            len(valid),
            dead,
            time.perf_counter() - started,
        )
        if outcome.skipped:
            log.info(
                "batch %d: %d of %d records were already answered (a replay); skipped them",
                batch_id, outcome.skipped, outcome.records,
            )  # fmt: skip
        if self.on_batch is not None:
            self.on_batch(outcome)


def kafka_source_options(config: ServingConfig, client_config: dict[str, str]) -> dict[str, str]:
    """Options of Spark's Kafka source: the client properties prefixed `kafka.`."""
    return {
        **{f"kafka.{key}": value for key, value in client_config.items()},
        "subscribe": config.requests_topic,
        # Only a query without a checkpoint reads this: a new ServingDeployment answers what is
        # already waiting; the committed offsets skip whatever an earlier holder answered.
        "startingOffsets": "earliest",
        "failOnDataLoss": "false",
    }


def start_scoring(
    spark: SparkSession,
    config: ServingConfig,
    client_config: dict[str, str],
    scorer: BatchScorer,
) -> StreamingQuery:
    checkpoint = f"{config.checkpoint_uri.rstrip('/')}/scoring"
    requests = (
        spark.readStream.format("kafka")
        .options(**kafka_source_options(config, client_config))
        .load()
    )
    return (
        requests.writeStream.queryName(SCORING_QUERY)
        .foreachBatch(scorer)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime=spark_interval(config.trigger_interval))
        .start()
    )
