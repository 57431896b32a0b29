"""Cross-validated members trained concurrently, and the stacker over their out-of-fold
predictions, composed into one PipelineModel: features → members → stacker."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark.ml import Model, PipelineModel
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression, LinearRegressionModel
from pyspark.ml.tuning import CrossValidator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from continuum_workloads.training.features import LABEL
from continuum_workloads.training.members import Member

log = logging.getLogger(__name__)

ROW_ID = "listing_id"
FOLD = "fold"
STACK_FEATURES = "stack_features"


@dataclass(frozen=True)
class FittedMember:
    name: str
    model: Model  # refit on all training rows with the best parameters
    best_params: dict[str, object]
    cv_rmse: float
    train_seconds: float
    out_of_fold: DataFrame  # ROW_ID, prediction_<name>: each row predicted by a model blind to it


def with_folds(data: DataFrame, folds: int, seed: int) -> DataFrame:
    """A deterministic fold per row, so tuning and stacking see the very same folds."""
    return data.withColumn(
        FOLD, F.pmod(F.xxhash64(F.col(ROW_ID), F.lit(seed)), F.lit(folds)).cast("int")
    )


def fit_member(
    spark: SparkSession, member: Member, data: DataFrame, folds: int, parallelism: int
) -> FittedMember:
    # Each member's jobs share the cores fairly with the others' (spark.scheduler.mode=FAIR).
    spark.sparkContext.setLocalProperty("spark.scheduler.pool", member.name)
    evaluator = RegressionEvaluator(labelCol=LABEL, predictionCol=member.prediction_col)
    validator = CrossValidator(
        estimator=member.estimator,
        estimatorParamMaps=member.grid,
        evaluator=evaluator,
        numFolds=folds,
        foldCol=FOLD,
        parallelism=parallelism,
        collectSubModels=True,
    )
    log.info("%s: %d-fold cross-validation over %d settings", member.name, folds, len(member.grid))
    started = time.perf_counter()
    tuned = validator.fit(data)
    train_seconds = time.perf_counter() - started
    best = min(range(len(member.grid)), key=lambda i: tuned.avgMetrics[i])
    best_params = {param.name: value for param, value in member.grid[best].items()}
    log.info(
        "%s: best %s, cross-validated rmse %.6g, %.0f s",
        member.name, best_params, tuned.avgMetrics[best], train_seconds,
    )  # fmt: skip
    # subModels[k][best] was trained without fold k: its predictions there are out-of-fold.
    out_of_fold = functools.reduce(
        DataFrame.unionByName,
        (
            tuned.subModels[k][best]
            .transform(data.where(F.col(FOLD) == k))
            .select(ROW_ID, member.prediction_col)
            for k in range(folds)
        ),
    )
    return FittedMember(
        name=member.name,
        model=tuned.bestModel,
        best_params=best_params,
        cv_rmse=tuned.avgMetrics[best],
        train_seconds=train_seconds,
        out_of_fold=out_of_fold.cache(),
    )


def fit_members(
    spark: SparkSession,
    members: Sequence[Member],
    data: DataFrame,
    folds: int,
    cv_parallelism: int,
    member_parallelism: int,
) -> list[FittedMember]:
    """All members; `member_parallelism` of them at a time, each in a thread of its own."""
    with ThreadPoolExecutor(max_workers=member_parallelism) as pool:
        return list(pool.map(lambda m: fit_member(spark, m, data, folds, cv_parallelism), members))


def fit_stacker(
    fitted: Sequence[FittedMember], data: DataFrame
) -> tuple[VectorAssembler, LinearRegressionModel]:
    """A linear model over the members' out-of-fold predictions (never in-sample ones)."""
    columns = [m.model.getPredictionCol() for m in fitted]
    out_of_fold = functools.reduce(
        lambda frame, member: frame.join(member.out_of_fold, ROW_ID),
        fitted,
        data.select(ROW_ID, LABEL),
    )
    assembler = VectorAssembler(inputCols=columns, outputCol=STACK_FEATURES)
    stacker = LinearRegression(
        featuresCol=STACK_FEATURES, labelCol=LABEL, predictionCol="prediction"
    )
    return assembler, stacker.fit(assembler.transform(out_of_fold))


def compose(
    features: PipelineModel,
    fitted: Sequence[FittedMember],
    assembler: VectorAssembler,
    stacker: LinearRegressionModel,
) -> PipelineModel:
    """One loadable model from raw listings to `prediction`; members' columns stay visible."""
    return PipelineModel(stages=[*features.stages, *(m.model for m in fitted), assembler, stacker])
