"""Scoring requests and delayed feedback from generated listings.

Requests are the listings the dataset generator writes, minus the price, as JSON objects with a
`request_id`; a share of them is spoiled in one of the ways the scorer must refuse. Feedback is
the listing's price, sent `feedback_delay` after its request, as a manager would set it later.
"""

from __future__ import annotations

import heapq
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from confluent_kafka import Producer

from continuum_workloads.dataset.generator import generate_chunks
from continuum_workloads.dataset.schema import TARGET

# (what is wrong, how to make a valid request's bytes so)
SPOILERS: tuple[tuple[str, str], ...] = (
    ("not_json", "truncate"),
    ("missing_field", "drop request_id"),
    ("out_of_range", "negative mileage"),
    ("invalid_value", "bad flag"),
    ("unknown_field", "extra field"),
)


@dataclass(frozen=True)
class Request:
    request_id: str
    value: bytes
    price: float | None
    """The listing's price, for feedback; None for a malformed request or an unpriced listing."""
    spoilt: str | None = None
    """How a malformed request was spoilt (a SPOILERS entry's second part)."""


def spoil(body: dict[str, object], how: str) -> bytes:
    """A valid request's body made invalid in the named way."""
    spoilt = dict(body)
    match how:
        case "truncate":
            return json.dumps(spoilt).encode()[:-7]
        case "drop request_id":
            spoilt.pop("request_id")
        case "negative mileage":
            spoilt["mileage"] = -1
        case "bad flag":
            spoilt["fleet"] = "perhaps"
        case "extra field":
            spoilt["colour"] = "red"
        case _:
            raise ValueError(f"unknown spoiler {how!r}")
    return json.dumps(spoilt).encode()


def requests(seed: int, malformed_share: float, prefix: str = "sim") -> Iterator[Request]:
    """Endless requests from generated listings; `malformed_share` of them spoiled."""
    rng = random.Random(seed)
    number = 0
    for chunk_index in range(1 << 30):
        for listing in next(generate_chunks(1_000, seed=seed + chunk_index)).to_dict("records"):
            price_text = listing.pop(TARGET)
            request_id = f"{prefix}-{number:09d}"
            number += 1
            body = {"request_id": request_id, **listing}
            if rng.random() < malformed_share:
                _, how = SPOILERS[rng.randrange(len(SPOILERS))]
                yield Request(request_id, spoil(body, how), None, how)
                continue
            price = float(price_text) if price_text else None
            yield Request(request_id, json.dumps(body).encode(), price)


def simulate(
    producer: Producer,
    requests_topic: str,
    feedback_topic: str | None,
    rate: float,
    duration_s: float,
    feedback_delay_s: float,
    source: Iterator[Request],
    until: Callable[[], bool] | None = None,
) -> tuple[int, int]:
    """Sends requests at `rate` per second for `duration_s` or until `until()` is true, and
    feedback for each priced valid one `feedback_delay_s` later (the run lasts until the last is
    sent); returns (requests, feedback) sent."""
    started = time.monotonic()
    due_feedback: list[tuple[float, str, float]] = []
    sent = answered = 0
    while True:
        now = time.monotonic()
        if now - started < duration_s and not (until is not None and until()):
            while sent < int((now - started) * rate):
                request = next(source)
                producer.produce(requests_topic, key=request.request_id.encode(),
                                 value=request.value)  # fmt: skip
                sent += 1
                if feedback_topic and request.price is not None:
                    heapq.heappush(
                        due_feedback, (now + feedback_delay_s, request.request_id, request.price)
                    )
        elif not due_feedback:
            break
        while due_feedback and due_feedback[0][0] <= now:
            _, request_id, price = heapq.heappop(due_feedback)
            value = json.dumps({"request_id": request_id, "price": price}).encode()
            producer.produce(feedback_topic, key=request_id.encode(), value=value)  # type: ignore[arg-type]
            answered += 1
        producer.poll(0)
        time.sleep(0.005)
    producer.flush(60)
    return sent, answered
