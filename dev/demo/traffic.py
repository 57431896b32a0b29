"""The scorer's users, in a thread: requests (a share malformed) at a steady rate and each
priced one's feedback a little later (`continuum_workloads.simulators.traffic`), at the market's
current price level. Every request id sent is recorded for the reckoning."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator

from confluent_kafka import Producer

from continuum_workloads.simulators.traffic import Request, requests, simulate
from demo.scenario import Scenario


def at_market_price(source: Iterator[Request], level: Callable[[], float]) -> Iterator[Request]:
    """The requests with their feedback price moved to the market's level at the time."""
    for request in source:
        if request.price is not None:
            request = dataclasses.replace(request, price=round(request.price * level(), 1))
        yield request


class Traffic:
    """Sends from start() until stop(); `sent` holds the ids sent, in order, with their times."""

    def __init__(
        self, scenario: Scenario, bootstrap_servers: str, level: Callable[[], float]
    ) -> None:
        self.scenario = scenario
        self.level = level
        self.producer = Producer(
            {"bootstrap.servers": bootstrap_servers, "enable.idempotence": True}
        )
        self.sent: list[tuple[float, str]] = []
        self.malformed = 0
        self.feedback = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)

    def _recorded(self, source: Iterator[Request]) -> Iterator[Request]:
        for request in source:
            self.sent.append((time.monotonic(), request.request_id))
            if request.spoilt is not None:
                self.malformed += 1
            yield request

    def _run(self) -> None:
        names = self.scenario.names
        source = requests(self.scenario.seed, self.scenario.malformed, prefix=names.namespace)
        try:
            _, self.feedback = simulate(
                self.producer,
                names.topic("requests"),
                names.topic("feedback"),
                self.scenario.rate,
                float("inf"),
                self.scenario.feedback_delay_s,
                self._recorded(at_market_price(source, self.level)),
                until=self._stop.is_set,
            )
        except BaseException as error:  # reported by stop(): the demo must not go on blind
            self.error = error

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops sending; returns once the due feedback is sent and everything is flushed."""
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            raise RuntimeError(f"the traffic simulator failed: {self.error}") from self.error

    def rate(self, over_s: float = 5.0) -> float:
        """Requests sent per second over the last `over_s` seconds."""
        since = time.monotonic() - over_s
        recent = 0
        for sent_at, _ in reversed(self.sent):
            if sent_at < since:
                break
            recent += 1
        return recent / over_s

    def ids(self) -> list[str]:
        return [request_id for _, request_id in self.sent]
