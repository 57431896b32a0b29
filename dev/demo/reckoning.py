"""The reckoning at the end: every request sent has exactly one committed prediction or exactly
one dead letter, read from Kafka with read_committed (the keys are the requests' ids)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Reckoning:
    sent: int
    predicted: int
    """Requests answered by exactly one prediction and no dead letter."""
    dead_lettered: int
    """Requests answered by exactly one dead letter and no prediction."""
    lost: tuple[str, ...]
    """Sent, never answered."""
    duplicated: tuple[str, ...]
    """Answered more than once (two predictions, two dead letters, or one of each)."""
    unexpected: tuple[str, ...]
    """Answered, never sent by this run."""

    @property
    def exact(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected)


def reckon(
    sent: Iterable[str], predictions: Iterable[str], dead_letters: Iterable[str]
) -> Reckoning:
    """Compares the ids sent with the keys of the predictions and dead letters committed."""
    sent_ids = set(sent)
    predicted, dead = Counter(predictions), Counter(dead_letters)
    answers = predicted + dead
    return Reckoning(
        sent=len(sent_ids),
        predicted=sum(1 for key in sent_ids if predicted[key] == 1 and dead[key] == 0),
        dead_lettered=sum(1 for key in sent_ids if dead[key] == 1 and predicted[key] == 0),
        lost=tuple(sorted(key for key in sent_ids if answers[key] == 0)),
        duplicated=tuple(sorted(key for key in sent_ids if answers[key] > 1)),
        unexpected=tuple(sorted(set(answers) - sent_ids)),
    )
