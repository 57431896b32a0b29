"""Which data batches are complete and not yet processed, from one directory listing.

A batch is a file whose name matches the pattern, or a matching directory that holds the completion
marker. What was processed is kept compact: a low watermark (every batch ordered at or below it
counts as processed) plus a bounded list of the processed batches above it. Batches are ordered by
(modification time, name): a directory's modification time moves when its marker lands, so a batch
that completes late still sorts above the watermark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

PROCESSED_LIMIT = 50
"""How many processed batches above the watermark status keeps by name."""

# Hadoop tools write `_temporary/`, `.name._COPYING_` and similar while data is still moving.
_IN_FLIGHT_PREFIXES = ("_", ".")
_IN_FLIGHT_SUFFIXES = ("._COPYING_", ".tmp")


@dataclass(frozen=True)
class Batch:
    name: str
    modification_time: int
    """Milliseconds since the epoch, as HDFS listings report it."""

    @property
    def key(self) -> tuple[int, str]:
        return (self.modification_time, self.name)

    def to_status(self) -> dict[str, Any]:
        return {"name": self.name, "modificationTime": self.modification_time}

    @classmethod
    def from_status(cls, raw: Mapping[str, Any]) -> Batch:
        return cls(name=str(raw["name"]), modification_time=int(raw["modificationTime"]))


@dataclass(frozen=True)
class ListingEntry:
    """One child of the data directory, as a listing reports it."""

    name: str
    is_directory: bool
    modification_time: int
    has_marker: bool = False
    """For a directory: whether the completion marker is among its children."""


@dataclass(frozen=True)
class ProcessedBatches:
    watermark: Batch | None = None
    recent: tuple[Batch, ...] = field(default=())

    def contains(self, batch: Batch) -> bool:
        if self.watermark is not None and batch.key <= self.watermark.key:
            return True
        # By name: a processed directory touched again later must not count as new data.
        return any(seen.name == batch.name for seen in self.recent)

    def record(self, batches: Iterable[Batch], limit: int = PROCESSED_LIMIT) -> ProcessedBatches:
        """This state with `batches` added; beyond `limit` the oldest fold into the watermark."""
        merged = {seen.name: seen for seen in self.recent}
        merged.update((batch.name, batch) for batch in batches if not self.contains(batch))
        ordered = sorted(merged.values(), key=lambda batch: batch.key)
        if len(ordered) <= limit:
            return ProcessedBatches(self.watermark, tuple(ordered))
        return ProcessedBatches(ordered[-limit - 1], tuple(ordered[-limit:]))

    def to_status(self) -> dict[str, Any]:
        return {
            "watermark": None if self.watermark is None else self.watermark.to_status(),
            "recent": [batch.to_status() for batch in self.recent],
        }

    @classmethod
    def from_status(cls, raw: Mapping[str, Any] | None) -> ProcessedBatches:
        if not raw:
            return cls()
        watermark = raw.get("watermark")
        return cls(
            watermark=Batch.from_status(watermark) if watermark else None,
            recent=tuple(Batch.from_status(item) for item in raw.get("recent") or ()),
        )


def _is_candidate(entry: ListingEntry, pattern: str, completion_marker: str) -> bool:
    name = entry.name
    if name == completion_marker or name.startswith(_IN_FLIGHT_PREFIXES):
        return False
    return not name.endswith(_IN_FLIGHT_SUFFIXES) and fnmatchcase(name, pattern)


def directories_to_probe(
    entries: Iterable[ListingEntry],
    pattern: str,
    completion_marker: str,
    processed: ProcessedBatches,
) -> list[str]:
    """Directories whose children must be listed to learn whether their marker is there: only the
    unprocessed ones, so steady state costs one listing per poll."""
    return [
        entry.name
        for entry in entries
        if entry.is_directory
        and _is_candidate(entry, pattern, completion_marker)
        and not processed.contains(Batch(entry.name, entry.modification_time))
    ]


def new_batches(
    entries: Iterable[ListingEntry],
    pattern: str,
    completion_marker: str,
    processed: ProcessedBatches,
) -> list[Batch]:
    """Complete batches not yet processed, oldest first; incomplete directories are skipped."""
    found = [
        Batch(entry.name, entry.modification_time)
        for entry in entries
        if _is_candidate(entry, pattern, completion_marker)
        and (entry.has_marker or not entry.is_directory)
    ]
    return sorted(
        (batch for batch in found if not processed.contains(batch)), key=lambda batch: batch.key
    )
