"""The ensemble's members: each a regressor of the log price with the settings it trains with.

The settings were chosen by holdout RMSE and fitting time on generated listings (see the README's
training section): trees get the categories as indices, so a make, model or trim is one split
instead of dozens of one-hot columns; the linear model gets them one-hot, with age per body type.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml import Estimator
from pyspark.ml.regression import GBTRegressor, LinearRegression, RandomForestRegressor

from continuum_workloads.training.features import LINEAR_FEATURES, LOG_LABEL, TREE_FEATURES

# Spark's trees need at least as many bins as a categorical feature has values.
MIN_BINS = 32


@dataclass(frozen=True)
class Member:
    name: str
    estimator: Estimator

    @property
    def prediction_col(self) -> str:
        return prediction_column(self.name)

    def for_categories(self, largest: int) -> Estimator:
        """The estimator, with room for `largest` categories (plus the unseen bucket)."""
        if self.estimator.hasParam("maxBins"):
            bins = max(MIN_BINS, largest + 1)
            return self.estimator.copy({self.estimator.getParam("maxBins"): bins})
        return self.estimator

    def settings(self) -> dict[str, object]:
        """The parameters set explicitly, as MLflow params."""
        return {param.name: value for param, value in self.estimator.extractParamMap().items()
                if self.estimator.isSet(param) and param.name not in _PLUMBING}  # fmt: skip


_PLUMBING = {"featuresCol", "labelCol", "predictionCol"}


def prediction_column(member: str) -> str:
    """Each member writes its own prediction column (a log price); the stacker reads them all."""
    return f"prediction_{member}"


def build_member(name: str, seed: int) -> Member:
    """Member `name`, as the TrainingPipeline's `training.ensemble` names it."""
    column = prediction_column(name)
    if name == "gbt":
        gbt = GBTRegressor(
            featuresCol=TREE_FEATURES, labelCol=LOG_LABEL, predictionCol=column,
            maxIter=20, maxDepth=5, stepSize=0.3, seed=seed,
        )  # fmt: skip
        return Member(name, gbt)
    if name == "randomForest":
        rf = RandomForestRegressor(
            featuresCol=TREE_FEATURES, labelCol=LOG_LABEL, predictionCol=column,
            numTrees=10, maxDepth=8, featureSubsetStrategy="onethird", seed=seed,
        )  # fmt: skip
        return Member(name, rf)
    if name == "linearRegression":
        lr = LinearRegression(
            featuresCol=LINEAR_FEATURES, labelCol=LOG_LABEL, predictionCol=column, regParam=1e-4
        )
        return Member(name, lr)
    raise ValueError(f"unknown ensemble member {name!r}; choose from {', '.join(MEMBER_NAMES)}")


MEMBER_NAMES = ("gbt", "randomForest", "linearRegression")
# On 50k generated listings the stacker gave GBT a weight of 0.01 while it took more than half of
# the fitting time; without it the stack's holdout RMSE moved by 0.03 % (bench/training.py).
DEFAULT_MEMBERS = ("randomForest", "linearRegression")
