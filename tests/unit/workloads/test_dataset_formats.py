"""The published schema, and the value formats the Spark parsers recognise (checked with Python's
`re`: the patterns use only syntax Java and Python share)."""

from __future__ import annotations

import ast
import re

import pytest

from continuum_workloads.dataset.parsing import (
    MISSING_MARKERS,
    OPTION_ITEM_PATTERN,
    OPTIONS_LIST_PATTERN,
    UNIT_PATTERNS,
)
from continuum_workloads.dataset.schema import COLUMN_KINDS, COLUMNS, TARGET, Kind


def test_the_schema_lists_the_66_published_columns_in_order():
    assert len(COLUMNS) == len(set(COLUMNS)) == 66
    assert COLUMNS[:6] == ("vin", "back_legroom", "bed", "bed_height", "bed_length", "body_type")
    assert COLUMNS[-4:] == ("wheel_system_display", "wheelbase", "width", "year")
    assert COLUMNS.index("isCab") < COLUMNS.index("is_certified") < COLUMNS.index("latitude")
    assert TARGET == "price" and COLUMN_KINDS[TARGET] is Kind.DECIMAL


def test_every_unit_kind_has_a_pattern():
    unit_kinds = {Kind.INCHES, Kind.GALLONS, Kind.SEATS, Kind.POWER, Kind.TORQUE}
    assert set(UNIT_PATTERNS) == unit_kinds
    assert {kind for kind in COLUMN_KINDS.values()} >= unit_kinds


@pytest.mark.parametrize(
    ("kind", "text", "groups"),
    [
        (Kind.INCHES, "35.1 in", ("35.1",)),
        (Kind.INCHES, "145 in", ("145",)),
        (Kind.GALLONS, "19.5 gal", ("19.5",)),
        (Kind.SEATS, "8 seats", ("8",)),
        (Kind.POWER, "177 hp @ 5,700 RPM", ("177", "5,700")),
        (Kind.POWER, "283 hp", ("283", None)),
        (Kind.TORQUE, "200 lb-ft @ 1,750 RPM", ("200", "1,750")),
        (Kind.TORQUE, "1,050 lb-ft @ 1,600 RPM", ("1,050", "1,600")),
    ],
)
def test_unit_patterns_capture_the_numbers(kind: Kind, text: str, groups: tuple):
    match = re.fullmatch(UNIT_PATTERNS[kind], text)
    assert match is not None and match.groups() == groups


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (Kind.INCHES, "--"),
        (Kind.INCHES, "35.1"),
        (Kind.INCHES, "35.1 gal"),
        (Kind.GALLONS, "abc gal"),
        (Kind.POWER, "177 lb-ft @ 5,700 RPM"),
        (Kind.TORQUE, "200 lb-ft @ RPM"),
    ],
)
def test_unit_patterns_reject_other_text(kind: Kind, text: str):
    assert re.fullmatch(UNIT_PATTERNS[kind], text) is None


@pytest.mark.parametrize(
    "literal",
    [
        "['Adaptive Cruise Control', 'Backup Camera']",
        "[\"Driver's Convenience Package\", 'Tow Package']",
        "['Sunroof/Moonroof']",
        "[]",
    ],
)
def test_option_items_are_the_items_of_the_list_literal(literal: str):
    assert re.match(OPTIONS_LIST_PATTERN, literal)
    items = [item[1:-1] for item in re.findall(OPTION_ITEM_PATTERN, literal)]
    assert items == ast.literal_eval(literal)


def test_missing_markers_are_the_published_ones():
    assert set(MISSING_MARKERS) == {"", "--"}
