"""The registered PipelineModel as the scorer uses it: loaded by MLflow model URI, warmed with
one scoring pass, asked for the prices of a list of listings."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import mlflow.spark
import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, StringType, StructField, StructType

from continuum_workloads.serving.records import ModelIdentity
from continuum_workloads.serving.requests import LISTING_FIELDS

log = logging.getLogger(__name__)
ROW = "_continuum_row"
PREDICTION = "prediction"
LISTING_SCHEMA = StructType(
    [StructField(name, StringType()) for name in LISTING_FIELDS] + [StructField(ROW, LongType())]
)
# One plausible listing, for the warm-up pass that makes a pod Ready.
WARM_UP_LISTING: dict[str, str | None] = {
    **dict.fromkeys(LISTING_FIELDS),
    "year": "2019", "make_name": "Ford", "model_name": "F-150", "mileage": "23141.0",
    "body_type": "Pickup Truck", "fuel_type": "Gasoline", "horsepower": "375.0",
    "back_legroom": "43.6 in", "maximum_seating": "6 seats", "power": "375 hp @ 5,000 RPM",
    "torque": "470 lb-ft @ 3,500 RPM", "fleet": "False", "is_new": "False",
    "major_options": "['Bluetooth', 'Backup Camera']",
}  # fmt: skip


class ModelLoadError(RuntimeError):
    """The model cannot be loaded or cannot score: wrong URI, unreachable MLflow, or a model
    whose stages this code cannot run."""


class ListingModel:
    def __init__(self, spark: SparkSession, identity: ModelIdentity, model: PipelineModel) -> None:
        self.spark = spark
        self.identity = identity
        self.model = model

    @classmethod
    def load(cls, spark: SparkSession, identity: ModelIdentity) -> ListingModel:
        uri = f"models:/{identity.name}/{identity.version}"
        try:
            model = mlflow.spark.load_model(uri)
        except Exception as error:
            raise ModelLoadError(f"cannot load {uri}: {type(error).__name__}: {error}") from error
        if not isinstance(model, PipelineModel):
            raise ModelLoadError(f"{uri} is a {type(model).__name__}, not a Spark PipelineModel")
        log.info("loaded %s (%d stages)", uri, len(model.stages))
        return cls(spark, identity, model)

    def warm_up(self) -> float:
        """One scoring pass over a fixed listing; the price it gives."""
        try:
            return self.prices([WARM_UP_LISTING])[0]
        except Exception as error:
            raise ModelLoadError(
                f"{self.identity.name} version {self.identity.version} cannot score a listing: "
                f"{type(error).__name__}: {error}".splitlines()[0]
            ) from error

    def prices(self, listings: Sequence[dict[str, str | None]]) -> list[float]:
        """The model's price of each listing (every field as dataset text), in order."""
        if not listings:
            return []
        frame = pd.DataFrame.from_records(listings, columns=list(LISTING_FIELDS))
        frame[ROW] = range(len(listings))
        rows = (
            self.model.transform(self.spark.createDataFrame(frame, LISTING_SCHEMA))
            .select(ROW, PREDICTION)
            .collect()
        )
        by_row = {row[ROW]: float(row[PREDICTION]) for row in rows}
        return [by_row[index] for index in range(len(listings))]
