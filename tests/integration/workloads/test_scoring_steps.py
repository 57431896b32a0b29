"""The scoring query's own steps on a local Spark, without Kafka: request validation (the JVM
validator, a function of the query) gives every malformed request a reason and the field and
every valid one the listing in the dataset's text form, `continuum simulate`'s requests are
judged as they say, and each request's answer becomes the Kafka record it is written as."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from continuum_workloads.serving.answers import (
    FIELD_HEADER,
    REASON_HEADER,
    REQUEST_ID_HEADER,
    SOURCE_HEADER,
    answer_records,
)
from continuum_workloads.serving.model import PREDICTION
from continuum_workloads.serving.records import ModelIdentity
from continuum_workloads.serving.requests import (
    DEAD_LETTER_REASONS,
    LISTING_FIELDS,
    MAX_REQUEST_BYTES,
    VERDICT_FIELDS,
    register_validation,
    validation,
)
from continuum_workloads.serving.scorer import SOURCE_COLUMNS, validated
from continuum_workloads.simulators.traffic import SPOILERS, requests, spoil

YEAR = 2026


def judge_all(
    spark: SparkSession, raws: list[bytes | None], latest_year: int = YEAR + 1
) -> list[Row]:
    """Each request's verdict: VERDICT_FIELDS, then the listing fields."""
    register_validation(spark)
    frame = spark.createDataFrame([(raw,) for raw in raws], "value binary")
    verdicts = frame.select(validation(F.col("value"), F.lit(latest_year)).alias("v"))
    return verdicts.select("v.*").collect()


@pytest.fixture(scope="module")
def judge(spark: SparkSession) -> Callable[[bytes | None], Row]:
    def one(raw: bytes | None) -> Row:
        (verdict,) = judge_all(spark, [raw])
        return verdict

    return one


def listing(raw: bytes, judge: Callable[[bytes | None], Row]) -> dict[str, str | None]:
    verdict = judge(raw)
    assert verdict.reason is None, (verdict.reason, verdict.field, verdict.detail)
    return {name: verdict[name] for name in LISTING_FIELDS}


def request(**fields: object) -> bytes:
    return json.dumps({"request_id": "r-1", "year": 2019, "make_name": "Ford", **fields}).encode()


def test_a_listing_in_the_datasets_text_forms_passes_as_written(judge) -> None:
    texts = {
        "back_legroom": "35.1 in", "fuel_tank_volume": "19.5 gal", "maximum_seating": "5 seats",
        "power": "177 hp @ 5,700 RPM", "torque": "200 lb-ft", "fleet": "True",
        "is_new": "false", "dealer_zip": "02134", "mileage": "23141.0", "year": "2019",
        "listed_date": "2019-04-06", "major_options": "['Backup Camera', 'Bluetooth']",
        "owner_count": "1.0", "latitude": "-66.1582", "description": " as written ",
    }  # fmt: skip
    found = listing(request(**texts), judge)
    assert {name: found[name] for name in texts} == texts


def test_plain_json_values_become_the_datasets_text(judge) -> None:
    plain = {
        "back_legroom": 35.1, "fuel_tank_volume": 19, "maximum_seating": 5, "horsepower": 177,
        "power": 177, "torque": 200.5, "fleet": True, "has_accidents": False, "mileage": 23141,
        "major_options": ["Backup Camera", "It's"], "owner_count": 2, "longitude": 1e-05,
        "engine_displacement": 10_000_000,
    }  # fmt: skip
    found = listing(request(**plain), judge)
    assert found["back_legroom"] == "35.1 in"
    assert found["fuel_tank_volume"] == "19 gal"
    assert found["maximum_seating"] == "5 seats"
    assert found["horsepower"] == "177.0"
    assert found["power"] == "177 hp"
    assert found["torque"] == "200.5 lb-ft"
    assert (found["fleet"], found["has_accidents"]) == ("True", "False")
    assert found["mileage"] == "23141.0"
    assert found["major_options"] == "['Backup Camera', \"It's\"]"
    assert found["owner_count"] == "2"
    assert found["year"] == "2019"
    # Python's float repr, as pandas wrote the published file.
    assert (found["longitude"], found["engine_displacement"]) == ("1e-05", "10000000.0")


@pytest.mark.parametrize("missing", ["--", "", "  ", None])
def test_missing_markers_and_null_are_missing(judge, missing: object) -> None:
    found = listing(request(back_legroom=missing, fleet=missing, dealer_zip=missing), judge)
    assert found["back_legroom"] is None and found["fleet"] is None
    assert found["dealer_zip"] is None and found["bed"] is None


def test_event_time_as_iso_text_or_epoch_ms(judge) -> None:
    assert judge(request(event_time="2026-12-03T15:00:00Z")).event_time_ms == 1796310000000
    assert judge(request(event_time="2026-12-03T15:00:00")).event_time_ms == 1796310000000
    assert judge(request(event_time="2026-12-03 16:00:00+01:00")).event_time_ms == 1796310000000
    assert judge(request(event_time=1796310000000)).event_time_ms == 1796310000000
    assert judge(request()).event_time_ms is None


def test_a_price_in_the_request_is_allowed_and_not_passed_on(judge) -> None:
    assert "price" not in listing(request(price="12000.0"), judge)


MALFORMED = [
    (None, "not_json", None),
    (b"{not json", "not_json", None),
    (b"\xff\xfe", "not_json", None),
    (b'{"request_id": "r-1"} trailing', "not_json", None),
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
    (request(mileage="0x10"), "invalid_value", "mileage"),
    (request(mileage="1d"), "invalid_value", "mileage"),
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
    (request(colour="red", brand="x"), "unknown_field", "brand"),
    (request(description="x" * 20_000), "too_large", "description"),
    (request(mileage=float("inf")), "invalid_value", "mileage"),
]


def test_the_cases_cover_every_reason_the_metrics_count() -> None:
    assert {reason for _, reason, _ in MALFORMED} == set(DEAD_LETTER_REASONS)


@pytest.mark.parametrize(("raw", "reason", "field"), MALFORMED)
def test_malformed_requests_get_a_reason_and_the_field(
    judge, raw: bytes | None, reason: str, field: str | None
) -> None:
    rejection = judge(raw)
    assert (rejection.reason, rejection.field) == (reason, field), rejection.detail
    assert rejection.detail


def test_an_oversized_request_is_rejected_before_parsing(judge) -> None:
    assert judge(b" " * (MAX_REQUEST_BYTES + 1)).reason == "too_large"


def test_a_rejection_keeps_the_request_id_when_it_has_one(judge) -> None:
    assert judge(request(mileage=-1)).request_id == "r-1"
    assert judge(b"[]").request_id is None


def test_the_latest_year_is_next_year_by_default(spark: SparkSession) -> None:
    register_validation(spark)
    next_year = datetime.now(UTC).year + 1
    frame = spark.createDataFrame([(request(year=next_year),), (request(year=next_year + 1),)],
                                  "value binary")  # fmt: skip
    reasons = [r.v.reason for r in frame.select(validation(F.col("value")).alias("v")).collect()]
    assert reasons == [None, "out_of_range"]


def scored_records(spark: SparkSession, values: list[bytes | None]) -> DataFrame:
    """Kafka-like records at offsets 10, 11, ... of partition 1, validated and priced 100.0
    when valid (a stand-in for the model's column)."""
    records = spark.createDataFrame(
        [
            (1, 10 + i, b"k", value, datetime(2026, 1, 1, tzinfo=UTC))
            for i, value in enumerate(values)
        ],
        "partition int, offset long, key binary, value binary, timestamp timestamp",
    )
    judged = validated(records)
    return judged.withColumn(PREDICTION, F.when(F.col("reason").isNull(), F.lit(100.0)))


GOOD = json.dumps(
    {"request_id": "a", "year": "2019", "make_name": "Ford", "back_legroom": "35.1 in",
     "event_time": 1_700_000_000_000}
).encode()  # fmt: skip
OTHER = json.dumps({"request_id": "b", "year": 2018, "make_name": "Kia"}).encode()
BROKEN = json.dumps({"request_id": "c", "year": 1850, "make_name": "Ford"}).encode()


def test_each_record_keeps_its_source_and_gets_its_verdict_and_a_listing_only_when_valid(
    spark: SparkSession,
) -> None:
    frame = scored_records(spark, [GOOD, b"not json", None, BROKEN]).drop(PREDICTION)
    assert frame.columns == [*SOURCE_COLUMNS, *VERDICT_FIELDS, *LISTING_FIELDS]
    first, second, third, fourth = frame.orderBy("offset").collect()
    assert (first.offset, first.timestamp_ms, first.value) == (10, 1_767_225_600_000, GOOD)
    assert (first.request_id, first.reason, first.event_time_ms) == ("a", None, 1_700_000_000_000)
    assert (first.year, first.make_name, first.back_legroom) == ("2019", "Ford", "35.1 in")
    assert second.reason == third.reason == "not_json"
    assert all(second[name] is None for name in LISTING_FIELDS)
    assert (fourth.reason, fourth.field, fourth.request_id) == ("out_of_range", "year", "c")


def test_every_request_gets_one_answer_record(spark: SparkSession) -> None:
    model = ModelIdentity("used-cars", "3")
    scored = scored_records(spark, [GOOD, b"nope", OTHER, BROKEN])
    before = int(datetime.now(UTC).timestamp() * 1000)
    answers = answer_records(scored, model, ("requests", "predictions", "dead"))
    first, second, third, fourth = answers.orderBy("offset").collect()
    after = int(datetime.now(UTC).timestamp() * 1000)

    assert [a.topic for a in (first, second, third, fourth)] == [
        "predictions", "dead", "predictions", "dead"
    ]  # fmt: skip
    assert [a.reason for a in (first, second, third, fourth)] == [
        None, "not_json", None, "out_of_range"
    ]  # fmt: skip
    prediction = json.loads(first.value)
    assert before <= prediction.pop("prediction_time_ms") <= after
    assert prediction == {
        "request_id": "a", "predicted_price": 100.0, "model_name": "used-cars",
        "model_version": "3", "request_time_ms": 1_700_000_000_000,
    }  # fmt: skip
    assert (first.key, first.headers) == (b"a", None)
    # Without an event time, the request's time is its Kafka timestamp.
    assert json.loads(third.value)["request_time_ms"] == 1_767_225_600_000
    assert (second.key, second.value) == (b"k", b"nope")
    headers = {h.key: h.value for h in fourth.headers}
    assert headers[REASON_HEADER] == b"out_of_range" and headers[FIELD_HEADER] == b"year"
    assert headers[SOURCE_HEADER] == b"requests/1/13" and headers[REQUEST_ID_HEADER] == b"c"
    assert REQUEST_ID_HEADER not in {h.key for h in second.headers}
    assert {h.key: h.value for h in second.headers}[FIELD_HEADER] == b""


@pytest.mark.parametrize(("reason", "how"), SPOILERS)
def test_each_simulator_spoiler_is_refused_for_its_reason(judge, reason: str, how: str) -> None:
    body = {"request_id": "r-1", "year": "2019", "make_name": "Ford", "mileage": "100.0"}
    assert judge(json.dumps(body).encode()).reason is None
    assert judge(spoil(body, how)).reason == reason


def test_simulated_requests_are_valid_but_for_the_malformed_share(spark: SparkSession) -> None:
    sample = list(itertools.islice(requests(seed=4, malformed_share=0.1), 2_000))
    verdicts = judge_all(spark, [r.value for r in sample])
    refused = [r for r, v in zip(sample, verdicts, strict=True) if v.reason is not None]
    spoilt = [r for r in sample if r.spoilt is not None]
    # The generator itself writes a few impossible mileages: refused too.
    assert set(r.request_id for r in spoilt) <= set(r.request_id for r in refused)
    assert 150 <= len(spoilt) <= 250
    assert len(refused) - len(spoilt) < 20
    assert len({r.request_id for r in sample}) == len(sample)
    assert all(r.price is None for r in spoilt)
    assert all("price" not in json.loads(r.value) for r in sample if r.spoilt != "truncate")
