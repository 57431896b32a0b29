"""Reads listings CSV as published: one header line, RFC 4180 quoting (a quote inside a quoted
field is doubled), `description` fields spanning several lines. Every column is read as text;
`parsing.parse_listings` types them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyspark.sql import DataFrame, SparkSession

from continuum_workloads.dataset.schema import COLUMNS

CSV_OPTIONS: dict[str, str] = {
    "header": "true",
    "inferSchema": "false",
    "multiLine": "true",
    "quote": '"',
    # Spark's default escape is a backslash; the published file doubles quotes instead, and a
    # backslash in a description is just a character.
    "escape": '"',
    "encoding": "UTF-8",
    # Every file's header is checked against the first one, so a batch with its columns in a
    # different order fails instead of shifting values into the wrong columns.
    "enforceSchema": "false",
    "mode": "PERMISSIVE",
}


class MissingColumnsError(ValueError):
    """The input lacks columns the caller needs."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(f"input lacks required columns: {', '.join(self.missing)}")


def read_listings(
    spark: SparkSession, paths: str | Sequence[str], required: Iterable[str] = COLUMNS
) -> DataFrame:
    """The listings under `paths` (files or directories), all columns as strings.

    Spark skips files whose names start with `_` or `.`, so batch directories can be passed
    as they are, `_SUCCESS` markers included. Raises `MissingColumnsError` naming every column of
    `required` the header lacks.
    """
    sources = [paths] if isinstance(paths, str) else list(paths)
    if not sources:
        raise ValueError("no input paths given")
    frame = spark.read.options(**CSV_OPTIONS).csv(sources)
    present = set(frame.columns)
    missing = [name for name in required if name not in present]
    if missing:
        raise MissingColumnsError(missing)
    return frame
