"""What the scoring tasks do without Kafka: each request judged into one row of the validated
frame (the verdict, and the listing as text only when valid), and read back as the verdict the
answers are built from."""

from __future__ import annotations

import json

import pandas as pd

from continuum_workloads.serving.requests import LISTING_FIELDS, Rejection, ValidRequest
from continuum_workloads.serving.scorer import VALIDATED, validated_requests, verdict_of
from continuum_workloads.serving.transactions import partition_transactional_id


def source_chunk(values: list[bytes | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partition": [1] * len(values),
            "offset": range(10, 10 + len(values)),
            "key": [b"k"] * len(values),
            "value": values,
            "timestamp_ms": [1_000] * len(values),
        }
    )


def test_each_request_becomes_one_row_with_its_verdict_and_a_listing_only_when_valid() -> None:
    valid = json.dumps({"request_id": "a", "year": "2019", "make_name": "Ford",
                        "back_legroom": "35.1 in", "event_time": 1_700_000_000_000})  # fmt: skip
    chunk = source_chunk([valid.encode(), b"not json", None])

    (frame,) = list(validated_requests(iter([chunk])))

    assert list(frame.columns) == VALIDATED.fieldNames()
    assert frame["offset"].tolist() == [10, 11, 12]
    first, second, third = frame.to_dict("records")
    assert (first["request_id"], first["reason"], first["event_time_ms"]) == (
        "a",
        None,
        1_700_000_000_000,
    )
    assert (first["year"], first["make_name"], first["back_legroom"]) == ("2019", "Ford", "35.1 in")
    assert second["reason"] == third["reason"] == "not_json"
    assert all(second[name] is None for name in LISTING_FIELDS)


def test_a_validated_row_reads_back_as_the_verdict_it_came_from() -> None:
    valid = json.dumps({"request_id": "a", "year": 2019, "make_name": "Ford"}).encode()
    broken = json.dumps({"request_id": "b", "year": 1850, "make_name": "Ford"}).encode()
    (frame,) = list(validated_requests(iter([source_chunk([valid, broken])])))
    # As the writing task gets them: through Arrow, where a missing number becomes NA.
    frame["event_time_ms"] = frame["event_time_ms"].astype("Int64")

    first, second = (verdict_of(row) for row in frame.itertuples(index=False))

    assert first == ValidRequest("a", None, {})
    assert isinstance(second, Rejection)
    assert (second.reason, second.field, second.request_id) == ("out_of_range", "year", "b")


def test_each_partition_of_the_requests_topic_has_a_transactional_id_of_its_own() -> None:
    ids = {partition_transactional_id("serving-used-cars", p) for p in range(3)}
    assert ids == {"serving-used-cars-0", "serving-used-cars-1", "serving-used-cars-2"}
