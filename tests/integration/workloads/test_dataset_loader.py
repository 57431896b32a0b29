"""The loader reads the published format field for field, and parsing types every column."""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from continuum_workloads.dataset.generator import write_csv
from continuum_workloads.dataset.loader import MissingColumnsError, read_listings
from continuum_workloads.dataset.parsing import parse_listings
from continuum_workloads.dataset.schema import COLUMN_KINDS, COLUMNS, Kind

SAMPLE = Path(__file__).parents[2] / "data" / "used_cars_sample.csv"


def _by_vin(rows: list[dict]) -> dict[str, dict]:
    return {row["vin"]: row for row in rows}


def test_every_raw_field_matches_an_independent_csv_reader(spark: SparkSession):
    frame = read_listings(spark, str(SAMPLE))

    assert tuple(frame.columns) == COLUMNS
    assert dict(frame.dtypes) == dict.fromkeys(COLUMNS, "string")
    with SAMPLE.open(newline="", encoding="utf-8") as f:
        expected = list(csv.DictReader(f))
    # Spark reads an empty field as null; the published file has no other way to say "empty".
    actual = [{k: v or "" for k, v in row.asDict().items()} for row in frame.collect()]
    assert _by_vin(actual) == _by_vin(expected)
    assert len(actual) == 4


def test_multi_line_descriptions_keep_their_lines_quotes_and_backslashes(spark):
    rows = _by_vin([r.asDict() for r in read_listings(spark, str(SAMPLE)).collect()])

    assert rows["ZACNJABB5KPJ92081"]["description"] == (
        "[!@@Additional Info@@!]Clean CARFAX, one owner.\n"
        'Priced to sell, "like new" condition,\nsee dealer for details.'
    )
    assert rows["1FTEW1EP5JFA12345"]["description"] == (
        'Towing ready, 4x4\n\nNote: C:\\path is not a path, and "quotes" stay.'
    )
    assert rows["2C4RC1BG8LR123456"]["description"] == (
        'Family hauler, seats 8,\n"Stow \'n Go" seating.\n'
    )


def test_parsing_types_every_field_of_a_complete_listing(spark):
    typed = _by_vin(
        [r.asDict() for r in parse_listings(read_listings(spark, str(SAMPLE))).collect()]
    )

    assert typed["ZACNJABB5KPJ92081"] == {
        "vin": "ZACNJABB5KPJ92081",
        "back_legroom": 35.1,
        "bed": None,
        "bed_height": None,
        "bed_length": None,
        "body_type": "SUV / Crossover",
        "cabin": None,
        "city": "Bayamon",
        "city_fuel_economy": 22.0,
        "combine_fuel_economy": None,
        "daysonmarket": 522,
        "dealer_zip": "00960",
        "description": "[!@@Additional Info@@!]Clean CARFAX, one owner.\n"
        'Priced to sell, "like new" condition,\nsee dealer for details.',
        "engine_cylinders": "I4",
        "engine_displacement": 1300.0,
        "engine_type": "I4",
        "exterior_color": "Solar Yellow",
        "fleet": False,
        "frame_damaged": False,
        "franchise_dealer": True,
        "franchise_make": "Jeep",
        "front_legroom": 41.2,
        "fuel_tank_volume": 12.7,
        "fuel_type": "Gasoline",
        "has_accidents": False,
        "height": 66.5,
        "highway_fuel_economy": 30.0,
        "horsepower": 177.0,
        "interior_color": "Black",
        "isCab": False,
        "is_certified": None,
        "is_cpo": None,
        "is_new": True,
        "is_oemcpo": None,
        "latitude": 18.3988,
        "length": 166.6,
        "listed_date": datetime.date(2019, 4, 6),
        "listing_color": "YELLOW",
        "listing_id": 237132766,
        "longitude": -66.1582,
        "main_picture_url": "https://images.example.com/listings/237132766.jpg",
        "major_options": ["Quick Order Package", "Adaptive Cruise Control"],
        "make_name": "Jeep",
        "maximum_seating": 5,
        "mileage": 7.0,
        "model_name": "Renegade",
        "owner_count": 1,
        "power": 177.0,
        "power_rpm": 5750.0,
        "price": 23141.0,
        "salvage": False,
        "savings_amount": 0,
        "seller_rating": 2.8,
        "sp_id": 370599,
        "sp_name": "Flagship Chrysler",
        "theft_title": False,
        "torque": 200.0,
        "torque_rpm": 1750.0,
        "transmission": "A",
        "transmission_display": "9-Speed Automatic Overdrive",
        "trimId": "t83804",
        "trim_name": "Latitude FWD",
        "vehicle_damage_category": None,
        "wheel_system": "FWD",
        "wheel_system_display": "Front-Wheel Drive",
        "wheelbase": 101.2,
        "width": 79.6,
        "year": 2019,
    }


def test_parsing_handles_the_other_shapes_values_take(spark):
    typed = _by_vin(
        [r.asDict() for r in parse_listings(read_listings(spark, str(SAMPLE))).collect()]
    )
    truck, electric, van = (
        typed["1FTEW1EP5JFA12345"],
        typed["5YJ3E1EA7KF317000"],
        typed["2C4RC1BG8LR123456"],
    )

    assert (truck["bed"], truck["bed_height"], truck["bed_length"]) == ("Short Bed", None, 67.1)
    assert (truck["fuel_tank_volume"], truck["wheelbase"], truck["seller_rating"]) == (
        26,
        145,
        4.25,
    )
    assert truck["major_options"] == ["Driver's Convenience Package", "Tow Package"]
    assert (truck["fleet"], truck["has_accidents"], truck["is_cpo"]) == (True, True, True)
    assert truck["sp_name"] == "Gulf Coast Trucks, LLC"
    assert truck["main_picture_url"] is None

    # "--" and empty both mean missing; a power or torque without RPM keeps its value.
    unit_columns = [n for n, k in COLUMN_KINDS.items() if k in (Kind.INCHES, Kind.GALLONS)]
    assert all(electric[name] is None for name in unit_columns)
    assert electric["maximum_seating"] is None
    assert (electric["power"], electric["power_rpm"]) == (283.0, None)
    assert (electric["torque"], electric["torque_rpm"]) == (307.0, None)
    assert (electric["major_options"], electric["description"], electric["mileage"]) == (
        None,
        None,
        None,
    )
    assert electric["fleet"] is None and electric["is_new"] is True
    assert (electric["price"], electric["dealer_zip"]) == (0.0, "85023-1234")

    assert van["major_options"] == []
    assert (van["frame_damaged"], van["salvage"], van["theft_title"], van["isCab"]) == (
        True,
        True,
        True,
        True,
    )
    assert (van["maximum_seating"], van["back_legroom"], van["fuel_tank_volume"]) == (8, 39, 19)
    assert van["seller_rating"] == pytest.approx(3.9473684210526314)
    assert (van["power_rpm"], van["torque"], van["torque_rpm"]) == (6400.0, 262.0, 4000.0)


def test_missing_required_columns_are_named(spark, tmp_path: Path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(
        lines[0].replace("price", "asking_price").replace("mileage", "odometer")
        + "".join(lines[1:]),
        encoding="utf-8",
    )

    with pytest.raises(MissingColumnsError, match="mileage, price") as error:
        read_listings(spark, str(renamed))
    assert error.value.missing == ("mileage", "price")
    assert read_listings(spark, str(renamed), required=["vin"]).count() == 4


def test_generated_batches_parse_without_losing_values(spark, tmp_path: Path):
    """Every value the generator writes in a unit format parses to a number, and only the
    published markers of a missing value become null."""
    source = tmp_path / "listings.csv"
    write_csv(source, rows=400, seed=3)
    raw = read_listings(spark, str(source))
    typed = parse_listings(raw)

    assert typed.count() == 400
    for name in ("back_legroom", "fuel_tank_volume", "maximum_seating", "power", "torque"):
        written = raw.where(~raw[name].isin("--") & raw[name].isNotNull()).count()
        assert typed.where(typed[name].isNotNull()).count() == written, name
    parsed_options = typed.where(typed["major_options"].isNotNull())
    assert parsed_options.count() == raw.where(raw["major_options"].isNotNull()).count()


def test_batches_whose_headers_disagree_are_refused(spark, tmp_path: Path):
    """A batch with its columns in another order must not shift values into wrong columns."""
    header, *rest = SAMPLE.read_text(encoding="utf-8").split("\n", 1)
    columns = header.split(",")
    swapped = [columns[1], columns[0], *columns[2:]]
    for name, first_line in (("batch-0001", header), ("batch-0002", ",".join(swapped))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part-00000.csv").write_text(
            first_line + "\n" + rest[0], encoding="utf-8"
        )

    frame = read_listings(spark, [str(tmp_path / "batch-0001"), str(tmp_path / "batch-0002")])
    with pytest.raises(Py4JJavaError, match=r"(?i)header"):
        frame.collect()
