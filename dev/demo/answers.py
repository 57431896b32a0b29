"""What the scorer answered, read as its users read it: the predictions, dead-letter and metrics
topics, committed records only (read_committed), from the beginning, in a thread."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message

from demo.scenario import Names


@dataclass(frozen=True)
class LiveMetrics:
    """The newest final window of one model version's live metrics."""

    version: str
    window_end_ms: int
    count: int
    rmse: float
    mape: float


class Answers:
    def __init__(self, names: Names, bootstrap_servers: str) -> None:
        self.names = names
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": f"continuum-demo-reader-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        self.lock = threading.Lock()
        self.prediction_keys: list[str] = []
        self.prediction_times: list[float] = []
        self.by_version: Counter[str] = Counter()
        self.dead_letter_keys: list[str] = []
        self.dead_letter_reasons: Counter[str] = Counter()
        self.metrics: dict[str, LiveMetrics] = {}
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="answers", daemon=True)

    def start(self) -> None:
        topics = [self.names.topic(role) for role in ("predictions", "dead-letter", "metrics")]
        self.consumer.subscribe(topics)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self.consumer.consume(500, timeout=0.5):
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        self.error = str(error)
                    continue
                with self.lock:
                    self._take(message.topic(), message)

    def _take(self, topic: str, message: Message) -> None:
        key = (message.key() or b"").decode(errors="replace")
        if topic == self.names.topic("predictions"):
            self.prediction_keys.append(key)
            self.prediction_times.append(time.monotonic())
            self.by_version[str(json.loads(message.value())["model_version"])] += 1
        elif topic == self.names.topic("dead-letter"):
            self.dead_letter_keys.append(key)
            headers = dict(message.headers() or ())
            self.dead_letter_reasons[(headers.get("continuum.reason") or b"?").decode()] += 1
        else:
            window = json.loads(message.value())
            version = str(window["model_version"])
            newest = self.metrics.get(version)
            if newest is None or window["window_end_ms"] >= newest.window_end_ms:
                self.metrics[version] = LiveMetrics(
                    version,
                    int(window["window_end_ms"]),
                    int(window["count"]),
                    float(window["rmse"]),
                    float(window["mape"]),
                )

    def rate(self, over_s: float = 5.0) -> float:
        """Predictions committed per second over the last `over_s` seconds (as read)."""
        since = time.monotonic() - over_s
        with self.lock:
            return sum(1 for at in reversed(self.prediction_times[-5000:]) if at >= since) / over_s

    def answered(self) -> int:
        """Predictions and dead letters read so far."""
        with self.lock:
            return len(self.prediction_keys) + len(self.dead_letter_keys)
