"""`continuum simulate`'s requests: valid ones pass the scorer's validation with their price
kept for feedback, and each way of spoiling one is refused for the reason it names."""

from __future__ import annotations

import itertools
import json

import pytest

from continuum_workloads.serving.requests import Rejection, ValidRequest, validate
from continuum_workloads.simulators.traffic import SPOILERS, requests, simulate, spoil


@pytest.mark.parametrize(("reason", "how"), SPOILERS)
def test_each_spoiler_is_refused_for_its_reason(reason: str, how: str) -> None:
    body = {"request_id": "r-1", "year": "2019", "make_name": "Ford", "mileage": "100.0"}
    assert isinstance(validate(json.dumps(body).encode()), ValidRequest)
    verdict = validate(spoil(body, how))
    assert isinstance(verdict, Rejection) and verdict.reason == reason


def test_requests_are_valid_but_for_the_malformed_share() -> None:
    sample = list(itertools.islice(requests(seed=4, malformed_share=0.1), 2_000))
    verdicts = [validate(r.value) for r in sample]
    refused = [r for r, v in zip(sample, verdicts, strict=True) if isinstance(v, Rejection)]
    spoilt = [r for r in sample if r.spoilt is not None]
    # The generator itself writes a few impossible mileages: refused too.
    assert set(r.request_id for r in spoilt) <= set(r.request_id for r in refused)
    assert 150 <= len(spoilt) <= 250
    assert len(refused) - len(spoilt) < 20
    assert len({r.request_id for r in sample}) == len(sample)
    assert all(r.price is None for r in spoilt)
    assert all("price" not in json.loads(r.value) for r in sample if r.spoilt != "truncate")


class RecordingProducer:
    """Stand-in for confluent_kafka.Producer: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def produce(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key))

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        return 0


def test_simulate_stops_sending_when_told_and_still_sends_the_feedback_due() -> None:
    producer = RecordingProducer()
    source = requests(seed=5, malformed_share=0.0)
    stop_after = 20

    def until() -> bool:
        return sum(1 for topic, _ in producer.sent if topic == "req") >= stop_after

    sent, answered = simulate(producer, "req", "fb", rate=2_000, duration_s=float("inf"),
                              feedback_delay_s=0.05, source=source, until=until)  # fmt: skip
    request_keys = [key for topic, key in producer.sent if topic == "req"]
    feedback_keys = [key for topic, key in producer.sent if topic == "fb"]
    assert sent == len(request_keys) >= stop_after
    assert answered == len(feedback_keys) > 0
    assert set(feedback_keys) <= set(request_keys)
