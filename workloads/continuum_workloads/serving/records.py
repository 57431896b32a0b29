"""The records the scorer reads and writes, as plain values: a source record taken from the
requests topic, and the prediction or dead letter it turns into. Pure: no Kafka client here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from continuum_workloads.serving.requests import Rejection, ValidRequest

# Dead letters keep the request's bytes as their value; why it was refused travels in headers.
REASON_HEADER = "continuum.reason"
FIELD_HEADER = "continuum.field"
DETAIL_HEADER = "continuum.detail"
SOURCE_HEADER = "continuum.source"
REQUEST_ID_HEADER = "continuum.request_id"


@dataclass(frozen=True)
class SourceRecord:
    """One request as read from its topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    version: str


def pending(records: Iterable[SourceRecord], committed: dict[int, int]) -> list[SourceRecord]:
    """The records not yet answered: those at or after their partition's committed offset (the
    next offset to answer). A replayed batch, already committed, comes out empty."""
    return [r for r in records if r.offset >= committed.get(r.partition, 0)]


def next_offsets(records: Iterable[SourceRecord]) -> dict[int, int]:
    """Per partition, the offset after the last record: what a batch commits."""
    offsets: dict[int, int] = {}
    for record in records:
        offsets[record.partition] = max(offsets.get(record.partition, 0), record.offset + 1)
    return offsets


def prediction_record(
    topic: str,
    request: ValidRequest,
    source: SourceRecord,
    price: float,
    model: ModelIdentity,
    predicted_at_ms: int,
) -> OutgoingRecord:
    value = {
        "request_id": request.request_id,
        "predicted_price": price,
        "model_name": model.name,
        "model_version": model.version,
        "request_time_ms": request.event_time_ms or source.timestamp_ms,
        "prediction_time_ms": predicted_at_ms,
    }
    return OutgoingRecord(topic, request.request_id.encode(), json.dumps(value).encode())


def dead_letter_record(
    topic: str, rejection: Rejection, source: SourceRecord, source_topic: str
) -> OutgoingRecord:
    headers = [
        (REASON_HEADER, rejection.reason.encode()),
        (FIELD_HEADER, (rejection.field or "").encode()),
        (DETAIL_HEADER, rejection.detail.encode()),
        (SOURCE_HEADER, f"{source_topic}/{source.partition}/{source.offset}".encode()),
    ]
    if rejection.request_id is not None:
        headers.append((REQUEST_ID_HEADER, rejection.request_id.encode()))
    return OutgoingRecord(topic, source.key, source.value, tuple(headers))


def answers(
    records: Sequence[SourceRecord],
    judged: Sequence[ValidRequest | Rejection],
    prices: Sequence[float],
    model: ModelIdentity,
    topics: tuple[str, str, str],
    predicted_at_ms: int,
) -> list[OutgoingRecord]:
    """One prediction or one dead letter per record, in the records' order. `prices` holds the
    model's price of each valid request, in order; `topics` is (requests, predictions, dead
    letters)."""
    requests_topic, predictions_topic, dead_letter_topic = topics
    valid_prices = iter(prices)
    out: list[OutgoingRecord] = []
    for record, verdict in zip(records, judged, strict=True):
        if isinstance(verdict, ValidRequest):
            price = next(valid_prices)
            out.append(
                prediction_record(predictions_topic, verdict, record, price, model, predicted_at_ms)
            )
        else:
            out.append(dead_letter_record(dead_letter_topic, verdict, record, requests_topic))
    if next(valid_prices, None) is not None:
        raise ValueError("more prices than valid requests")
    return out
