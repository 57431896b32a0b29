"""Live model quality: predictions joined with feedback (the price a manager set later), RMSE,
MAE, MAPE and count per model version over a sliding window of feedback time.

A query of its own with its own checkpoint (`<checkpoint>/metrics`), in micro-batches: a
stream-stream join with watermarks, then a windowed aggregation, both stateful. A prediction
waits for its feedback up to `feedback_delay`; feedback that arrives later than the watermark
allows is dropped by Spark and counted (`late_feedback`, from the query's progress).

Each window is written once it is final (append mode), keyed `<model version>/<window start>`,
so a replayed batch writes the same key and value again: consumers keep the last value per key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from confluent_kafka import Producer
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from continuum_workloads.contract import ServingConfig
from continuum_workloads.serving.session import spark_interval

log = logging.getLogger(__name__)
METRICS_QUERY = "continuum-live-metrics"
PREDICTION_SCHEMA = StructType(
    [
        StructField("request_id", StringType()),
        StructField("predicted_price", DoubleType()),
        StructField("model_name", StringType()),
        StructField("model_version", StringType()),
        StructField("prediction_time_ms", LongType()),
    ]
)
FEEDBACK_SCHEMA = StructType(
    [StructField("request_id", StringType()), StructField("price", DoubleType())]
)
METRICS = ("rmse", "mae", "mape", "count")


def windowed_errors(
    predictions: DataFrame,
    feedback: DataFrame,
    window: str,
    slide: str,
    feedback_delay: str,
) -> DataFrame:
    """Kafka frames of predictions and feedback → one row per (window, model version) with
    count, rmse, mae, mape. Feedback counts in the windows of its Kafka timestamp."""
    delay = spark_interval(feedback_delay)
    predicted = (
        predictions.select(F.from_json(F.col("value").cast("string"), PREDICTION_SCHEMA).alias("p"))
        .select("p.*")
        .where(F.col("request_id").isNotNull() & F.col("predicted_price").isNotNull())
        .withColumn("predicted_at", F.timestamp_millis("prediction_time_ms"))
        .withWatermark("predicted_at", delay)
    )
    actual = (
        feedback.select(
            F.from_json(F.col("value").cast("string"), FEEDBACK_SCHEMA).alias("f"),
            F.col("timestamp").alias("feedback_at"),
        )
        .select(
            F.col("f.request_id").alias("feedback_request_id"),
            F.col("f.price").alias("actual_price"),
            "feedback_at",
        )
        .where(F.col("feedback_request_id").isNotNull() & F.col("actual_price").isNotNull())
        .withWatermark("feedback_at", delay)
    )
    joined = predicted.join(
        actual,
        F.expr(
            "request_id = feedback_request_id AND feedback_at >= predicted_at - INTERVAL 1 MINUTE "
            f"AND feedback_at <= predicted_at + INTERVAL {delay}"
        ),
    )
    error = F.col("predicted_price") - F.col("actual_price")
    relative = F.when(F.col("actual_price") != 0, F.abs(error) / F.abs(F.col("actual_price")))
    return (
        joined.groupBy(
            F.window("feedback_at", spark_interval(window), spark_interval(slide)),
            "model_name",
            "model_version",
        )
        .agg(
            F.count(F.lit(1)).alias("count"),
            F.sqrt(F.avg(error * error)).alias("rmse"),
            F.avg(F.abs(error)).alias("mae"),
            F.avg(relative).alias("mape"),
        )
        .select(
            F.unix_millis(F.col("window.start")).alias("window_start_ms"),
            F.unix_millis(F.col("window.end")).alias("window_end_ms"),
            "model_name",
            "model_version",
            *METRICS,
        )
    )


def metric_record(row: dict[str, object]) -> tuple[bytes, bytes]:
    key = f"{row['model_version']}/{row['window_start_ms']}".encode()
    return key, json.dumps(row, sort_keys=True).encode()


class MetricsSink:
    """The `foreachBatch` function: final windows → the metrics topic, and `on_window` (the
    Prometheus gauges)."""

    def __init__(
        self,
        client_config: dict[str, str],
        topic: str | None,
        on_window: Callable[[dict[str, object]], None],
    ) -> None:
        self.topic = topic
        self.on_window = on_window
        self._producer = Producer({**client_config, "enable.idempotence": True})

    def __call__(self, frame: DataFrame, batch_id: int) -> None:
        rows = [row.asDict() for row in frame.collect()]
        for row in sorted(rows, key=lambda r: (r["window_start_ms"], r["model_version"])):
            if self.topic:
                key, value = metric_record(row)
                self._producer.produce(self.topic, key=key, value=value)
            self.on_window(row)
        if rows and self._producer.flush(60) != 0:
            raise RuntimeError(f"metrics of batch {batch_id} were not all delivered")


def late_feedback(query: StreamingQuery) -> int:
    """Rows the join and the windows dropped for arriving behind the watermark (last batch)."""
    progress = query.lastProgress or {}
    return sum(op.get("numRowsDroppedByWatermark", 0) for op in progress.get("stateOperators", []))


def start_live_metrics(
    spark: SparkSession,
    config: ServingConfig,
    client_config: dict[str, str],
    sink: MetricsSink,
) -> StreamingQuery:
    if not config.feedback_topic:
        raise ValueError("live metrics need a feedback topic")
    options = {f"kafka.{key}": value for key, value in client_config.items()}

    def read(topic: str) -> DataFrame:
        return (
            spark.readStream.format("kafka")
            .options(**options)
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .option("failOnDataLoss", "false")
            # Only committed predictions: an aborted batch's records are never counted.
            .option("kafka.isolation.level", "read_committed")
            .load()
        )

    metrics = windowed_errors(
        read(config.predictions_topic),
        read(config.feedback_topic),
        config.metrics_window,
        config.metrics_slide,
        config.feedback_delay,
    )
    return (
        metrics.writeStream.queryName(METRICS_QUERY)
        .outputMode("append")
        .foreachBatch(sink)
        .option("checkpointLocation", config.checkpoint("metrics"))
        .start()
    )
