"""The feature stages every model shares, and the cleaning rules that reject training rows.

The stages go into the registered PipelineModel, so serving applies exactly these transforms to
raw listings (all columns as text, as published). Cleaning is training-only: it decides which
rows a model may learn from, and counts the rejected ones by reason.
"""

from __future__ import annotations

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.feature import (
    Imputer,
    OneHotEncoder,
    SQLTransformer,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from continuum_workloads.dataset.parsing import parse_listings, typed_columns

LABEL = "price"
FEATURES = "features"
SCALED_FEATURES = "scaled_features"

NUMERIC = (
    "year", "mileage", "horsepower", "engine_displacement", "city_fuel_economy",
    "highway_fuel_economy", "owner_count", "seller_rating", "daysonmarket", "fuel_tank_volume",
    "length", "wheelbase", "back_legroom", "front_legroom", "maximum_seating", "torque",
    "latitude", "longitude",
)  # fmt: skip
FLAGS = (
    "has_accidents", "frame_damaged", "salvage", "theft_title", "fleet", "is_new",
    "franchise_dealer", "isCab", "is_cpo",
)  # fmt: skip
CATEGORICAL = (
    "make_name", "model_name", "body_type", "fuel_type", "transmission", "wheel_system",
    "engine_cylinders", "exterior_color",
)  # fmt: skip
DERIVED = ("options_count",)
# What a batch must hold for training: the model's inputs, the label, and what cleaning reads.
REQUIRED_COLUMNS = (
    LABEL, "listing_id", "vin", "listed_date", "major_options", *NUMERIC, *FLAGS, *CATEGORICAL,
)  # fmt: skip


class ListingParser(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """Raw listing text → typed columns (units, "--", flags, list literals), in the JVM."""

    @keyword_only
    def __init__(self) -> None:
        super().__init__()

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return parse_listings(dataset)


def _model_inputs() -> SQLTransformer:
    """Typed columns → the numbers the models read: flags as 0/1, option counts."""
    flags = ", ".join(f"CAST({name} AS DOUBLE) AS {name}_flag" for name in FLAGS)
    numeric = ", ".join(f"CAST({name} AS DOUBLE) AS {name}_num" for name in NUMERIC)
    return SQLTransformer(
        statement=f"SELECT *, {numeric}, {flags}, "
        "CAST(coalesce(size(major_options), 0) AS DOUBLE) AS options_count_num FROM __THIS__"
    )


def feature_stages() -> list:
    """Unfitted stages from raw listings to `features` (trees) and `scaled_features` (linear)."""
    numbers = [f"{n}_num" for n in (*NUMERIC, *DERIVED)] + [f"{n}_flag" for n in FLAGS]
    imputed = [f"{n}_imputed" for n in numbers]
    indexed = [f"{n}_index" for n in CATEGORICAL]
    encoded = [f"{n}_onehot" for n in CATEGORICAL]
    return [
        ListingParser(),
        _model_inputs(),
        Imputer(inputCols=numbers, outputCols=imputed, strategy="median"),
        # "keep": a make or model never seen in training gets its own bucket instead of failing.
        StringIndexer(inputCols=list(CATEGORICAL), outputCols=indexed, handleInvalid="keep"),
        OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"),
        VectorAssembler(inputCols=imputed + encoded, outputCol=FEATURES, handleInvalid="keep"),
        StandardScaler(inputCol=FEATURES, outputCol=SCALED_FEATURES, withMean=False),
    ]


def rejection_rules(typed: dict[str, Column]) -> dict[str, Column]:
    """Why a training row is rejected, over the typed values of its raw columns; the first rule
    a row breaks is its reason."""
    price, year, mileage = typed[LABEL], typed["year"], typed["mileage"]
    return {
        "price_missing": price.isNull(),
        "price_out_of_range": (price < 100) | (price > 2_000_000),
        "year_missing_or_out_of_range": year.isNull()
        | (year < 1900)
        | (year > F.year(F.current_date()) + 1),
        "mileage_out_of_range": (mileage < 0) | (mileage > 1_500_000),
        "make_missing": typed["make_name"].isNull(),
    }


def clean(raw: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(raw rows fit to learn from, one per listing; every other raw row with its `reason`)."""
    typed = typed_columns(raw.columns)
    reason = F.lit(None).cast("string")
    for name, broken in reversed(rejection_rules(typed).items()):
        reason = F.when(broken, F.lit(name)).otherwise(reason)
    judged = raw.withColumn("reason", reason)
    # A listing re-published in a later batch counts once: the most recently listed copy wins.
    newest_first = Window.partitionBy("listing_id").orderBy(
        typed["listed_date"].desc_nulls_last(), F.col("vin")
    )
    ranked = judged.where(F.col("reason").isNull()).withColumn(
        "copy", F.row_number().over(newest_first)
    )
    kept = ranked.where(F.col("copy") == 1).drop("copy", "reason")
    duplicates = (
        ranked.where(F.col("copy") > 1).drop("copy").withColumn("reason", F.lit("duplicate"))
    )
    return kept, judged.where(F.col("reason").isNotNull()).unionByName(duplicates)
