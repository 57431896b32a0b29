"""The synthetic generator: deterministic, the published formats, realistic prices."""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

import numpy as np
import pytest

from continuum_workloads.dataset.generator import ABSURD_MILEAGE, generate_chunks, write_csv
from continuum_workloads.dataset.parsing import UNIT_PATTERNS
from continuum_workloads.dataset.schema import COLUMN_KINDS, COLUMNS, Kind


@pytest.fixture(scope="module")
def listings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    path = tmp_path_factory.mktemp("generated") / "listings.csv"
    write_csv(path, rows=20_000, seed=11, chunk_rows=7_000)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path):
    paths = [tmp_path / f"{name}.csv" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (5, 5, 6), strict=True):
        write_csv(path, rows=1_500, seed=seed, chunk_rows=600)
    a, b, c = (path.read_bytes() for path in paths)
    assert a == b
    assert a != c


def test_rows_come_in_bounded_chunks_and_the_header_once(tmp_path: Path):
    sizes = [len(chunk) for chunk in generate_chunks(2_500, seed=1, chunk_rows=1_000)]
    assert sizes == [1_000, 1_000, 500]

    path = tmp_path / "listings.csv"
    seen: list[int] = []
    write_csv(path, rows=2_500, seed=1, chunk_rows=1_000, on_chunk=seen.append)
    assert seen == sizes
    with path.open(newline="", encoding="utf-8") as f:
        records = list(csv.reader(f))
    assert records[0] == list(COLUMNS)
    assert len(records) == 2_501 and all(len(r) == len(COLUMNS) for r in records)


def test_zero_rows_is_a_header_only_file(tmp_path: Path):
    path = tmp_path / "empty.csv"
    write_csv(path, rows=0, seed=1)
    assert path.read_text(encoding="utf-8") == ",".join(COLUMNS) + "\n"


def test_values_are_written_in_the_published_formats(listings: list[dict[str, str]]):
    for name, kind in COLUMN_KINDS.items():
        values = {row[name] for row in listings} - {""}
        if kind in UNIT_PATTERNS:
            odd = {v for v in values if v != "--" and not re.fullmatch(UNIT_PATTERNS[kind], v)}
            assert not odd, (name, sorted(odd)[:3])
        elif kind is Kind.FLAG:
            assert values <= {"True", "False"}, name
        elif kind is Kind.DATE:
            assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) for v in values), name
        elif kind in (Kind.DECIMAL, Kind.INTEGER):
            assert all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in values), name
        elif kind is Kind.OPTIONS:
            assert all(isinstance(ast.literal_eval(v), list) for v in values)

    power = {row["power"] for row in listings}
    assert any(" @ " in v and "," in v for v in power) and any(v.endswith(" hp") for v in power)
    assert any("\n" in row["description"] and '"' in row["description"] for row in listings)
    for name in ("back_legroom", "fuel_tank_volume", "maximum_seating", "major_options", "bed"):
        assert any(row[name] in ("", "--") for row in listings), name
    assert {row["is_certified"] for row in listings} == {""}


def test_a_small_share_of_rows_is_invalid_or_repeated(listings: list[dict[str, str]]):
    share = len(listings) / 1_000
    assert 1 <= sum(row["price"] == "0.0" for row in listings) <= 5 * share
    assert 1 <= sum(row["price"] == "" for row in listings) <= 5 * share
    assert 1 <= sum(float(row["mileage"]) == ABSURD_MILEAGE for row in listings) <= 5 * share
    repeated = len(listings) - len({row["listing_id"] for row in listings})
    assert 1 <= repeated <= 10 * share


def test_prices_follow_the_listing(listings: list[dict[str, str]]):
    valid = [
        row
        for row in listings
        if row["price"] not in ("", "0.0")
        and float(row["mileage"]) < ABSURD_MILEAGE
        and row["horsepower"]
        and row["has_accidents"]
    ]
    log_price = np.log([float(row["price"]) for row in valid])
    features = np.column_stack(
        [
            np.ones(len(valid)),
            [2021 - int(row["year"]) for row in valid],
            [float(row["mileage"]) / 10_000 for row in valid],
            [np.log(float(row["horsepower"])) for row in valid],
            [row["has_accidents"] == "True" for row in valid],
            [row["salvage"] == "True" for row in valid],
        ]
    )
    _, age, mileage, horsepower, accidents, salvage = np.linalg.lstsq(
        features, log_price, rcond=None
    )[0]
    assert age < 0 and mileage < 0 and accidents < 0 and salvage < 0
    assert horsepower > 0

    def median_price(model: str) -> float:
        return float(np.median([float(r["price"]) for r in valid if r["model_name"] == model]))

    assert median_price("Escalade") > median_price("Equinox") > 0
