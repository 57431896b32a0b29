"""What a micro-batch answers and commits: replayed records skipped by the committed offsets,
one prediction or dead letter per record, in order."""

from __future__ import annotations

import json

import pytest

from continuum_workloads.serving.records import (
    FIELD_HEADER,
    REASON_HEADER,
    REQUEST_ID_HEADER,
    SOURCE_HEADER,
    ModelIdentity,
    SourceRecord,
    answers,
    next_offsets,
    pending,
)
from continuum_workloads.serving.requests import validate
from continuum_workloads.serving.session import connector_jars, duration_ms

TOPICS = ("requests", "predictions", "dead")
MODEL = ModelIdentity("used-cars", "3")


def record(partition: int, offset: int, value: bytes | None = b"{}") -> SourceRecord:
    return SourceRecord(partition, offset, b"k", value, 1_000 + offset)


def test_records_below_the_committed_offset_are_skipped() -> None:
    batch = [record(0, 5), record(0, 6), record(1, 2), record(1, 3), record(2, 0)]
    assert pending(batch, {0: 6, 1: 4}) == [record(0, 6), record(2, 0)]
    assert pending(batch, {}) == batch
    assert pending(batch, {0: 7, 1: 4, 2: 1}) == []


def test_a_batch_commits_the_offset_after_its_last_record_per_partition() -> None:
    assert next_offsets([record(0, 5), record(1, 9), record(0, 7), record(1, 3)]) == {0: 8, 1: 10}
    assert next_offsets([]) == {}


def test_every_record_gets_one_answer_in_order() -> None:
    good = json.dumps(
        {"request_id": "a", "year": 2019, "make_name": "Ford", "event_time": 42}
    ).encode()
    other = json.dumps({"request_id": "b", "year": 2018, "make_name": "Kia"}).encode()
    bad = json.dumps({"request_id": "c", "year": 2019, "make_name": "Ford", "mileage": -1})
    batch = [
        record(0, 0, good),
        record(0, 1, b"nope"),
        record(0, 2, other),
        record(1, 0, bad.encode()),
    ]
    judged = [validate(r.value) for r in batch]
    out = answers(batch, judged, [100.0, 200.0], MODEL, TOPICS, predicted_at_ms=5_000)

    assert [o.topic for o in out] == ["predictions", "dead", "predictions", "dead"]
    first, third = json.loads(out[0].value), json.loads(out[2].value)
    assert first == {
        "request_id": "a", "predicted_price": 100.0, "model_name": "used-cars",
        "model_version": "3", "request_time_ms": 42, "prediction_time_ms": 5_000,
    }  # fmt: skip
    assert out[0].key == b"a"
    assert (third["predicted_price"], third["request_time_ms"]) == (200.0, 1_002)
    assert out[1].value == b"nope" and out[1].key == b"k"
    headers = dict(out[3].headers)
    assert headers[REASON_HEADER] == b"out_of_range" and headers[FIELD_HEADER] == b"mileage"
    assert headers[SOURCE_HEADER] == b"requests/1/0" and headers[REQUEST_ID_HEADER] == b"c"
    assert REQUEST_ID_HEADER not in dict(out[1].headers)


def test_prices_must_match_the_valid_requests() -> None:
    batch = [record(0, 0, b"nope")]
    with pytest.raises(ValueError, match="more prices"):
        answers(batch, [validate(b"nope")], [1.0], MODEL, TOPICS, 0)


@pytest.mark.parametrize(
    ("text", "ms"), [("0s", 0), ("500ms", 500), ("10m", 600_000), ("1h", 3_600_000)]
)
def test_durations(text: str, ms: int) -> None:
    assert duration_ms(text) == ms


def test_a_malformed_duration_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration_ms("ten minutes")


def test_connector_jars_from_a_directory_or_a_list(tmp_path) -> None:
    (tmp_path / "b.jar").write_text("")
    (tmp_path / "a.jar").write_text("")
    (tmp_path / "notes.txt").write_text("")
    assert connector_jars(str(tmp_path)) == [str(tmp_path / "a.jar"), str(tmp_path / "b.jar")]
    assert connector_jars("/x/a.jar, /y/b.jar") == ["/x/a.jar", "/y/b.jar"]
