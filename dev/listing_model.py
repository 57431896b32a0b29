"""A small model of the training job's own stages, registered in the stack's MLflow: what the
serving tests and the serving benchmark score, trained in seconds on a few hundred listings."""

from __future__ import annotations

import uuid

import mlflow
import pandas as pd
from pyspark.ml import Pipeline
from pyspark.ml.regression import LinearRegression
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from continuum_workloads.dataset.parsing import typed_columns
from continuum_workloads.serving.records import ModelIdentity
from continuum_workloads.training.features import (
    CATEGORICAL,
    DERIVED,
    LINEAR_FEATURES,
    NUMERIC,
    Inputs,
    category,
    clean,
    feature_stages,
    input_stage,
    number,
)
from continuum_workloads.training.tracking import register


def register_listing_model(
    spark: SparkSession, listings: pd.DataFrame, tracking_uri: str
) -> ModelIdentity:
    """A PipelineModel of the training job's stages (its SQL input stage first, then the feature
    stages over the inputs these rows have values for) and a linear regression on the price,
    registered in the stack's MLflow: version 1 of a new registered model."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(f"listing-model-{uuid.uuid4().hex[:6]}")
    name = f"listing-model-{uuid.uuid4().hex[:8]}"
    raw = spark.createDataFrame(listings)
    kept, _ = clean(raw)
    kept = kept.withColumn("label", typed_columns(["price"])["price"])
    typed = input_stage().transform(kept)
    counts = typed.select(
        [F.count(number(n)).alias(number(n)) for n in (*NUMERIC, *DERIVED)]
        + [F.count(category(n)).alias(category(n)) for n in CATEGORICAL]
    ).first()
    inputs = Inputs(
        numeric=tuple(n for n in (*NUMERIC, *DERIVED) if counts[number(n)]),
        categorical=tuple(n for n in CATEGORICAL if counts[category(n)]),
        dropped=(),
    )
    regression = LinearRegression(featuresCol=LINEAR_FEATURES, labelCol="label", maxIter=20)
    model = Pipeline(stages=[input_stage(), *feature_stages(inputs), regression]).fit(kept)
    with mlflow.start_run():
        version = register(model, name, raw.drop("price").columns, tags={})
    return ModelIdentity(name, version.version)
