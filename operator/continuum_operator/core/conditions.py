"""`status.conditions` as the Kubernetes API conventions describe them, so `kubectl wait
--for=condition=Ready` and GitOps health checks read them like any built-in kind's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from continuum_operator.core.status import Event
from continuum_operator.core.times import format_time

READY = "Ready"
REGISTRY_AVAILABLE = "RegistryAvailable"
DATA_SOURCE_AVAILABLE = "DataSourceAvailable"
AVAILABLE = "Available"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"


def _status_word(status: bool | None) -> str:
    return {True: "True", False: "False", None: "Unknown"}[status]


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    type_: str,
    status: bool | None,
    *,
    reason: str,
    message: str,
    observed_generation: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """The conditions with `type_` set; `lastTransitionTime` moves only when the status does, so it
    tells how long the condition has held. `status=None` means Unknown."""
    word = _status_word(status)
    previous = next((c for c in conditions if c.get("type") == type_), None)
    transition = (
        previous["lastTransitionTime"]
        if previous and previous.get("status") == word and previous.get("lastTransitionTime")
        else format_time(now)
    )
    condition = {
        "type": type_,
        "status": word,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
        "observedGeneration": observed_generation,
    }
    if previous is None:
        return [*map(dict, conditions), condition]
    return [condition if c is previous else dict(c) for c in conditions]


def condition_status(conditions: Sequence[Mapping[str, Any]], type_: str) -> bool | None:
    """True or False, or None when the condition is Unknown or absent."""
    word = next((c.get("status") for c in conditions if c.get("type") == type_), None)
    return {"True": True, "False": False}.get(word or "")


class Conditions:
    """A pass's conditions, starting from those in status, plus the Events they call for."""

    def __init__(self, status: Mapping[str, Any], generation: int, now: datetime) -> None:
        self.items: list[dict[str, Any]] = [dict(c) for c in status.get("conditions") or ()]
        self.events: list[Event] = []
        self._generation = generation
        self._now = now

    def get(self, type_: str) -> Mapping[str, Any] | None:
        return next((c for c in self.items if c.get("type") == type_), None)

    def set(
        self,
        type_: str,
        status: bool | None,
        reason: str,
        message: str,
        *,
        problem_when: bool | None = False,
        new_reason_is_news: bool = True,
    ) -> None:
        """Sets a condition. It is a problem when its status is `problem_when` (False for Ready
        and the like, True for Degraded; None: never): entering it, changing its reason while in
        it (unless `new_reason_is_news` is False), and leaving it each post an Event, a Warning
        for the first two."""
        previous = self.get(type_) or {}
        before = condition_status(self.items, type_)
        if problem_when is not None:
            entered = status is problem_when and (
                before is not problem_when
                or (new_reason_is_news and previous.get("reason") != reason)
            )
            if entered or (before is problem_when and status is not problem_when):
                self.events.append(Event(reason, message, warning=entered))
        self.items = set_condition(
            self.items,
            type_,
            status,
            reason=reason,
            message=message,
            observed_generation=self._generation,
            now=self._now,
        )

    def failing(self, *, besides: str) -> Mapping[str, Any] | None:
        """The first condition other than `besides` whose status is False."""
        return next(
            (c for c in self.items if c["type"] != besides and c["status"] == "False"), None
        )
