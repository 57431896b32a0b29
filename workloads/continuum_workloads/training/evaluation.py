"""Holdout metrics of a model's predictions: RMSE, MAE and R2 of the price."""

from __future__ import annotations

from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.sql import DataFrame

from continuum_workloads.training.features import LABEL

METRICS = ("rmse", "mae", "r2")


def holdout_metrics(predictions: DataFrame, prediction_col: str = "prediction") -> dict[str, float]:
    evaluator = RegressionEvaluator(labelCol=LABEL, predictionCol=prediction_col)
    return {name: evaluator.setMetricName(name).evaluate(predictions) for name in METRICS}
