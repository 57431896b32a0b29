"""The ensemble's members: each a regressor with the small grid cross-validation tunes."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml import Estimator
from pyspark.ml.param import Param
from pyspark.ml.regression import GBTRegressor, LinearRegression, RandomForestRegressor
from pyspark.ml.tuning import ParamGridBuilder

from continuum_workloads.training.features import FEATURES, LABEL, SCALED_FEATURES


@dataclass(frozen=True)
class Member:
    name: str
    estimator: Estimator
    grid: list[dict[Param, object]]

    @property
    def prediction_col(self) -> str:
        return prediction_column(self.name)


def prediction_column(member: str) -> str:
    """Each member writes its own prediction column; the stacker reads them all."""
    return f"prediction_{member}"


def build_member(name: str, seed: int) -> Member:
    """Member `name`, as the TrainingPipeline's `training.ensemble` names it. Trees read
    `features`, the linear model the scaled ones."""
    if name == "gbt":
        gbt = GBTRegressor(featuresCol=FEATURES, labelCol=LABEL, maxIter=20, seed=seed)
        grid = ParamGridBuilder().addGrid(gbt.maxDepth, [3, 5]).build()
        return Member(name, gbt.setPredictionCol(prediction_column(name)), grid)
    if name == "randomForest":
        rf = RandomForestRegressor(featuresCol=FEATURES, labelCol=LABEL, numTrees=20, seed=seed)
        grid = ParamGridBuilder().addGrid(rf.maxDepth, [5, 8]).build()
        return Member(name, rf.setPredictionCol(prediction_column(name)), grid)
    if name == "linearRegression":
        lr = LinearRegression(featuresCol=SCALED_FEATURES, labelCol=LABEL)
        grid = ParamGridBuilder().addGrid(lr.regParam, [0.1, 10.0]).build()
        return Member(name, lr.setPredictionCol(prediction_column(name)), grid)
    raise ValueError(f"unknown ensemble member {name!r}; choose from {', '.join(MEMBER_NAMES)}")


MEMBER_NAMES = ("gbt", "randomForest", "linearRegression")
