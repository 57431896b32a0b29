"""Holdout metrics of a model's predictions: RMSE, MAE and R2 of the price."""

from __future__ import annotations

from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from continuum_workloads.training.features import LABEL

METRICS = ("rmse", "mae", "r2")


def holdout_metrics(predictions: DataFrame, prediction: Column | None = None) -> dict[str, float]:
    """Scores of `prediction` (default: the `prediction` column) against the listed price."""
    scored = predictions.select(
        F.col(LABEL).cast("double").alias(LABEL),
        (F.col("prediction") if prediction is None else prediction).alias("scored"),
    ).cache()
    evaluator = RegressionEvaluator(labelCol=LABEL, predictionCol="scored")
    try:
        return {name: evaluator.setMetricName(name).evaluate(scored) for name in METRICS}
    finally:
        scored.unpersist()
