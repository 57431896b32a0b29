"""Which complete batches a pipeline has not processed yet, from one directory listing.

What a batch is comes from `continuum_workloads.dataset.batches`, the rules the training job
reads by. What was processed is kept compact: a low watermark (every batch ordered at or below it
counts as processed) plus a bounded list of the processed batches above it.

Batches are ordered by modification time, so a batch landing with a time at or before the watermark
(copied with its times preserved, `hdfs dfs -cp -p`, or written by a host whose clock is behind)
would count as processed without ever being trained on. The state also counts the batches folded
into the watermark; the listing shows how many candidates lie at or below it, and any surplus
landed late (`late_batches`): it is reported, since the listing cannot tell which ones they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
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
    folded: int | None = 0
    """How many processed batches were folded into the watermark; None when unknown (a status
    written before it was counted)."""

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
            return ProcessedBatches(self.watermark, tuple(ordered), self.folded)
        folded = None if self.folded is None else self.folded + len(ordered) - limit
        return ProcessedBatches(ordered[-limit - 1], tuple(ordered[-limit:]), folded)

    def to_status(self) -> dict[str, Any]:
        return {
            "watermark": None if self.watermark is None else self.watermark.to_dict(),
            "recent": [batch.to_dict() for batch in self.recent],
            "folded": self.folded,
        }

    @classmethod
    def from_status(cls, raw: Mapping[str, Any] | None) -> ProcessedBatches:
        if not raw:
            return cls()
        watermark = raw.get("watermark")
        folded = raw.get("folded")
        return cls(
            watermark=Batch.from_dict(watermark) if watermark else None,
            recent=tuple(Batch.from_dict(item) for item in raw.get("recent") or ()),
            folded=int(folded) if folded is not None else (None if watermark else 0),
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


def late_batches(
    entries: Iterable[ListingEntry],
    pattern: str,
    completion_marker: str,
    processed: ProcessedBatches,
) -> tuple[int, ProcessedBatches]:
    """How many candidates in the listing lie at or below the watermark beyond the batches folded
    into it (complete or not: their directories are not listed, to keep a poll one listing), and
    the state with the count of folded batches brought up to date: lowered when folded batches
    were deleted, so that a later arrival still shows; taken from the listing when unknown."""
    if processed.watermark is None:
        return 0, processed
    recent = {batch.name for batch in processed.recent}
    below = sum(
        1
        for entry in entries
        if is_candidate(entry.name, pattern, completion_marker)
        and entry.name not in recent
        and Batch(entry.name, entry.modification_time).key <= processed.watermark.key
    )
    folded = below if processed.folded is None else min(processed.folded, below)
    return below - folded, replace(processed, folded=folded)
