"""What a data batch is: the rules the operator watches by and the training job reads by.

A batch is a file whose name matches the pipeline's pattern, or a matching directory that holds
the completion marker. Names that Hadoop tools and uploaders give data still in flight
(`_temporary/`, `.name._COPYING_`, `name.tmp`, anything starting with `_` or `.`) and the marker
itself are never batches. Batches are ordered by (modification time, name): a directory's
modification time moves when its marker lands, so a batch that completes late sorts late.

Pure Python: the operator's image holds no Spark and imports this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

IN_FLIGHT_PREFIXES = ("_", ".")
IN_FLIGHT_SUFFIXES = ("._COPYING_", ".tmp")


@dataclass(frozen=True)
class Batch:
    name: str
    modification_time: int
    """Milliseconds since the epoch, as HDFS listings report it."""

    @property
    def key(self) -> tuple[int, str]:
        return (self.modification_time, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "modificationTime": self.modification_time}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Batch:
        return cls(name=str(raw["name"]), modification_time=int(raw["modificationTime"]))


@dataclass(frozen=True)
class ListingEntry:
    """One child of the data directory, as a listing reports it."""

    name: str
    is_directory: bool
    modification_time: int
    has_marker: bool = False
    """For a directory: whether the completion marker is among its children."""


def is_candidate(name: str, pattern: str, completion_marker: str) -> bool:
    """Whether `name` can be a batch: it matches the pattern and is neither the marker nor data
    still being written."""
    if name == completion_marker or name.startswith(IN_FLIGHT_PREFIXES):
        return False
    return not name.endswith(IN_FLIGHT_SUFFIXES) and fnmatchcase(name, pattern)


def complete_batches(
    entries: Iterable[ListingEntry], pattern: str, completion_marker: str
) -> list[Batch]:
    """The complete batches among `entries`, oldest first; directories without their marker are
    left out until it lands."""
    found = [
        Batch(entry.name, entry.modification_time)
        for entry in entries
        if is_candidate(entry.name, pattern, completion_marker)
        and (entry.has_marker or not entry.is_directory)
    ]
    return sorted(found, key=lambda batch: batch.key)
