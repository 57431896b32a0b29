"""The records the exactly-once writer handles, as plain values: a request's answer as the writing
task gets it from the query (`answers.answer_records`), and what a batch has left to write and
to commit. Pure: no Kafka client here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    version: str


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Answer:
    """The answer to the request at `offset` of `partition` of the requests topic."""

    partition: int
    offset: int
    record: OutgoingRecord
    reason: str | None
    """Why it is a dead letter; None for a prediction."""


def pending(answers: Iterable[Answer], committed: dict[int, int]) -> list[Answer]:
    """The answers not yet written: those at or after their partition's committed offset (the
    next offset to answer). A replayed batch, already committed, comes out empty."""
    return [a for a in answers if a.offset >= committed.get(a.partition, 0)]


def next_offsets(answers: Iterable[Answer]) -> dict[int, int]:
    """Per partition, the offset after the last answered request: what a batch commits."""
    offsets: dict[int, int] = {}
    for answer in answers:
        offsets[answer.partition] = max(offsets.get(answer.partition, 0), answer.offset + 1)
    return offsets
