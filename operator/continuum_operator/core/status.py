"""What a reconcile pass produces, whatever the kind: the status to write (only what changed) and
the Events to post."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    warning: bool = False


def as_stored(value: Any) -> Any:
    """`value` as the API server stores it: a null field is absent (a merge patch deletes it, and
    structural schemas prune it), at any depth."""
    if isinstance(value, Mapping):
        return {key: as_stored(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [as_stored(item) for item in value]
    return value


def status_changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch turning `current` into `wanted` for the keys `wanted` names. A key whose
    stored form already matches is left out, so a pass that changes nothing writes nothing."""
    return {
        key: value
        for key, value in wanted.items()
        if as_stored(current.get(key)) != as_stored(value)
    }
