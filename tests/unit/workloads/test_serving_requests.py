"""Request validation: every malformed request gets a reason and the field, every valid one the
listing in the dataset's text form."""

from __future__ import annotations

import json

import pytest

from continuum_workloads.serving.requests import (
    LISTING_FIELDS,
    MAX_REQUEST_BYTES,
    Rejection,
    ValidRequest,
    validate,
)

YEAR = 2026


def request(**fields: object) -> bytes:
    return json.dumps({"request_id": "r-1", "year": 2019, "make_name": "Ford", **fields}).encode()


def valid(raw: bytes) -> ValidRequest:
    judged = validate(raw, current_year=YEAR)
    assert isinstance(judged, ValidRequest), judged
    return judged


def rejected(raw: bytes | None) -> Rejection:
    judged = validate(raw, current_year=YEAR)
    assert isinstance(judged, Rejection), judged
    return judged


def test_a_listing_in_the_datasets_text_forms_passes_as_written() -> None:
    texts = {
        "back_legroom": "35.1 in", "fuel_tank_volume": "19.5 gal", "maximum_seating": "5 seats",
        "power": "177 hp @ 5,700 RPM", "torque": "200 lb-ft", "fleet": "True",
        "is_new": "false", "dealer_zip": "02134", "mileage": "23141.0", "year": "2019",
        "listed_date": "2019-04-06", "major_options": "['Backup Camera', 'Bluetooth']",
        "owner_count": "1.0", "latitude": "-66.1582",
    }  # fmt: skip
    listing = valid(request(**texts)).listing
    assert {name: listing[name] for name in texts} == texts
    assert set(listing) == set(LISTING_FIELDS)


def test_plain_json_values_become_the_datasets_text() -> None:
    plain = {
        "back_legroom": 35.1, "fuel_tank_volume": 19, "maximum_seating": 5, "horsepower": 177,
        "power": 177, "torque": 200.5, "fleet": True, "has_accidents": False, "mileage": 23141,
        "major_options": ["Backup Camera", "It's"], "owner_count": 2,
    }  # fmt: skip
    listing = valid(request(**plain)).listing
    assert listing["back_legroom"] == "35.1 in"
    assert listing["fuel_tank_volume"] == "19 gal"
    assert listing["maximum_seating"] == "5 seats"
    assert listing["horsepower"] == "177.0"
    assert listing["power"] == "177 hp"
    assert listing["torque"] == "200.5 lb-ft"
    assert (listing["fleet"], listing["has_accidents"]) == ("True", "False")
    assert listing["mileage"] == "23141.0"
    assert listing["major_options"] == "['Backup Camera', \"It's\"]"
    assert listing["owner_count"] == "2"
    assert listing["year"] == "2019"


@pytest.mark.parametrize("missing", ["--", "", "  ", None])
def test_missing_markers_and_null_are_missing(missing: object) -> None:
    listing = valid(request(back_legroom=missing, fleet=missing, dealer_zip=missing)).listing
    assert listing["back_legroom"] is None and listing["fleet"] is None
    assert listing["dealer_zip"] is None and listing["bed"] is None


def test_event_time_as_iso_text_or_epoch_ms() -> None:
    assert valid(request(event_time="2026-12-03T15:00:00Z")).event_time_ms == 1796310000000
    assert valid(request(event_time="2026-12-03T15:00:00")).event_time_ms == 1796310000000
    assert valid(request(event_time=1796310000000)).event_time_ms == 1796310000000
    assert valid(request()).event_time_ms is None


def test_a_price_in_the_request_is_allowed_and_not_passed_on() -> None:
    assert "price" not in valid(request(price="12000.0")).listing


@pytest.mark.parametrize(
    ("raw", "reason", "field"),
    [
        (None, "not_json", None),
        (b"{not json", "not_json", None),
        (b"\xff\xfe", "not_json", None),
        (b"[1, 2]", "not_an_object", None),
        (b'"text"', "not_an_object", None),
        (b'{"year": 2019, "make_name": "Ford"}', "missing_field", "request_id"),
        (json.dumps({"request_id": 7}).encode(), "mistyped", "request_id"),
        (json.dumps({"request_id": "  "}).encode(), "mistyped", "request_id"),
        (json.dumps({"request_id": "x" * 201}).encode(), "too_large", "request_id"),
        (request(event_time="yesterday"), "invalid_value", "event_time"),
        (request(event_time=-5), "out_of_range", "event_time"),
        (request(event_time=True), "mistyped", "event_time"),
        (json.dumps({"request_id": "r-1", "make_name": "Ford"}).encode(), "missing_field", "year"),
        (json.dumps({"request_id": "r-1", "year": 2019}).encode(), "missing_field", "make_name"),
        (request(make_name="--"), "missing_field", "make_name"),
        (request(year=1899), "out_of_range", "year"),
        (request(year=YEAR + 2), "out_of_range", "year"),
        (request(year="20x9"), "invalid_value", "year"),
        (request(year=2019.5), "invalid_value", "year"),
        (request(mileage=-1), "out_of_range", "mileage"),
        (request(mileage="-1.0"), "out_of_range", "mileage"),
        (request(mileage=2_000_000), "out_of_range", "mileage"),
        (request(mileage="1_000"), "invalid_value", "mileage"),
        (request(mileage="lots"), "invalid_value", "mileage"),
        (request(mileage=True), "mistyped", "mileage"),
        (request(mileage=[1]), "mistyped", "mileage"),
        (request(latitude=91), "out_of_range", "latitude"),
        (request(back_legroom="35.1 cm"), "invalid_value", "back_legroom"),
        (request(back_legroom=-3), "out_of_range", "back_legroom"),
        (request(maximum_seating="5.5 seats"), "invalid_value", "maximum_seating"),
        (request(power="fast"), "invalid_value", "power"),
        (request(fleet="yes"), "invalid_value", "fleet"),
        (request(fleet=1), "mistyped", "fleet"),
        (request(dealer_zip=2134), "mistyped", "dealer_zip"),
        (request(listed_date="06/04/2019"), "invalid_value", "listed_date"),
        (request(listed_date="2019-02-30"), "invalid_value", "listed_date"),
        (request(major_options="Bluetooth"), "invalid_value", "major_options"),
        (request(major_options=[1, 2]), "mistyped", "major_options"),
        (request(colour="red"), "unknown_field", "colour"),
        (request(description="x" * 20_000), "too_large", "description"),
        (request(mileage=float("inf")), "invalid_value", "mileage"),
    ],
)
def test_malformed_requests_get_a_reason_and_the_field(
    raw: bytes | None, reason: str, field: str | None
) -> None:
    rejection = rejected(raw)
    assert (rejection.reason, rejection.field) == (reason, field), rejection.detail
    assert rejection.detail


def test_an_oversized_request_is_rejected_before_parsing() -> None:
    rejection = rejected(b" " * (MAX_REQUEST_BYTES + 1))
    assert rejection.reason == "too_large"


def test_a_rejection_keeps_the_request_id_when_it_has_one() -> None:
    assert rejected(request(mileage=-1)).request_id == "r-1"
    assert rejected(b"[]").request_id is None
