"""Raw listing text → typed columns, as Spark SQL expressions.

Every rule is written once, as Spark SQL text (no Python UDFs): `typed_sql` gives the expression
of a column, `typed_columns` the same as `Column`s. SQL text is what a model's `SQLTransformer`
stores, so a saved model parses raw listings in the JVM exactly as training did, and loads
wherever pyspark loads, without this package. The regular expressions are module constants
written in the syntax Java and Python share, so the formats can be checked without a JVM.
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


def literal(text: str) -> str:
    """`text` as a Spark SQL string literal (backslashes and quotes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def column(name: str) -> str:
    """A column reference, quoted so that any published name is safe in SQL."""
    return f"`{name}`"


def present(raw: str) -> str:
    """The trimmed text, or null where the file marks the value missing."""
    markers = ", ".join(literal(marker) for marker in MISSING_MARKERS)
    return f"CASE WHEN trim({raw}) NOT IN ({markers}) THEN trim({raw}) END"


def _number(text: str) -> str:
    return f"try_cast(regexp_replace({text}, ',', '') AS DOUBLE)"


def _whole(number: str) -> str:
    """A long where the number is whole; fractions and out-of-range values become null."""
    return f"CASE WHEN ({number}) = floor({number}) THEN try_cast({number} AS BIGINT) END"


def decimal(raw: str) -> str:
    return f"try_cast({present(raw)} AS DOUBLE)"


def integer(raw: str) -> str:
    return _whole(decimal(raw))


def flag(raw: str) -> str:
    """True or False as written (any case); null where the file leaves the flag blank. What a
    blank means differs by column: `schema.FLAG_BLANK_MEANS` says it."""
    return f"CASE lower({present(raw)}) WHEN 'true' THEN true WHEN 'false' THEN false END"


def date(raw: str) -> str:
    return f"CAST(try_to_timestamp({present(raw)}, {literal(DATE_PATTERN)}) AS DATE)"


def unit_value(raw: str, kind: Kind, group: int = 1) -> str:
    """The number in group `group` of the kind's pattern ("35.1 in" → 35.1); null if no match."""
    return _number(f"regexp_extract({present(raw)}, {literal(UNIT_PATTERNS[kind])}, {group})")


def options(raw: str) -> str:
    """A list literal as array<string>; "[]" is an empty array, a missing value null."""
    text = present(raw)
    quoted = f"regexp_extract_all({text}, {literal(OPTION_ITEM_PATTERN)}, 0)"
    unquoted = f"transform({quoted}, item -> substr(item, 2, length(item) - 2))"
    return f"CASE WHEN ({text}) RLIKE {literal(OPTIONS_LIST_PATTERN)} THEN {unquoted} END"


def typed_sql(name: str) -> dict[str, str]:
    """The typed expression(s) of published column `name` as SQL: its own, and for power and
    torque also `<name>_rpm`. Empty for a name the published layout does not hold."""
    kind = COLUMN_KINDS.get(name)
    raw = column(name)
    match kind:
        case None:
            return {}
        case Kind.TEXT:
            return {name: present(raw)}
        case Kind.INTEGER:
            return {name: integer(raw)}
        case Kind.DECIMAL:
            return {name: decimal(raw)}
        case Kind.FLAG:
            return {name: flag(raw)}
        case Kind.DATE:
            return {name: date(raw)}
        case Kind.OPTIONS:
            return {name: options(raw)}
        case Kind.SEATS:
            return {name: _whole(unit_value(raw, kind))}
        case Kind.INCHES | Kind.GALLONS:
            return {name: unit_value(raw, kind)}
        case Kind.POWER | Kind.TORQUE:
            return {name: unit_value(raw, kind), name + RPM_SUFFIX: unit_value(raw, kind, 2)}
    raise AssertionError(f"no parsing rule for {kind}")  # pragma: no cover


def typed_columns(names: Iterable[str]) -> dict[str, Column]:
    """The typed expression of each published column among `names`, under the same name.

    Power and torque also yield `<name>_rpm`. Other names are left out, so a frame with extra
    columns passes through `DataFrame.withColumns` unchanged apart from the published ones.
    """
    return {typed: F.expr(sql) for name in names for typed, sql in typed_sql(name).items()}


def parse_listings(raw: DataFrame) -> DataFrame:
    """Types the published columns of a frame read by `loader.read_listings`."""
    return raw.withColumns(typed_columns(raw.columns))
