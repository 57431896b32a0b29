from __future__ import annotations

from continuum_operator.training.batches import ProcessedBatches, needs_probe, new_batches
from continuum_workloads.dataset.batches import Batch, ListingEntry


def directory(name: str, mtime: int, *, marker: bool = True) -> ListingEntry:
    return ListingEntry(name, is_directory=True, modification_time=mtime, has_marker=marker)


def file(name: str, mtime: int) -> ListingEntry:
    return ListingEntry(name, is_directory=False, modification_time=mtime)


def names(batches: list[Batch]) -> list[str]:
    return [batch.name for batch in batches]


def test_complete_directories_and_matching_files_are_batches_oldest_first() -> None:
    entries = [
        directory("batch-0002", 200),
        file("batch-0003.csv", 300),
        directory("batch-0001", 100),
        file("README", 50),
    ]

    found = new_batches(entries, "batch-*", "_SUCCESS", ProcessedBatches())

    assert names(found) == ["batch-0001", "batch-0002", "batch-0003.csv"]


def test_directory_without_marker_is_ignored_until_complete() -> None:
    incomplete = [directory("batch-0001", 100, marker=False)]
    complete = [directory("batch-0001", 150, marker=True)]

    assert new_batches(incomplete, "*", "_SUCCESS", ProcessedBatches()) == []
    assert names(new_batches(complete, "*", "_SUCCESS", ProcessedBatches())) == ["batch-0001"]


def test_in_flight_and_marker_entries_are_not_batches() -> None:
    entries = [
        directory("_temporary", 100),
        file(".batch-0004.csv._COPYING_", 100),
        file("batch-0005.csv._COPYING_", 100),
        file("_SUCCESS", 100),
        file("batch-0006.tmp", 100),
    ]

    assert new_batches(entries, "*", "_SUCCESS", ProcessedBatches()) == []


def test_processed_batches_are_not_new_again() -> None:
    processed = ProcessedBatches().record([Batch("batch-0001", 100), Batch("batch-0002", 200)])
    entries = [directory("batch-0001", 100), directory("batch-0002", 200), directory("b3", 300)]

    assert names(new_batches(entries, "*", "_SUCCESS", processed)) == ["b3"]


def test_processed_directory_touched_later_is_not_new() -> None:
    processed = ProcessedBatches().record([Batch("batch-0001", 100)])

    assert new_batches([directory("batch-0001", 999)], "*", "_SUCCESS", processed) == []


def test_batch_completing_late_sorts_above_the_watermark() -> None:
    # batch-0001's marker lands after batch-0002 was processed: its directory time moves past it.
    processed = ProcessedBatches().record([Batch("batch-0002", 200)], limit=0)

    found = new_batches([directory("batch-0001", 250)], "*", "_SUCCESS", processed)

    assert names(found) == ["batch-0001"]


def test_record_keeps_a_bounded_list_and_folds_the_rest_into_the_watermark() -> None:
    batches = [Batch(f"batch-{i:04d}", 100 + i) for i in range(10)]

    state = ProcessedBatches().record(batches, limit=3)

    assert state.watermark == batches[6]
    assert state.recent == tuple(batches[7:])
    assert all(state.contains(batch) for batch in batches)
    assert not state.contains(Batch("batch-0010", 110))
    # Below the watermark, an unseen batch counts as processed: that is the price of compactness.
    assert state.contains(Batch("never-listed", 105))


def test_record_ignores_batches_already_processed() -> None:
    state = ProcessedBatches().record([Batch("a", 1)], limit=3)

    again = state.record([Batch("a", 50)], limit=3)

    assert again.recent == (Batch("a", 1),)


def test_status_round_trip() -> None:
    state = ProcessedBatches().record([Batch(f"b{i}", i) for i in range(5)], limit=2)

    raw = state.to_status()

    assert raw == {
        "watermark": {"name": "b2", "modificationTime": 2},
        "recent": [{"name": "b3", "modificationTime": 3}, {"name": "b4", "modificationTime": 4}],
    }
    assert ProcessedBatches.from_status(raw) == state
    assert ProcessedBatches.from_status(None) == ProcessedBatches()


def test_only_unprocessed_matching_directories_are_probed_for_their_marker() -> None:
    processed = ProcessedBatches().record([Batch("batch-0001", 100)])
    entries = [
        directory("batch-0001", 100, marker=False),
        directory("batch-0002", 200, marker=False),
        file("batch-0003.csv", 300),
        directory("other", 400, marker=False),
    ]

    probed = [e.name for e in entries if needs_probe(e, "batch-*", "_SUCCESS", processed)]
    assert probed == ["batch-0002"]
