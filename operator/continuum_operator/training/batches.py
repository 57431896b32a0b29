"""Which complete batches a pipeline has not processed yet, from one directory listing.

What a batch is comes from `continuum_workloads.dataset.batches`, the rules the training job
reads by. What was processed is kept compact: a low watermark (every batch ordered at or below it
counts as processed) plus a bounded list of the processed batches above it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from continuum_workloads.dataset.batches import (
    Batch,
    ListingEntry,
    complete_batches,
    is_candidate,
)

PROCESSED_LIMIT = 50
"""How many processed batches above the watermark status keeps by name."""


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
            "watermark": None if self.watermark is None else self.watermark.to_dict(),
            "recent": [batch.to_dict() for batch in self.recent],
        }

    @classmethod
    def from_status(cls, raw: Mapping[str, Any] | None) -> ProcessedBatches:
        if not raw:
            return cls()
        watermark = raw.get("watermark")
        return cls(
            watermark=Batch.from_dict(watermark) if watermark else None,
            recent=tuple(Batch.from_dict(item) for item in raw.get("recent") or ()),
        )


def needs_probe(
    entry: ListingEntry, pattern: str, completion_marker: str, processed: ProcessedBatches
) -> bool:
    """Whether a directory's children must be listed to learn whether its marker is there: only
    for unprocessed candidates, so steady state costs one listing per poll."""
    return (
        entry.is_directory
        and is_candidate(entry.name, pattern, completion_marker)
        and not processed.contains(Batch(entry.name, entry.modification_time))
    )


def new_batches(
    entries: Iterable[ListingEntry],
    pattern: str,
    completion_marker: str,
    processed: ProcessedBatches,
) -> list[Batch]:
    """Complete batches not yet processed, oldest first; incomplete directories are skipped."""
    return [
        batch
        for batch in complete_batches(entries, pattern, completion_marker)
        if not processed.contains(batch)
    ]
