"""`continuum simulate`'s sending: the rate, the stop, and the feedback still due. (How the
scorer judges its requests: tests/integration/workloads/test_request_validation.py.)"""

from __future__ import annotations

from continuum_workloads.simulators.traffic import requests, simulate


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
