"""What the serving tests share: requests produced at a steady rate, and every committed prediction
read back and reckoned (the model they score: dev/listing_model.py)."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer

from continuum_workloads.serving.requests import LISTING_FIELDS
from demo.reckoning import Reckoning as AnswerCount
from demo.reckoning import reckon as count_answers

WAIT_S = 240


def request_bytes(request_id: str, listing: dict[str, str]) -> bytes:
    body = {k: v for k, v in listing.items() if k in LISTING_FIELDS}
    return json.dumps({"request_id": request_id, **body}).encode()


class CommittedReader:
    """Reads a topic's committed records (read_committed) from the start, keeping them all."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.messages: list[Any] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"test-{uuid.uuid4().hex[:8]}",
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self._consumer.subscribe([topic])

    def __enter__(self) -> CommittedReader:
        return self

    def __exit__(self, *_: object) -> None:
        self._consumer.close()

    def read_until(
        self, done: Callable[[list[Any]], bool], timeout_s: float = WAIT_S, settle_s: float = 0.0
    ) -> list[Any]:
        """Every record so far once `done(records)` holds, and `settle_s` later (so a duplicate
        that follows would be seen too), or at the timeout."""
        deadline = time.monotonic() + timeout_s
        settled_at: float | None = None
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.5)
            if message is not None and not message.error():
                self.messages.append(message)
            if settled_at is None and done(self.messages):
                settled_at = time.monotonic() + settle_s
            if settled_at is not None and time.monotonic() >= settled_at:
                break
        return self.messages


def read_committed(
    bootstrap: str, topic: str, expected: int, timeout_s: float = WAIT_S, settle_s: float = 3.0
) -> list[Any]:
    """Every committed record of `topic` once `expected` arrived, and `settle_s` later."""
    with CommittedReader(bootstrap, topic) as reader:
        return reader.read_until(lambda seen: len(seen) >= expected, timeout_s, settle_s)


def by_request_id(messages: list[Any]) -> Counter[str]:
    return Counter(json.loads(m.value())["request_id"] for m in messages)


class SteadyRequests(threading.Thread):
    """Produces valid requests numbered in order at a steady rate until stopped."""

    def __init__(self, bootstrap: str, topic: str, rows: list[dict[str, str]], rate: float):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.rows, self.rate = bootstrap, topic, rows, rate
        self.sent: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True})
        started = time.monotonic()
        while not self.halt.is_set():
            due = int((time.monotonic() - started) * self.rate)
            while len(self.sent) < due:
                request_id = f"h-{len(self.sent):06d}"
                row = self.rows[len(self.sent) % len(self.rows)]
                producer.produce(self.topic, key=request_id.encode(),
                                 value=request_bytes(request_id, row))  # fmt: skip
                self.sent.append(request_id)
            producer.poll(0)
            time.sleep(0.01)
        assert producer.flush(30) == 0


@dataclass(frozen=True)
class Reckoning:
    """Every request sent against the committed predictions read back: the demo's count of lost
    and duplicated answers, and which model version answered each request."""

    answers: AnswerCount
    versions: list[str]  # the answering model version, in request order
    switches: int
    largest_latency_s: float
    """Among the answers predicted from `reckon`'s `since_ms` on."""

    @property
    def lost(self) -> tuple[str, ...]:
        return self.answers.lost

    @property
    def duplicated(self) -> tuple[str, ...]:
        return self.answers.duplicated

    def __str__(self) -> str:
        return (
            f"{self.answers.sent} requests, {self.answers.predicted} answered once, "
            f"lost {len(self.lost)}, duplicated {len(self.duplicated)}, version switches "
            f"{self.switches} ({self.versions[0]} → {self.versions[-1]}), "
            f"largest latency {self.largest_latency_s:.1f} s"
        )


def reckon(sent: list[str], messages: list[Any], since_ms: float = 0) -> Reckoning:
    """The count; the largest latency among answers predicted from `since_ms` on (a handoff's,
    not the first pod's first batches after its start)."""
    answers = {json.loads(m.value())["request_id"]: json.loads(m.value()) for m in messages}
    versions = [answers[rid]["model_version"] for rid in sent if rid in answers]
    latency_ms = max(
        a["prediction_time_ms"] - a["request_time_ms"]
        for a in answers.values()
        if a["prediction_time_ms"] >= since_ms
    )
    keys = [m.key().decode() for m in messages]
    return Reckoning(
        answers=count_answers(sent, predictions=keys, dead_letters=()),
        versions=versions,
        switches=sum(1 for a, b in itertools.pairwise(versions) if a != b),
        largest_latency_s=latency_ms / 1e3,
    )
