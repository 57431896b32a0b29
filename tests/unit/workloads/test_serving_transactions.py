"""The deadline around a transaction's Kafka calls: a call that blocks past it is given up (a
librdkafka call can block past its own timeout when the group coordinator goes away)."""

from __future__ import annotations

import threading

import pytest

from continuum_workloads.serving.transactions import within_deadline


def test_a_call_within_its_deadline_gives_its_result_or_its_error() -> None:
    assert within_deadline(5, lambda: 7) == 7
    with pytest.raises(ZeroDivisionError):
        within_deadline(5, lambda: 1 // 0)


def test_a_call_blocked_past_its_deadline_is_given_up() -> None:
    released = threading.Event()

    def blocked() -> int:
        released.wait(30)
        return 1

    with pytest.raises(TimeoutError, match="no answer from the brokers within 0 s"):
        within_deadline(0.2, blocked)
    released.set()
