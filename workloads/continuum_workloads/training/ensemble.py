"""Members cross-fitted fold by fold, the stacker over their out-of-fold predictions, composed
into one PipelineModel: inputs → features → members → stacker → price.

In each fold the feature stages (imputer, indexers, scaler) are fitted on that fold's training
rows only, then every member on the features they give; the held-out fold is predicted by models
that never saw it, statistics included. A last round fits the same on all training rows: those
are the models the PipelineModel holds.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pyspark.ml import Model, Pipeline, PipelineModel
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression, LinearRegressionModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from continuum_workloads.training.features import (
    LINEAR_FEATURES,
    LOG_LABEL,
    LOG_PREDICTION,
    TREE_FEATURES,
    Inputs,
    feature_stages,
    input_stage,
    largest_category_count,
    log_label,
    model_inputs,
    output_stage,
)
from continuum_workloads.training.members import Member

log = logging.getLogger(__name__)

ROW_ID = "listing_id"
FOLD = "fold"
STACK_FEATURES = "stack_features"


@dataclass
class FittedMember:
    name: str
    settings: dict[str, object]
    model: Model | None = None  # fitted on all training rows
    fold_seconds: list[float] = field(default_factory=list)  # one fit per fold, then the last
    cv_rmse: float = float("nan")  # of the price, over every out-of-fold prediction

    @property
    def train_seconds(self) -> float:
        return sum(self.fold_seconds)


@dataclass(frozen=True)
class Round:
    """One fold's fits (or, with `held_out` None, the last round's on all training rows)."""

    held_out: int | None
    features: PipelineModel
    models: dict[str, Model]
    feature_seconds: float
    member_seconds: dict[str, float]
    out_of_fold: DataFrame | None  # ROW_ID, LOG_LABEL, prediction_<member>...


@dataclass(frozen=True)
class CrossFit:
    features: PipelineModel  # fitted on all training rows
    members: list[FittedMember]
    out_of_fold: DataFrame  # every training row, predicted by each member blind to it
    feature_seconds: list[float]


def with_folds(data: DataFrame, folds: int, seed: int) -> DataFrame:
    """A deterministic fold per row, so every member and the stacker see the very same folds."""
    return data.withColumn(
        FOLD, F.pmod(F.xxhash64(F.col(ROW_ID), F.lit(seed)), F.lit(folds)).cast("int")
    )


def training_rows(cleaned: DataFrame, folds: int, seed: int) -> DataFrame:
    """Cleaned raw listings → what the rounds read: id, fold, typed inputs, log price. The
    input stage is stateless, so it runs once here instead of once per fold."""
    typed = with_folds(input_stage().transform(cleaned), folds, seed)
    return typed.select(ROW_ID, FOLD, *model_inputs(), log_label().alias(LOG_LABEL))


def _fit_member(spark: SparkSession, member: Member, largest: int, rows: DataFrame) -> tuple:
    # Each member's jobs share the cores fairly with the others' (spark.scheduler.mode=FAIR).
    spark.sparkContext.setLocalProperty("spark.scheduler.pool", member.name)
    started = time.perf_counter()
    model = member.for_categories(largest).fit(rows)
    return model, time.perf_counter() - started


def fit_round(
    spark: SparkSession,
    members: Sequence[Member],
    inputs: Inputs,
    typed: DataFrame,
    held_out: int | None,
    member_parallelism: int,
) -> Round:
    """Features, then every member, fitted on the rows outside fold `held_out` (all if None);
    the held-out fold predicted by all of them."""
    training = typed if held_out is None else typed.where(F.col(FOLD) != held_out)
    started = time.perf_counter()
    features = Pipeline(stages=feature_stages(inputs)).fit(training)
    rows = (
        features.transform(training)
        .select(ROW_ID, LOG_LABEL, TREE_FEATURES, LINEAR_FEATURES)
        .cache()
    )
    rows.count()  # materialised once, read by every member
    feature_seconds = time.perf_counter() - started
    largest = largest_category_count(features)
    with ThreadPoolExecutor(max_workers=member_parallelism) as pool:
        fitted = list(pool.map(lambda m: _fit_member(spark, m, largest, rows), members))
    models = {member.name: model for member, (model, _) in zip(members, fitted, strict=True)}
    seconds = {member.name: s for member, (_, s) in zip(members, fitted, strict=True)}
    where = "all training rows" if held_out is None else f"fold {held_out} held out"
    log.info(
        "%s: features %.1f s, %s",
        where, feature_seconds, ", ".join(f"{n} {s:.1f} s" for n, s in seconds.items()),
    )  # fmt: skip
    out_of_fold = None
    if held_out is not None:
        predicted = features.transform(typed.where(F.col(FOLD) == held_out))
        for model in models.values():
            predicted = model.transform(predicted)
        columns = [member.prediction_col for member in members]
        out_of_fold = predicted.select(ROW_ID, LOG_LABEL, *columns).localCheckpoint()
    rows.unpersist()
    return Round(held_out, features, models, feature_seconds, seconds, out_of_fold)


def _price_rmse(frame: DataFrame, log_prediction: str) -> float:
    error = F.exp(F.col(log_prediction)) - F.exp(F.col(LOG_LABEL))
    return frame.select(F.sqrt(F.avg(error * error))).first()[0]


def cross_fit(
    spark: SparkSession,
    members: Sequence[Member],
    inputs: Inputs,
    typed: DataFrame,
    folds: int,
    cv_parallelism: int,
    member_parallelism: int,
) -> CrossFit:
    """Every fold's round and the last one; `cv_parallelism` rounds at a time, in each of them
    `member_parallelism` members at a time."""
    held_out: list[int | None] = [*range(folds), None]
    with ThreadPoolExecutor(max_workers=cv_parallelism) as pool:
        rounds = list(
            pool.map(
                lambda k: fit_round(spark, members, inputs, typed, k, member_parallelism),
                held_out,
            )
        )
    *fold_rounds, last = rounds
    out_of_fold = functools.reduce(
        DataFrame.unionByName, (r.out_of_fold for r in fold_rounds)
    ).localCheckpoint()
    fitted = []
    for member in members:
        fitted.append(
            FittedMember(
                name=member.name,
                settings=member.settings(),
                model=last.models[member.name],
                fold_seconds=[r.member_seconds[member.name] for r in rounds],
                cv_rmse=_price_rmse(out_of_fold, member.prediction_col),
            )
        )
    return CrossFit(last.features, fitted, out_of_fold, [r.feature_seconds for r in rounds])


def fit_stacker(
    members: Sequence[FittedMember], out_of_fold: DataFrame
) -> tuple[VectorAssembler, LinearRegressionModel]:
    """A linear model of the log price over the members' out-of-fold log prices (never
    in-sample ones)."""
    columns = [m.model.getPredictionCol() for m in members]
    assembler = VectorAssembler(inputCols=columns, outputCol=STACK_FEATURES)
    stacker = LinearRegression(
        featuresCol=STACK_FEATURES, labelCol=LOG_LABEL, predictionCol=LOG_PREDICTION
    )
    return assembler, stacker.fit(assembler.transform(out_of_fold))


def compose(
    features: PipelineModel,
    members: Sequence[FittedMember],
    assembler: VectorAssembler,
    stacker: LinearRegressionModel,
) -> PipelineModel:
    """One loadable model from raw listings to `prediction`; members' columns stay visible."""
    return PipelineModel(
        stages=[
            input_stage(),
            *features.stages,
            *(m.model for m in members),
            assembler,
            stacker,
            output_stage(),
        ]
    )
