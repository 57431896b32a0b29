"""`status.conditions` as the Kubernetes API conventions describe them, so `kubectl wait
--for=condition=Ready` and GitOps health checks read them like any built-in kind's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from continuum_operator.times import format_time

READY = "Ready"
DATA_SOURCE_AVAILABLE = "DataSourceAvailable"
REGISTRY_AVAILABLE = "RegistryAvailable"


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
