"""What the models read, and the cleaning rules that reject training rows.

Two kinds of stages go into the registered PipelineModel:
- `input_stage`: raw listing text (every column a string, as published) → typed model inputs, one
  `SQLTransformer` built from the parsing rules. It is stateless, so it can run once before the
  folds without leaking anything between them.
- `feature_stages`: fitted stages (imputation, indexing, one-hot encoding, scaling). They learn
  statistics of their training rows, so cross-validation fits them inside each fold.
All of them are Spark's own JVM stages: a saved model loads wherever pyspark loads.

Cleaning is training-only: it decides which rows a model may learn from, and counts the rejected
ones by reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.feature import (
    Imputer,
    Interaction,
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

from continuum_workloads.dataset.parsing import column, parse_listings, typed_columns, typed_sql
from continuum_workloads.dataset.schema import FLAG_BLANK_MEANS

LABEL = "price"
# The members learn the logarithm of the price: prices are multiplicative (a trim, an age, an
# accident scale the price by a factor), so errors are relative and a factor becomes a sum.
LOG_LABEL = "log_price"
TREE_FEATURES = "tree_features"  # numbers as they are, categories as indices (trees split them)
LINEAR_FEATURES = "linear_features"  # scaled numbers, categories one-hot, age by body type
LOG_PREDICTION = "log_prediction"
PREDICTION = "prediction"

NUMERIC = (
    "year", "mileage", "horsepower", "engine_displacement", "city_fuel_economy",
    "highway_fuel_economy", "owner_count", "seller_rating", "daysonmarket", "fuel_tank_volume",
    "length", "wheelbase", "back_legroom", "front_legroom", "maximum_seating", "torque",
    "latitude", "longitude",
)  # fmt: skip
FLAGS = (
    "has_accidents", "frame_damaged", "salvage", "theft_title", "fleet", "is_new",
    "franchise_dealer", "isCab", "is_cpo", "is_oemcpo",
)  # fmt: skip
CATEGORICAL = (
    "make_name", "model_name", "trim_name", "body_type", "fuel_type", "transmission",
    "wheel_system", "engine_cylinders", "exterior_color",
)  # fmt: skip
# Derived numbers: the age at listing, and how many options the listing names.
AGE = "age"
DERIVED = (AGE, "options_count")
# A body type loses its value at its own rate per year: the linear model gets age per body type.
AGE_BY = "body_type"
# What a batch must hold for training: the model's inputs, the label, and what cleaning reads.
REQUIRED_COLUMNS = (
    LABEL, "listing_id", "vin", "listed_date", "major_options", *NUMERIC, *FLAGS, *CATEGORICAL,
)  # fmt: skip


def number(name: str) -> str:
    return f"{name}_num"


def category(name: str) -> str:
    return f"{name}_cat"


def flag_value(name: str) -> str:
    return f"{name}_flag"


def flag_stated(name: str) -> str:
    return f"{name}_stated"


def flag_columns() -> list[str]:
    """The flags' numbers: 1.0 true, 0.0 false or blank; where a blank means unknown, also
    whether the listing states the flag at all (so "no" and "not reported" differ)."""
    values = [flag_value(name) for name in FLAGS]
    stated = [flag_stated(name) for name in FLAGS if FLAG_BLANK_MEANS[name] is None]
    return values + stated


def _flag_sql(name: str) -> list[str]:
    [typed] = typed_sql(name).values()
    blank = FLAG_BLANK_MEANS[name]
    value = f"CAST(coalesce({typed}, {str(bool(blank)).lower()}) AS DOUBLE) AS {flag_value(name)}"
    if blank is not None:
        return [value]
    return [value, f"CAST(({typed}) IS NOT NULL AS DOUBLE) AS {flag_stated(name)}"]


def input_stage() -> SQLTransformer:
    """Raw listings → the typed inputs every fitted stage reads; raw columns pass through."""
    [year] = typed_sql("year").values()
    [listed] = typed_sql("listed_date").values()
    [options] = typed_sql("major_options").values()
    expressions = [
        *(f"CAST({typed_sql(name)[name]} AS DOUBLE) AS {number(name)}" for name in NUMERIC),
        *(sql for name in FLAGS for sql in _flag_sql(name)),
        *(f"{typed_sql(name)[name]} AS {category(name)}" for name in CATEGORICAL),
        f"CAST(year({listed}) - ({year}) AS DOUBLE) AS {number(AGE)}",
        f"CAST(coalesce(size({options}), 0) AS DOUBLE) AS {number('options_count')}",
    ]
    return SQLTransformer(statement=f"SELECT *, {', '.join(expressions)} FROM __THIS__")


def output_stage() -> SQLTransformer:
    """The stack's log price → `prediction`, the price."""
    return SQLTransformer(
        statement=f"SELECT *, exp({LOG_PREDICTION}) AS {PREDICTION} FROM __THIS__"
    )


def model_inputs() -> list[str]:
    """The columns `input_stage` adds to a frame (what the fitted stages may read)."""
    numbers = [number(name) for name in (*NUMERIC, *DERIVED)]
    return numbers + flag_columns() + [category(name) for name in CATEGORICAL]


@dataclass(frozen=True)
class Inputs:
    """The inputs of one run: the columns with values; the ones dropped for having none."""

    numeric: tuple[str, ...]  # names as in NUMERIC / DERIVED
    categorical: tuple[str, ...]
    dropped: tuple[str, ...]


def usable_inputs(per_fold_counts: dict[str, Sequence[int]]) -> Inputs:
    """Which inputs this run can learn from, given each input's count of values per fold.

    An imputer cannot take the median of nothing, and an indexer learns nothing from no labels:
    an input must have values in the training rows of every fold, that is in at least two
    folds (a column with values in one fold only has none when that fold is held out).
    """

    def usable(name: str) -> bool:
        return sum(1 for count in per_fold_counts[name] if count > 0) >= 2

    numeric = tuple(n for n in (*NUMERIC, *DERIVED) if usable(number(n)))
    categorical = tuple(n for n in CATEGORICAL if usable(category(n)))
    kept = {*numeric, *categorical}
    dropped = tuple(n for n in (*NUMERIC, *DERIVED, *CATEGORICAL) if n not in kept)
    return Inputs(numeric, categorical, dropped)


def count_values_per_fold(typed: DataFrame, fold: str, folds: int) -> dict[str, list[int]]:
    """Each numeric and categorical input's count of non-null values in each fold (one job)."""
    names = [number(n) for n in (*NUMERIC, *DERIVED)] + [category(n) for n in CATEGORICAL]
    rows = typed.groupBy(fold).agg(*(F.count(column(n)).alias(n) for n in names)).collect()
    by_fold = {row[fold]: row for row in rows}
    return {n: [by_fold[k][n] if k in by_fold else 0 for k in range(folds)] for n in names}


def feature_stages(inputs: Inputs) -> list:
    """Unfitted stages from the typed inputs to TREE_FEATURES and LINEAR_FEATURES."""
    imputed = [f"{n}_imputed" for n in inputs.numeric]
    indexed = [f"{n}_index" for n in inputs.categorical]
    encoded = [f"{n}_onehot" for n in inputs.categorical]
    flags = flag_columns()
    stages: list = [
        Imputer(inputCols=[number(n) for n in inputs.numeric], outputCols=imputed),
        # "keep": a make or model never seen in training gets its own bucket instead of failing.
        StringIndexer(
            inputCols=[category(n) for n in inputs.categorical],
            outputCols=indexed,
            handleInvalid="keep",
        ),
        OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"),
    ]
    linear = imputed + flags + encoded
    if AGE in inputs.numeric and AGE_BY in inputs.categorical:
        stages.append(
            Interaction(inputCols=[f"{AGE}_imputed", f"{AGE_BY}_onehot"], outputCol="age_by_body")
        )
        linear.append("age_by_body")
    return [
        *stages,
        VectorAssembler(inputCols=imputed + flags + indexed, outputCol=TREE_FEATURES),
        VectorAssembler(inputCols=linear, outputCol="linear_unscaled"),
        StandardScaler(inputCol="linear_unscaled", outputCol=LINEAR_FEATURES, withMean=False),
    ]


def largest_category_count(features_model: object) -> int:
    """The most labels any fitted StringIndexer holds (trees need as many bins as that)."""
    counts = [
        len(labels)
        for stage in features_model.stages  # type: ignore[attr-defined]
        if hasattr(stage, "labelsArray")
        for labels in stage.labelsArray
    ]
    return max(counts, default=0)


class ListingParser(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """Raw listing text → typed columns. Models registered before the parsing stage became a
    `SQLTransformer` hold this stage; it stays so that they load and face new candidates."""

    @keyword_only
    def __init__(self) -> None:
        super().__init__()

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return parse_listings(dataset)


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


def log_label() -> Column:
    """The training label of a cleaned row: the natural log of its price."""
    return F.log(typed_columns([LABEL])[LABEL])


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
