"""Deterministic synthetic listings in the published `used_cars_data.csv` format.

Prices follow the listing: the model's new price and trim, horsepower, age with a body-type
depreciation rate, mileage, drive, transmission, accident and title history, number of owners,
fleet use, dealer type, plus noise. Missing values appear as the published file writes them
("--" for specifications, empty elsewhere). A small share of rows is deliberately invalid (see
`INVALID_REASONS`) and a few listings appear twice, so that ETL has something to reject and
de-duplicate.

Rows are produced in chunks of `chunk_rows`, each from its own random stream derived from
(seed, chunk index): memory stays bounded at any row count, and the same (rows, seed, chunk_rows)
give a byte-identical file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from continuum_workloads.dataset import catalog
from continuum_workloads.dataset.schema import COLUMNS

CHUNK_ROWS = 50_000
INVALID_SHARE = 0.005
DUPLICATE_SHARE = 0.003
INVALID_REASONS: tuple[str, ...] = ("price_zero", "price_missing", "mileage_absurd")
ABSURD_MILEAGE = 9_999_999.0
SNAPSHOT = np.datetime64("2020-09-10")  # the day the listings were collected
NEWEST_MODEL_YEAR = 2021
VIN_ALPHABET = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))


def _field(name: str) -> np.ndarray:
    return np.array([getattr(model, name) for model in catalog.MODELS])


def _body_field(name: str) -> np.ndarray:
    return np.array([getattr(catalog.BODIES[model.body_type], name) for model in catalog.MODELS])


def _decimal(values: np.ndarray, unit: str = "", places: int = 1) -> np.ndarray:
    """Rounded numbers as pandas writes floats ("35.0", "35.1"), with an optional unit."""
    return np.strings.add(np.round(values.astype(float), places).astype(str), unit).astype(object)


def _whole(values: np.ndarray, prefix: str = "", unit: str = "") -> np.ndarray:
    digits = np.round(values).astype(np.int64).astype(str)
    return np.strings.add(np.strings.add(prefix, digits), unit).astype(object)


def _flag(values: np.ndarray) -> np.ndarray:
    return np.where(values, "True", "False").astype(object)


def _blank(where: np.ndarray, values: np.ndarray, token: str = "") -> np.ndarray:
    return np.where(where, token, values).astype(object)


def _at_rpm(values: np.ndarray, unit: str, rpm: np.ndarray, no_rpm: np.ndarray) -> np.ndarray:
    """ "177 hp @ 5,700 RPM"; just "177 hp" where the listing gives no RPM (electric cars)."""
    return np.array(
        [
            f"{v:.0f} {unit}" if bare else f"{v:.0f} {unit} @ {r:,} RPM"
            for v, r, bare in zip(values, rpm, no_rpm, strict=True)
        ],
        dtype=object,
    )


def _weighted(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


def _chunk(rng: np.random.Generator, first_row: int, n: int) -> pd.DataFrame:
    models = catalog.MODELS
    model = _weighted(rng, _field("popularity").astype(float), n)
    make = _field("make")[model]
    body_type = _field("body_type")[model]
    fuel_type = _field("fuel_type")[model]
    electric = fuel_type == "Electric"
    truck = body_type == "Pickup Truck"
    # A fixed offset per model, so all listings of one model share their dimensions.
    model_offset = ((np.arange(len(models)) * 7919) % 11 - 5)[model] * 0.4

    trim_names, trim_price, trim_power, trim_share = (
        np.array(c) for c in zip(*catalog.TRIMS, strict=True)
    )
    trim = _weighted(rng, trim_share, n)

    is_new = rng.random(n) < 0.35
    age = np.where(
        is_new, rng.integers(0, 2, n), 1 + np.minimum(rng.gamma(2.0, 2.3, n).astype(int), 20)
    )
    year = NEWEST_MODEL_YEAR - age
    mileage = np.where(
        is_new,
        rng.integers(0, 60, n),
        np.round(age * 11_500 * rng.lognormal(0.0, 0.4, n)) + rng.integers(0, 1_000, n),
    ).astype(float)

    base_power = _field("horsepower")[model] * trim_power[trim]
    horsepower = np.round(base_power * np.exp(rng.normal(0.0, 0.04, n)))
    torque = np.round(horsepower * 1.08 * np.exp(rng.normal(0.0, 0.08, n)))
    power_rpm = rng.integers(50, 69, n) * 100
    torque_rpm = rng.integers(30, 90, n) * 50

    drive = np.empty(n, dtype=object)
    for name, body in catalog.BODIES.items():
        rows = body_type == name
        # Skewed towards the body's first, most common drive.
        pick = (rng.random(rows.sum()) ** 1.6 * len(body.drives)).astype(int)
        drive[rows] = np.array(body.drives, dtype=object)[pick]
    four_wheels = np.isin(drive, ("AWD", "4WD"))

    codes, displays, shares = (
        np.array(c, dtype=object) for c in zip(*catalog.TRANSMISSIONS, strict=True)
    )
    gearbox = _weighted(rng, shares.astype(float), n)
    gearbox[electric] = 1  # plain "Automatic"
    transmission = codes[gearbox]
    gears = rng.integers(6, 11, n).astype(str)
    transmission_display = np.array(
        [display.format(gears=g) for display, g in zip(displays[gearbox], gears, strict=True)],
        dtype=object,
    )

    history_known = ~is_new & (rng.random(n) < 0.9)
    has_accidents = rng.random(n) < 0.08 + 0.012 * age
    frame_damaged = rng.random(n) < 0.02
    salvage = rng.random(n) < 0.01
    theft_title = rng.random(n) < 0.004
    fleet = rng.random(n) < 0.12
    is_cab = rng.random(n) < 0.015
    owner_count = 1 + rng.poisson(age / 5.0)

    city = rng.integers(0, len(catalog.CITIES), n)
    dealer_slot = rng.integers(0, catalog.DEALERS_PER_CITY, n)
    dealer = city * catalog.DEALERS_PER_CITY + dealer_slot
    franchise = dealer_slot < 8
    makes = np.array(sorted({m.make for m in models}), dtype=object)
    franchise_make = np.where(franchise, makes[dealer % len(makes)], "").astype(object)
    city_name, zips, latitude, longitude = (
        np.array(c, dtype=object) for c in zip(*catalog.CITIES, strict=True)
    )
    words = np.array(catalog.DEALER_WORDS, dtype=object)[dealer % len(catalog.DEALER_WORDS)]
    sp_name = np.where(
        franchise, words + " " + franchise_make, words + " Auto Sales of " + city_name[city]
    ).astype(object)
    seller_rating = 2.5 + (dealer * 37 % 26) / 10.0

    value = (
        _field("new_price")[model]
        * trim_price[trim]
        * (horsepower / base_power) ** 0.6
        * (1.0 - _body_field("depreciation")[model]) ** age
        * np.exp(-0.2 * mileage / 100_000)
        * np.where(four_wheels, 1.06, 1.0)
        * np.where(transmission == "M", 0.97, 1.0)
        * np.where(franchise, 1.03, 1.0)
        * np.where(
            history_known,
            np.where(has_accidents, 0.88, 1.0)
            * np.where(frame_damaged, 0.75, 1.0)
            * np.where(salvage, 0.55, 1.0)
            * np.where(theft_title, 0.8, 1.0)
            * np.where(fleet, 0.95, 1.0)
            * 0.96 ** (owner_count - 1),
            1.0,
        )
        * rng.lognormal(0.0, 0.07, n)
    )
    price = np.maximum(np.round(value), 500.0)
    savings = np.where(rng.random(n) < 0.6, np.round(price * rng.uniform(0, 0.08, n)), 0)

    days_on_market = rng.geometric(1 / 45, n) - 1
    listing_id = 270_000_000 + (first_row + np.arange(n)) * 3 + rng.integers(0, 3, n)

    spec_missing = rng.random(n) < 0.03
    power_missing = rng.random(n) < 0.08
    economy_missing = electric | (rng.random(n) < 0.1)
    city_economy = np.clip(np.round(48 - 0.085 * horsepower + rng.normal(0, 1.5, n)), 9, 60)
    city_economy += np.where(fuel_type == "Hybrid", 18, 0)
    highway_economy = np.round(city_economy * 1.3 + rng.normal(0, 1, n))

    def inches(base: np.ndarray, spread: float) -> np.ndarray:
        return _blank(
            spec_missing | (base == 0), _decimal(base + model_offset * spread, " in"), "--"
        )

    exterior = rng.integers(0, len(catalog.EXTERIOR_COLORS), n)
    exterior_names, listing_colors = (
        np.array(c, dtype=object) for c in zip(*catalog.EXTERIOR_COLORS, strict=True)
    )
    option_names, option_shares = zip(*catalog.OPTIONS, strict=True)
    carried = rng.random((n, len(option_names))) < np.minimum(
        np.outer(1.0 + 0.6 * trim, option_shares), 0.95
    )
    # Few distinct combinations: format each once.
    combination, row_combination = np.unique(carried, axis=0, return_inverse=True)
    major_options = np.array(
        [repr([option_names[i] for i in np.flatnonzero(c)]) for c in combination], dtype=object
    )[row_combination.ravel()]
    opener = rng.integers(0, len(catalog.DESCRIPTION_OPENERS), n)
    closer = rng.integers(0, len(catalog.DESCRIPTION_CLOSERS), n)
    description = np.array(
        [
            f"{y} {mk} {models[m].name} {trim_names[t]}\n"
            f"{catalog.DESCRIPTION_OPENERS[o]}\n{catalog.DESCRIPTION_CLOSERS[c]}".rstrip()
            for y, mk, m, t, o, c in zip(year, make, model, trim, opener, closer, strict=True)
        ],
        dtype=object,
    )
    vin = VIN_ALPHABET[rng.integers(0, len(VIN_ALPHABET), (n, 17))].view("<U17").ravel()
    bed = rng.integers(0, len(catalog.BEDS), n)

    raw: dict[str, np.ndarray] = {
        "vin": vin.astype(object),
        "back_legroom": inches(_body_field("back_legroom")[model], 0.2),
        "bed": _blank(~truck, np.array(catalog.BEDS, dtype=object)[bed]),
        "bed_height": _blank(~truck, np.full(n, "--", dtype=object)),
        "bed_length": _blank(~truck, _decimal(np.array(catalog.BED_LENGTHS)[bed], " in")),
        "body_type": body_type.astype(object),
        "cabin": _blank(~truck, np.array(catalog.CABINS, dtype=object)[rng.integers(0, 3, n)]),
        "city": city_name[city],
        "city_fuel_economy": _blank(economy_missing, _decimal(city_economy)),
        "combine_fuel_economy": np.full(n, "", dtype=object),
        "daysonmarket": _whole(days_on_market),
        "dealer_zip": zips[city],
        "description": _blank(rng.random(n) < 0.04, description),
        "engine_cylinders": _field("engine")[model].astype(object),
        "engine_displacement": _blank(electric, _decimal(_field("displacement_cc")[model])),
        "engine_type": _field("engine")[model].astype(object),
        "exterior_color": exterior_names[exterior],
        "fleet": _blank(~history_known, _flag(fleet)),
        "frame_damaged": _blank(~history_known, _flag(frame_damaged)),
        "franchise_dealer": _flag(franchise),
        "franchise_make": franchise_make,
        "front_legroom": inches(_body_field("front_legroom")[model], 0.1),
        "fuel_tank_volume": _blank(
            spec_missing | electric,
            _decimal(_body_field("fuel_tank")[model] + model_offset * 0.3, " gal"),
            "--",
        ),
        "fuel_type": fuel_type.astype(object),
        "has_accidents": _blank(~history_known, _flag(has_accidents)),
        "height": inches(_body_field("height")[model], 0.5),
        "highway_fuel_economy": _blank(economy_missing, _decimal(highway_economy)),
        "horsepower": _blank(power_missing, _decimal(horsepower)),
        "interior_color": np.array(catalog.INTERIOR_COLORS, dtype=object)[
            rng.integers(0, len(catalog.INTERIOR_COLORS), n)
        ],
        "isCab": _blank(~history_known, _flag(is_cab)),
        "is_certified": np.full(n, "", dtype=object),
        "is_cpo": _blank(is_new | (rng.random(n) >= 0.06), np.full(n, "True", dtype=object)),
        "is_new": _flag(is_new),
        "is_oemcpo": _blank(is_new | (rng.random(n) >= 0.05), np.full(n, "True", dtype=object)),
        "latitude": _decimal(latitude[city] + rng.normal(0, 0.08, n), places=4),
        "length": inches(_body_field("length")[model], 2.0),
        "listed_date": np.datetime_as_string(SNAPSHOT - days_on_market).astype(object),
        "listing_color": listing_colors[exterior],
        "listing_id": _whole(listing_id),
        "longitude": _decimal(longitude[city] + rng.normal(0, 0.08, n), places=4),
        "main_picture_url": _blank(
            rng.random(n) < 0.08, _whole(listing_id, "https://images.example.com/listings/", ".jpg")
        ),
        "major_options": _blank(rng.random(n) < 0.06, major_options),
        "make_name": make.astype(object),
        "maximum_seating": _blank(
            spec_missing,
            _whole(_body_field("seats")[model] + truck * (trim == 0), unit=" seats"),
            "--",
        ),
        "mileage": _decimal(mileage),
        "model_name": _field("name")[model].astype(object),
        "owner_count": _blank(~history_known, _decimal(owner_count)),
        "power": _blank(power_missing, _at_rpm(horsepower, "hp", power_rpm, electric)),
        "price": _decimal(price),
        "salvage": _blank(~history_known, _flag(salvage)),
        "savings_amount": _whole(savings),
        "seller_rating": _decimal(seller_rating),
        "sp_id": _decimal(60_000 + dealer),
        "sp_name": sp_name,
        "theft_title": _blank(~history_known, _flag(theft_title)),
        "torque": _blank(power_missing, _at_rpm(torque, "lb-ft", torque_rpm, electric)),
        "transmission": transmission,
        "transmission_display": transmission_display,
        "trimId": _whole(80_000 + model * 10 + trim, "t"),
        "trim_name": np.where(four_wheels, trim_names[trim] + " " + drive, trim_names[trim]).astype(
            object
        ),
        "vehicle_damage_category": np.full(n, "", dtype=object),
        "wheel_system": drive,
        "wheel_system_display": np.array([catalog.DRIVE_DISPLAY[d] for d in drive], dtype=object),
        "wheelbase": inches(_body_field("wheelbase")[model], 0.8),
        "width": inches(_body_field("width")[model], 0.2),
        "year": _whole(year),
    }
    frame = pd.DataFrame(raw, columns=list(COLUMNS))
    _spoil(rng, frame)
    return frame


def _spoil(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    """Makes a few rows invalid and re-lists a few earlier ones, in place."""
    n = len(frame)
    invalid = np.flatnonzero(rng.random(n) < INVALID_SHARE)
    reasons = rng.integers(0, len(INVALID_REASONS), len(invalid))
    for reason, column, value in (
        ("price_zero", "price", "0.0"),
        ("price_missing", "price", ""),
        ("mileage_absurd", "mileage", f"{ABSURD_MILEAGE:.1f}"),
    ):
        rows = invalid[reasons == INVALID_REASONS.index(reason)]
        frame.iloc[rows, frame.columns.get_loc(column)] = value
    repeats = np.flatnonzero(rng.random(n) < DUPLICATE_SHARE)
    repeats = repeats[repeats > 0]
    originals = (rng.random(len(repeats)) * repeats).astype(int)
    frame.iloc[repeats] = frame.iloc[originals].to_numpy()


def generate_chunks(rows: int, seed: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The listings as frames of strings in the published column order, `chunk_rows` at a time."""
    if rows < 0 or chunk_rows < 1:
        raise ValueError("rows must be >= 0 and chunk_rows >= 1")
    for index, first_row in enumerate(range(0, rows, chunk_rows)):
        rng = np.random.default_rng([seed, index])
        yield _chunk(rng, first_row, min(chunk_rows, rows - first_row))


def write_csv(
    path: Path,
    rows: int,
    seed: int,
    chunk_rows: int = CHUNK_ROWS,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Writes `rows` listings to `path` as the published file is written (pandas' CSV dialect:
    minimal quoting, doubled quotes, "\\n" line ends). `on_chunk` gets each chunk's row count."""
    with path.open("w", encoding="utf-8", newline="") as out:
        pd.DataFrame(columns=list(COLUMNS)).to_csv(out, index=False, lineterminator="\n")
        for chunk in generate_chunks(rows, seed, chunk_rows):
            chunk.to_csv(out, header=False, index=False, lineterminator="\n")
            if on_chunk is not None:
                on_chunk(len(chunk))
