"""Raw listing text → typed columns, as Spark SQL column expressions.

Everything here builds plain `Column` expressions (no Python UDFs), so the same transform runs in
the JVM for training and for serving, and can be wrapped in a Spark ML Transformer of a Pipeline.
The regular expressions are module constants written in the syntax Java and Python share, so the
formats can be checked without a JVM.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from continuum_workloads.dataset.schema import COLUMN_KINDS, RPM_SUFFIX, Kind

MISSING_MARKERS: tuple[str, ...] = ("", "--")

NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"
# Group 1 is the value; for power and torque group 2 is the RPM, which listings sometimes omit.
UNIT_PATTERNS: dict[Kind, str] = {
    Kind.INCHES: rf"^({NUMBER}) in$",
    Kind.GALLONS: rf"^({NUMBER}) gal$",
    Kind.SEATS: rf"^({NUMBER}) seats$",
    Kind.POWER: rf"^({NUMBER}) hp(?: @ ({NUMBER}) RPM)?$",
    Kind.TORQUE: rf"^({NUMBER}) lb-ft(?: @ ({NUMBER}) RPM)?$",
}
DATE_PATTERN = "yyyy-MM-dd"
OPTIONS_LIST_PATTERN = r"^\[.*\]$"
# Python's repr quotes an item with double quotes only when it contains a single quote.
OPTION_ITEM_PATTERN = r"""'[^']*'|"[^"]*\""""


def present(raw: Column) -> Column:
    """The trimmed text, or null where the file marks the value missing."""
    trimmed = F.trim(raw)
    return F.when(~trimmed.isin(*MISSING_MARKERS), trimmed)


def _number(text: Column) -> Column:
    return F.regexp_replace(text, ",", "").try_cast("double")


def _whole(number: Column) -> Column:
    """A long where the number is whole; fractions and out-of-range values become null."""
    return F.when(number == F.floor(number), number.try_cast("long"))


def decimal(raw: Column) -> Column:
    return present(raw).try_cast("double")


def integer(raw: Column) -> Column:
    return _whole(decimal(raw))


def flag(raw: Column) -> Column:
    word = F.lower(present(raw))
    return F.when(word == "true", F.lit(True)).when(word == "false", F.lit(False))


def date(raw: Column) -> Column:
    return F.try_to_timestamp(present(raw), F.lit(DATE_PATTERN)).cast("date")


def unit_value(raw: Column, kind: Kind, group: int = 1) -> Column:
    """The number in group `group` of the kind's pattern ("35.1 in" → 35.1); null if no match."""
    return _number(F.regexp_extract(present(raw), UNIT_PATTERNS[kind], group))


def options(raw: Column) -> Column:
    """A list literal as array<string>; "[]" is an empty array, a missing value null."""
    text = present(raw)
    quoted = F.regexp_extract_all(text, F.lit(OPTION_ITEM_PATTERN), 0)
    unquoted = F.transform(quoted, lambda item: item.substr(F.lit(2), F.length(item) - 2))
    return F.when(text.rlike(OPTIONS_LIST_PATTERN), unquoted)


def typed_columns(names: Iterable[str]) -> dict[str, Column]:
    """The typed expression of each published column among `names`, under the same name.

    Power and torque also yield `<name>_rpm`. Other names are left out, so a frame with extra
    columns passes through `DataFrame.withColumns` unchanged apart from the published ones.
    """
    typed: dict[str, Column] = {}
    for name in names:
        kind = COLUMN_KINDS.get(name)
        if kind is None:
            continue
        raw = F.col(name)
        match kind:
            case Kind.TEXT:
                typed[name] = present(raw)
            case Kind.INTEGER:
                typed[name] = integer(raw)
            case Kind.DECIMAL:
                typed[name] = decimal(raw)
            case Kind.FLAG:
                typed[name] = flag(raw)
            case Kind.DATE:
                typed[name] = date(raw)
            case Kind.OPTIONS:
                typed[name] = options(raw)
            case Kind.SEATS:
                typed[name] = _whole(unit_value(raw, kind))
            case Kind.INCHES | Kind.GALLONS:
                typed[name] = unit_value(raw, kind)
            case Kind.POWER | Kind.TORQUE:
                typed[name] = unit_value(raw, kind)
                typed[name + RPM_SUFFIX] = unit_value(raw, kind, group=2)
    return typed


def parse_listings(raw: DataFrame) -> DataFrame:
    """Types the published columns of a frame read by `loader.read_listings`."""
    return raw.withColumns(typed_columns(raw.columns))
