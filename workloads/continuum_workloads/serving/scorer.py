"""The scoring query: Kafka requests → validation → the model → predictions and dead letters,
each micro-batch written through `foreachBatch`, partition by partition of the requests topic.

Every record stays in Spark's JVM, in the task that read its Kafka partition (the Kafka source
reads each partition of a micro-batch in one task, and no step below shuffles), with no Python
worker in the way:
1. `validated`: the raw bytes judged by the JVM validator (`requests.validation`), a function
   of the query like Spark's own;
2. the PipelineModel over the valid listings (Spark's own stages, row by row);
3. `answers.answer_records`: each request's prediction or dead letter as a Kafka record;
4. `transactions.TransactionalOutput`: the partition's records in one Kafka transaction of its
   own, together with that partition's consumer-group offset, under the transactional.id
   `<the ServingDeployment's>-<partition>`.
The driver plans each batch and adds up what the tasks report, so throughput grows with the
requests topic's partitions and the executors' cores, not with the driver.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery
from pyspark.sql.streaming.listener import StreamingQueryProgress

from continuum_workloads.contract import ServingConfig
from continuum_workloads.serving.answers import RECORD_COLUMNS, answer_records
from continuum_workloads.serving.model import WARM_UP_LISTING, ListingModel
from continuum_workloads.serving.requests import (
    DEAD_LETTER_REASONS,
    register_validation,
    validation,
)
from continuum_workloads.serving.session import spark_interval
from continuum_workloads.serving.transactions import (
    FENCED_ERROR,
    Fenced,
    TransactionalOutput,
    committed_offsets,
)

log = logging.getLogger(__name__)
SCORING_QUERY = "continuum-scoring"
ANSWERS_OBSERVED = "continuum_answers"
"""The name under which a query written by Spark's Kafka sink reports its answers' counts."""

SOURCE_COLUMNS = ("partition", "offset", "key", "value", "timestamp_ms")


def warm_up_validation(spark: SparkSession) -> None:
    """Has every core judge one warm-up request, so that the validator's tables are compiled
    and its code warm before a new holder's first batch (otherwise that batch pays for it: a
    second or more on a busy machine). Writes nothing."""
    cores = spark.sparkContext.defaultParallelism
    request = json.dumps({"request_id": "warm-up", **WARM_UP_LISTING}).encode()
    now = datetime.now(UTC)
    records = spark.createDataFrame(
        [(core, 0, None, request, now) for core in range(cores)],
        "partition int, offset long, key binary, value binary, timestamp timestamp",
    ).repartition(cores)
    validated(records).select("reason").collect()


def validated(requests: DataFrame) -> DataFrame:
    """Spark's Kafka records → SOURCE_COLUMNS, VERDICT_FIELDS and, when valid, the listing as
    text, judged in the tasks that read them."""
    register_validation(requests.sparkSession)
    judged = requests.select(
        "partition",
        "offset",
        "key",
        "value",
        F.unix_millis("timestamp").alias("timestamp_ms"),
        validation(F.col("value")).alias("verdict"),
    )
    return judged.select(*SOURCE_COLUMNS, "verdict.*")


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


class NotHolding(RuntimeError):
    """The pod cannot tell that it still holds the handoff Lease: it must not write."""


class BatchScorer:
    """The `foreachBatch` function over the `reports` plan: running a batch's plan answers its
    requests. `on_batch` hears of each outcome (metrics, tests); `holding`, checked before
    each batch, says whether this pod still holds the Lease."""

    def __init__(
        self,
        model: ListingModel,
        config: ServingConfig,
        client_config: dict[str, str],
        on_batch: Callable[[BatchOutcome], None] | None = None,
        holding: Callable[[], bool] | None = None,
    ) -> None:
        self.model = model
        self.topics = config.topics
        self.output = TransactionalOutput.of(config, client_config)
        self.on_batch = on_batch
        self.holding = holding

    def __call__(self, frame: DataFrame, batch_id: int) -> None:
        if self.holding is not None and not self.holding():
            raise NotHolding(f"batch {batch_id}: not run, the handoff Lease is not held")
        try:
            self._score(frame, batch_id)
        except Exception as error:
            # A fence is raised in a task and reaches the driver as the text of a failed job.
            if FENCED_ERROR not in str(error):
                raise
            log.error("batch %d: fenced by another holder of a transactional.id", batch_id)
            why = next(line for line in str(error).splitlines() if FENCED_ERROR in line)
            raise Fenced(why.strip()) from error

    def reports(self, requests: DataFrame) -> DataFrame:
        """The whole scoring plan over Spark's Kafka records, built once per query (building
        the model's stages costs about a third of a second, too much to repeat every batch):
        one row per Kafka partition of each micro-batch (`TransactionalOutput.written`)."""
        scored = self.model.model.transform(validated(requests))
        return self.output.written(answer_records(scored, self.model.identity, self.topics))

    def _score(self, frame: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        reports = frame.collect()
        dead: Counter[str] = Counter()
        for report in reports:
            dead.update(json.loads(report["dead_letters"]))
        outcome = BatchOutcome(
            batch_id,
            sum(r["records"] for r in reports),
            sum(r["skipped"] for r in reports),
            sum(r["predictions"] for r in reports),
            dict(dead),
            time.perf_counter() - started,
        )
        if outcome.skipped:
            log.info(
                "batch %d: %d of %d records were already answered (a replay); skipped them",
                batch_id, outcome.skipped, outcome.records,
            )  # fmt: skip
        if self.on_batch is not None:
            self.on_batch(outcome)


def kafka_options(client_config: dict[str, str]) -> dict[str, str]:
    """The client properties as Spark's Kafka source and sink take them: prefixed `kafka.`."""
    return {f"kafka.{key}": value for key, value in client_config.items()}


def read_requests(
    spark: SparkSession,
    config: ServingConfig,
    client_config: dict[str, str],
    starting_offsets: str = "earliest",
) -> DataFrame:
    """The requests topic as a stream of Spark's Kafka records. Only a query without a
    checkpoint reads `starting_offsets`: by default a new ServingDeployment answers what is
    already waiting, and the committed offsets skip whatever an earlier holder answered."""
    return (
        spark.readStream.format("kafka")
        .options(**kafka_options(client_config))
        .option("subscribe", config.requests_topic)
        .option("startingOffsets", starting_offsets)
        .option("failOnDataLoss", "false")
        .load()
    )


def scoring_stream(
    spark: SparkSession,
    config: ServingConfig,
    client_config: dict[str, str],
    scorer: BatchScorer,
) -> DataStreamWriter:
    """The scoring query, planned but not started: a pod plans it while it waits for the
    Lease, so that taking over costs only the start."""
    return (
        scorer.reports(read_requests(spark, config, client_config))
        .writeStream.queryName(SCORING_QUERY)
        .foreachBatch(scorer)
        .option("checkpointLocation", config.checkpoint("scoring"))
        .trigger(processingTime=spark_interval(config.trigger_interval))
    )


def answers_to_kafka(
    spark: SparkSession,
    config: ServingConfig,
    client_config: dict[str, str],
    model: ListingModel,
    starting_offsets: str = "earliest",
) -> DataStreamWriter:
    """The same validation, model and answer records as the exactly-once path, each record
    written by Spark's own Kafka sink (at least once); trigger and checkpoint not yet set."""
    requests = read_requests(spark, config, client_config, starting_offsets)
    scored = model.model.transform(validated(requests))
    answers = answer_records(scored, model.identity, config.topics)
    reason = F.col("reason")
    counted = answers.observe(
        ANSWERS_OBSERVED,
        F.count_if(reason.isNull()).alias("predictions"),
        *(F.count_if(reason == r).alias(r) for r in DEAD_LETTER_REASONS),
    )
    records = counted.select(*RECORD_COLUMNS)
    return records.writeStream.format("kafka").options(**kafka_options(client_config))


def sink_outcome(progress: StreamingQueryProgress) -> BatchOutcome:
    """What a batch of a query written by Spark's Kafka sink answered, from its progress report
    (there is no batch function to count in): its `ANSWERS_OBSERVED` counts, and the batch's
    whole duration (in Real-time Mode, the real-time batch's)."""
    observed = progress.observedMetrics.get(ANSWERS_OBSERVED)
    counts = observed.asDict() if observed is not None else {}
    predictions = counts.pop("predictions", 0)
    return BatchOutcome(
        batch_id=progress.batchId,
        records=progress.numInputRows,
        skipped=0,
        predictions=predictions,
        dead_letters={reason: n for reason, n in counts.items() if n},
        seconds=progress.batchDuration / 1000,
    )


def realtime_stream(
    spark: SparkSession,
    config: ServingConfig,
    client_config: dict[str, str],
    model: ListingModel,
) -> DataStreamWriter:
    """`mode: realtime`: `answers_to_kafka` under Spark's Real-time Mode, each answer written as
    soon as it is made. At least once: a batch stopped or failed before its end is run again
    whole (from a checkpoint of its own)."""
    # Read only by a query without a checkpoint: a deployment switched from exactly once goes on
    # after the last request that mode committed, instead of answering the whole topic again.
    offsets = committed_offsets(client_config, config.answered_offsets_group, config.requests_topic)
    starting = json.dumps({config.requests_topic: {str(p): o for p, o in offsets.items()}})
    return (
        answers_to_kafka(spark, config, client_config, model, starting)
        .queryName(SCORING_QUERY)
        .option("checkpointLocation", config.checkpoint("scoring-realtime"))
        .outputMode("update")
        .trigger(realTime=spark_interval(config.trigger_interval))
    )


def start_scoring(
    spark: SparkSession,
    config: ServingConfig,
    client_config: dict[str, str],
    scorer: BatchScorer,
) -> StreamingQuery:
    return scoring_stream(spark, config, client_config, scorer).start()
