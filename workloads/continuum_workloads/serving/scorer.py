"""The scoring query: Kafka requests → validation → the model → predictions and dead letters,
each micro-batch written through `foreachBatch`, partition by partition of the requests topic.

Every record stays in Spark's executors, in the task that read its Kafka partition (the Kafka
source reads each partition of a micro-batch in one task, and no step below shuffles):
1. `validated_requests`: the raw bytes judged by `requests.validate`, in `mapInPandas`;
2. the PipelineModel over the valid listings (Spark's own stages, row by row);
3. `PartitionWriter`: the partition's predictions and dead letters in one Kafka transaction of
   its own, together with that partition's consumer-group offset, under the transactional.id
   `<the ServingDeployment's>-<partition>` (`transactions`).
The driver plans each batch and adds up what the tasks report, so throughput grows with the
requests topic's partitions and the executors' cores, not with the driver.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery
from pyspark.sql.types import (
    BinaryType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from continuum_workloads.contract import ServingConfig
from continuum_workloads.serving.model import PREDICTION, WARM_UP_LISTING, ListingModel
from continuum_workloads.serving.records import (
    ModelIdentity,
    SourceRecord,
    answers,
    next_offsets,
    pending,
)
from continuum_workloads.serving.requests import (
    LISTING_FIELDS,
    Rejection,
    ValidRequest,
    validate,
)
from continuum_workloads.serving.session import spark_interval
from continuum_workloads.serving.transactions import (
    Fenced,
    TransactionalWriter,
    partition_transactional_id,
)

log = logging.getLogger(__name__)
SCORING_QUERY = "continuum-scoring"

SOURCE_COLUMNS = ("partition", "offset", "key", "value", "timestamp_ms")
VERDICT_FIELDS = [
    StructField("partition", IntegerType()),
    StructField("offset", LongType()),
    StructField("key", BinaryType()),
    StructField("value", BinaryType()),
    StructField("timestamp_ms", LongType()),
    StructField("request_id", StringType()),
    StructField("event_time_ms", LongType()),
    StructField("reason", StringType()),  # None for a valid request
    StructField("field", StringType()),
    StructField("detail", StringType()),
]
VALIDATED = StructType(VERDICT_FIELDS + [StructField(n, StringType()) for n in LISTING_FIELDS])
"""A request judged: its source record, its verdict and, when valid, its listing as text."""
ANSWERED_COLUMNS = [field.name for field in VERDICT_FIELDS] + [PREDICTION]
PARTITION_OUTCOME = StructType(
    [
        StructField("partition", IntegerType()),
        StructField("records", LongType()),
        StructField("skipped", LongType()),
        StructField("predictions", LongType()),
        StructField("dead_letters", StringType()),  # JSON: {reason: count}
    ]
)


def validated_requests(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """`mapInPandas`: source records → VALIDATED rows, one per record, in order."""
    no_listing = [None] * len(LISTING_FIELDS)
    for chunk in chunks:
        rows = []
        for source in zip(*(chunk[name] for name in SOURCE_COLUMNS), strict=True):
            verdict = validate(source[3])
            if isinstance(verdict, ValidRequest):
                listing = [verdict.listing.get(name) for name in LISTING_FIELDS]
                rows.append((*source, verdict.request_id, verdict.event_time_ms, None, None,
                             None, *listing))  # fmt: skip
            else:
                rows.append((*source, verdict.request_id, None, verdict.reason, verdict.field,
                             verdict.detail, *no_listing))  # fmt: skip
        yield pd.DataFrame.from_records(rows, columns=VALIDATED.fieldNames())


def start_python_workers(spark: SparkSession) -> None:
    """Has Spark start a Python worker per core and import the scorer in it, by validating one
    warm-up request per core: otherwise a new holder's first batch pays for that (seconds on a
    busy machine). Writes nothing."""
    cores = spark.sparkContext.defaultParallelism
    request = json.dumps({"request_id": "warm-up", **WARM_UP_LISTING}).encode()
    now = datetime.now(UTC)
    records = spark.createDataFrame(
        [(core, 0, None, request, now) for core in range(cores)],
        "partition int, offset long, key binary, value binary, timestamp timestamp",
    ).repartition(cores)
    validated(records).collect()


def validated(requests: DataFrame) -> DataFrame:
    """Spark's Kafka records → VALIDATED rows, judged in the tasks that read them."""
    return requests.select(
        "partition", "offset", "key", "value", F.unix_millis("timestamp").alias("timestamp_ms")
    ).mapInPandas(validated_requests, VALIDATED)


def _optional(value: object) -> object:
    """None for a missing value, however pandas spells it (None, NaN, NA)."""
    return None if pd.isna(value) else value


def verdict_of(row: tuple) -> ValidRequest | Rejection:
    """A VALIDATED row (as a writing task reads it) → the verdict its answer is built from."""
    request_id = _optional(row.request_id)
    if _optional(row.reason) is None:
        event_time = _optional(row.event_time_ms)
        return ValidRequest(request_id, None if event_time is None else int(event_time), {})
    return Rejection(row.reason, _optional(row.field), row.detail, request_id)


@dataclass(frozen=True)
class PartitionWriter:
    """`mapInPandas` in each task: answers the task's records, one transaction per Kafka
    partition, and reports one PARTITION_OUTCOME row per partition."""

    client_config: dict[str, str]
    transactional_id: str
    consumer_group: str
    topics: tuple[str, str, str]
    """(requests, predictions, dead letters)."""
    model: ModelIdentity
    timeout_s: float = 30.0

    def __call__(self, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        frames = [chunk for chunk in chunks if len(chunk)]
        if not frames:
            return
        records = pd.concat(frames, ignore_index=True)
        for partition, rows in records.groupby("partition", sort=True):
            outcome = self._answer(int(partition), rows)
            yield pd.DataFrame([outcome], columns=PARTITION_OUTCOME.fieldNames())

    def _answer(self, partition: int, rows: pd.DataFrame) -> tuple:
        writer = TransactionalWriter(
            self.client_config,
            partition_transactional_id(self.transactional_id, partition),
            self.consumer_group,
            self.topics[0],
            self.timeout_s,
        )
        try:
            # Opened first: once it holds the id, no older writer can commit, so the offset
            # read next is the last word on what is already answered.
            writer.open()
            by_offset = {int(row.offset): row for row in rows.itertuples(index=False)}
            sources = [
                SourceRecord(partition, offset, row.key, row.value, int(row.timestamp_ms))
                for offset, row in by_offset.items()
            ]
            todo = pending(sources, writer.committed([partition]))
            judged = [verdict_of(by_offset[source.offset]) for source in todo]
            prices = [
                float(by_offset[source.offset].prediction)
                for source, verdict in zip(todo, judged, strict=True)
                if isinstance(verdict, ValidRequest)
            ]
            outgoing = answers(
                todo, judged, prices, self.model, self.topics, int(time.time() * 1000)
            )
            if todo:
                writer.commit(outgoing, next_offsets(todo))
            writer.close()
        except BaseException:
            writer.discard()
            raise
        dead = Counter(v.reason for v in judged if isinstance(v, Rejection))
        return partition, len(rows), len(rows) - len(todo), len(prices), json.dumps(dead)


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
        self.writer = PartitionWriter(
            dict(client_config),
            config.transactional_id,
            config.consumer_group or config.transactional_id,
            (config.requests_topic, config.predictions_topic, config.dead_letter_topic),
            model.identity,
        )
        self.on_batch = on_batch
        self.holding = holding

    def __call__(self, frame: DataFrame, batch_id: int) -> None:
        if self.holding is not None and not self.holding():
            raise NotHolding(f"batch {batch_id}: not run, the handoff Lease is not held")
        try:
            self._score(frame, batch_id)
        except Exception as error:
            # Fenced is raised in a task and reaches the driver as the text of a failed job.
            if f"{Fenced.__module__}.Fenced" not in str(error):
                raise
            log.error("batch %d: fenced by another holder of a transactional.id", batch_id)
            raise Fenced(str(error).splitlines()[0]) from error

    def reports(self, requests: DataFrame) -> DataFrame:
        """The whole scoring plan over Spark's Kafka records, built once per query (building
        the model's stages costs about a third of a second, too much to repeat every batch):
        one PARTITION_OUTCOME row per Kafka partition of each micro-batch."""
        answered = self.model.model.transform(validated(requests)).select(*ANSWERED_COLUMNS)
        return answered.mapInPandas(self.writer, PARTITION_OUTCOME)

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


def scoring_stream(
    spark: SparkSession,
    config: ServingConfig,
    client_config: dict[str, str],
    scorer: BatchScorer,
) -> DataStreamWriter:
    """The scoring query, planned but not started: a pod plans it while it waits for the
    Lease, so that taking over costs only the start."""
    checkpoint = f"{config.checkpoint_uri.rstrip('/')}/scoring"
    requests = (
        spark.readStream.format("kafka")
        .options(**kafka_source_options(config, client_config))
        .load()
    )
    return (
        scorer.reports(requests)
        .writeStream.queryName(SCORING_QUERY)
        .foreachBatch(scorer)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime=spark_interval(config.trigger_interval))
    )


def start_scoring(
    spark: SparkSession,
    config: ServingConfig,
    client_config: dict[str, str],
    scorer: BatchScorer,
) -> StreamingQuery:
    return scoring_stream(spark, config, client_config, scorer).start()
