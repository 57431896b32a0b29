"""Which inputs a run learns from, and what a blank flag means: pure decisions, no Spark."""

from __future__ import annotations

import re

from continuum_workloads.dataset.parsing import literal
from continuum_workloads.dataset.schema import COLUMN_KINDS, FLAG_BLANK_MEANS, Kind
from continuum_workloads.training.features import (
    CATEGORICAL,
    DERIVED,
    FLAGS,
    NUMERIC,
    category,
    flag_columns,
    number,
    usable_inputs,
)

FOLDS = 3


def counts(**per_fold: list[int]) -> dict[str, list[int]]:
    """Every input with values in every fold, except the ones given."""
    names = [number(n) for n in (*NUMERIC, *DERIVED)] + [category(n) for n in CATEGORICAL]
    return {name: per_fold.get(name, [10] * FOLDS) for name in names}


def test_inputs_without_any_value_are_dropped_and_named():
    inputs = usable_inputs(
        counts(torque_num=[0, 0, 0], length_num=[0, 0, 0], exterior_color_cat=[0, 0, 0])
    )

    assert inputs.dropped == ("length", "torque", "exterior_color")
    assert "torque" not in inputs.numeric and "mileage" in inputs.numeric
    assert "exterior_color" not in inputs.categorical and "make_name" in inputs.categorical


def test_an_input_with_values_in_one_fold_only_is_dropped_as_that_folds_training_has_none():
    inputs = usable_inputs(counts(horsepower_num=[0, 4, 0], owner_count_num=[0, 4, 1]))

    assert inputs.dropped == ("horsepower",)
    assert "owner_count" in inputs.numeric


def test_a_complete_batch_drops_nothing():
    inputs = usable_inputs(counts())

    assert inputs.dropped == ()
    assert inputs.numeric == (*NUMERIC, *DERIVED)
    assert inputs.categorical == CATEGORICAL


def test_every_published_flag_says_what_its_blank_means():
    published = {name for name, kind in COLUMN_KINDS.items() if kind is Kind.FLAG}
    assert set(FLAG_BLANK_MEANS) == published
    assert set(FLAGS) <= published


def test_certification_flags_are_false_when_blank_history_flags_unknown():
    # Certification is written only when it holds; history only when a report exists.
    assert {n for n, blank in FLAG_BLANK_MEANS.items() if blank is False} == {
        "is_certified", "is_cpo", "is_oemcpo",
    }  # fmt: skip
    for name in ("has_accidents", "frame_damaged", "salvage", "theft_title", "fleet", "isCab"):
        assert FLAG_BLANK_MEANS[name] is None


def test_only_flags_whose_blank_is_unknown_get_a_stated_column():
    columns = flag_columns()
    assert "is_cpo_flag" in columns and "is_cpo_stated" not in columns
    assert "has_accidents_flag" in columns and "has_accidents_stated" in columns


def test_sql_literals_escape_quotes_and_backslashes():
    assert literal(r"""a'b\.c"d""") == r"""'a\'b\\.c"d'"""
    # What the SQL parser reads back from the literal is the original text.
    body = literal(r"^\[.*\]$")[1:-1]
    assert re.sub(r"\\(.)", r"\1", body) == r"^\[.*\]$"
