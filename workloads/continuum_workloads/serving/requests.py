"""A scoring request's bytes → a listing the model can score, or the reason it cannot.

A request is one JSON object: `request_id`, an optional `event_time`, and listing fields named as
the dataset publishes them. Each field may be written in the dataset's own text form ("35.1 in",
"177 hp @ 5,700 RPM", "--" or "" for missing, "True"/"False", zip codes with leading zeros) or as a
plain JSON value (numbers, booleans, a list of option names, null). Valid values are handed to the
model in the text form it was trained on, so serving parses them with the same stages as training.

This module holds the contract's tables (fields and their kinds, bounds, the dataset's patterns
from `dataset.parsing`, written in the syntax Java and Python share); the rules that apply them
run in Spark's JVM, `workloads/jvm/continuum/serving/RequestValidator.java`, as a function of the
query (`validation`): inside the task that read the request, with no Python worker in the way,
which also lets Spark's Real-time Mode run it.
"""

from __future__ import annotations

import json
import math

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from continuum_workloads.dataset.parsing import MISSING_MARKERS, OPTIONS_LIST_PATTERN, UNIT_PATTERNS
from continuum_workloads.dataset.schema import COLUMN_KINDS, TARGET, Kind

REQUEST_ID = "request_id"
EVENT_TIME = "event_time"
MAX_REQUEST_BYTES = 64 * 1024
MAX_REQUEST_ID_CHARS = 200
MAX_TEXT_CHARS = 16 * 1024
# Training learns only from listings with a year and a make (features.rejection_rules); a request
# without them would get a price the model has no basis for.
REQUIRED_FIELDS = ("year", "make_name")
EARLIEST_YEAR = 1900
# The fields a request may carry: every published column but the price it asks for.
LISTING_FIELDS: tuple[str, ...] = tuple(name for name in COLUMN_KINDS if name != TARGET)

# Inclusive bounds of plain numbers; values outside are impossible, not merely unusual.
RANGES: dict[str, tuple[float, float]] = {
    "mileage": (0, 1_500_000),
    "latitude": (-90, 90),
    "longitude": (-180, 180),
    "owner_count": (0, 100),
    "seller_rating": (0, 5),
    "daysonmarket": (0, 100_000),
    "maximum_seating": (1, 100),
}
NON_NEGATIVE_KINDS = {Kind.INCHES, Kind.GALLONS, Kind.SEATS, Kind.POWER, Kind.TORQUE}
# What a plain number of a unit kind means, written as the dataset writes it.
UNIT_SUFFIXES = {
    Kind.INCHES: " in",
    Kind.GALLONS: " gal",
    Kind.SEATS: " seats",
    Kind.POWER: " hp",
    Kind.TORQUE: " lb-ft",
}
EXAMPLES = {
    Kind.INCHES: "35.1 in",
    Kind.GALLONS: "19.5 gal",
    Kind.SEATS: "5 seats",
    Kind.POWER: "177 hp @ 5,700 RPM",
    Kind.TORQUE: "200 lb-ft @ 1,750 RPM",
}
BOUNDS: dict[str, tuple[float, float]] = {
    name: RANGES.get(
        name, (0.0 if COLUMN_KINDS[name] in NON_NEGATIVE_KINDS else -math.inf, math.inf)
    )
    for name in LISTING_FIELDS
}


VALIDATOR_CLASS = "continuum.serving.RequestValidator"
VALIDATE_REQUEST = "continuum_validate_request"
"""The query function's name: `continuum_validate_request(value, latest_year)`."""
DEAD_LETTER_REASONS = (
    "not_json",
    "not_an_object",
    "too_large",
    "missing_field",
    "mistyped",
    "invalid_value",
    "out_of_range",
    "unknown_field",
)
VERDICT_FIELDS = ("request_id", "event_time_ms", "reason", "field", "detail")
"""The verdict's leading fields, then one per listing field (the dataset's text form, null where
missing). `reason` is null for a valid request, else one of DEAD_LETTER_REASONS, a stable,
machine-readable word; `field` names the field at fault (when one is), `detail` says what is
wrong in a sentence, and a rejected request keeps its `request_id` when it had one."""


def rules() -> dict[str, object]:
    """The tables the JVM validator applies, as it reads them."""

    def bound(value: float) -> float | None:
        return value if math.isfinite(value) else None

    kinds = [Kind.INCHES, Kind.GALLONS, Kind.SEATS, Kind.POWER, Kind.TORQUE]
    return {
        "fields": [[name, COLUMN_KINDS[name].value] for name in LISTING_FIELDS],
        "required": list(REQUIRED_FIELDS),
        "allowed_extra": [REQUEST_ID, EVENT_TIME, TARGET],
        "earliest_year": EARLIEST_YEAR,
        "max_request_bytes": MAX_REQUEST_BYTES,
        "max_request_id_chars": MAX_REQUEST_ID_CHARS,
        "max_text_chars": MAX_TEXT_CHARS,
        "bounds": {name: [bound(low), bound(high)] for name, (low, high) in BOUNDS.items()},
        "missing_markers": list(MISSING_MARKERS),
        "unit_patterns": {kind.value: UNIT_PATTERNS[kind] for kind in kinds},
        "unit_suffixes": {kind.value: UNIT_SUFFIXES[kind] for kind in kinds},
        "examples": {kind.value: EXAMPLES[kind] for kind in kinds},
        "options_pattern": OPTIONS_LIST_PATTERN,
    }


def register_validation(spark: SparkSession) -> None:
    """Makes `VALIDATE_REQUEST` a function of `spark`'s queries (again: harmless)."""
    jvm = spark.sparkContext._jvm
    try:
        validator = jvm.continuum.serving.RequestValidator
        validator.register(spark._jsparkSession, VALIDATE_REQUEST, json.dumps(rules()))
    except Exception as error:  # py4j names a missing class only as a missing member
        if "does not exist in the JVM" in str(error) or "JavaPackage" in str(error):
            raise RuntimeError(
                f"{VALIDATOR_CLASS} is not on Spark's classpath: the scorer's jar "
                "(continuum-serving-*.jar, built from workloads/jvm) must be among spark.jars"
            ) from error
        raise


def validation(value: Column, latest_year: Column | None = None) -> Column:
    """The verdict on a request's bytes: a struct of VERDICT_FIELDS and the listing fields.
    `latest_year`, the latest valid model year, is by default next year as of each micro-batch."""
    latest = F.year(F.current_date()) + 1 if latest_year is None else latest_year
    return F.call_function(VALIDATE_REQUEST, value, latest)
