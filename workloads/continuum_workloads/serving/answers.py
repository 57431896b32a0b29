"""Each request's answer as the Kafka record it is written as, computed in the query (in the task
that scored the request) for both modes: the exactly-once writer sends these records in its
transactions, Real-time Mode hands them to Spark's Kafka sink.

- A valid request → a prediction on the predictions topic, keyed by its `request_id`, value
  `{"request_id", "predicted_price", "model_name", "model_version", "request_time_ms",
  "prediction_time_ms"}`; `request_time_ms` is the request's `event_time`, else its Kafka
  timestamp; `prediction_time_ms` the moment the record was made.
- Any other → a dead letter on the dead-letter topic: the request's own key and bytes, and
  headers that say why (`REASON_HEADER`, `FIELD_HEADER`, `DETAIL_HEADER`, `SOURCE_HEADER`
  `<topic>/<partition>/<offset>`, and `REQUEST_ID_HEADER` when the request had one).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from continuum_workloads.serving.model import PREDICTION
from continuum_workloads.serving.records import ModelIdentity

REASON_HEADER = "continuum.reason"
FIELD_HEADER = "continuum.field"
DETAIL_HEADER = "continuum.detail"
SOURCE_HEADER = "continuum.source"
REQUEST_ID_HEADER = "continuum.request_id"

WALL_CLOCK = "continuum_now_ms"
"""A query function: the time a row is computed (Spark's current_timestamp() is fixed per batch)."""
RECORD_COLUMNS = ("topic", "key", "value", "headers")
"""The Kafka record, as Spark's Kafka sink reads it."""


def register_wall_clock(spark: SparkSession) -> None:
    spark.sparkContext._jvm.continuum.serving.WallClock.register(spark._jsparkSession, WALL_CLOCK)


def _header(name: str, value: Column) -> Column:
    return F.struct(F.lit(name).alias("key"), F.encode(value, "UTF-8").alias("value"))


def answer_records(
    scored: DataFrame, model: ModelIdentity, topics: tuple[str, str, str]
) -> DataFrame:
    """Scored requests (the source record, the verdict, the model's PREDICTION for valid ones) →
    `partition`, `offset`, `reason` and the RECORD_COLUMNS of each one's answer. `topics` is
    (requests, predictions, dead letters)."""
    requests_topic, predictions_topic, dead_letter_topic = topics
    register_wall_clock(scored.sparkSession)
    valid = F.col("reason").isNull()
    prediction = F.to_json(
        F.struct(
            F.col("request_id"),
            F.col(PREDICTION).alias("predicted_price"),
            F.lit(model.name).alias("model_name"),
            F.lit(model.version).alias("model_version"),
            F.coalesce("event_time_ms", "timestamp_ms").alias("request_time_ms"),
            F.call_function(WALL_CLOCK).alias("prediction_time_ms"),
        )
    )
    source = F.concat_ws("/", F.lit(requests_topic), "partition", "offset")
    why = F.array_compact(
        F.array(
            _header(REASON_HEADER, F.col("reason")),
            _header(FIELD_HEADER, F.coalesce("field", F.lit(""))),
            _header(DETAIL_HEADER, F.col("detail")),
            _header(SOURCE_HEADER, source),
            F.when(
                F.col("request_id").isNotNull(), _header(REQUEST_ID_HEADER, F.col("request_id"))
            ),
        )
    )
    return scored.select(
        "partition",
        "offset",
        "reason",
        F.when(valid, F.lit(predictions_topic)).otherwise(F.lit(dead_letter_topic)).alias("topic"),
        F.when(valid, F.encode("request_id", "UTF-8")).otherwise(F.col("key")).alias("key"),
        F.when(valid, F.encode(prediction, "UTF-8")).otherwise(F.col("value")).alias("value"),
        F.when(~valid, why).alias("headers"),
    )
