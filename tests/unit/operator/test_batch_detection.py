from __future__ import annotations

from continuum_operator.training.batches import (
    ProcessedBatches,
    late_batches,
    needs_probe,
    new_batches,
)
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
        "folded": 3,
    }
    assert ProcessedBatches.from_status(raw) == state
    assert ProcessedBatches.from_status(None) == ProcessedBatches()
    # Written before folded batches were counted: unknown until the next listing counts them.
    assert ProcessedBatches.from_status({**raw, "folded": None}).folded is None


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


def processed_up_to(count: int, limit: int = 2) -> ProcessedBatches:
    """batch-0000 … batch-<count-1> processed, with mtimes 0, 100, …: all but `limit` folded."""
    return ProcessedBatches().record(
        [Batch(f"batch-{i:04}", i * 100) for i in range(count)], limit=limit
    )


def listing(count: int) -> list[ListingEntry]:
    return [directory(f"batch-{i:04}", i * 100) for i in range(count)]


def test_a_batch_landing_with_a_time_before_the_watermark_is_counted_late() -> None:
    processed = processed_up_to(6)  # watermark batch-0003, four folded
    assert processed.folded == 4

    in_step, _ = late_batches(listing(6), "batch-*", "_SUCCESS", processed)
    copied_with_times = [*listing(6), directory("batch-0100", 150), file("batch-0101.csv", 250)]
    late, _ = late_batches(copied_with_times, "batch-*", "_SUCCESS", processed)

    assert in_step == 0
    assert late == 2
    assert new_batches(copied_with_times, "batch-*", "_SUCCESS", processed) == []


def test_deleted_folded_batches_lower_the_count_so_a_later_arrival_still_shows() -> None:
    processed = processed_up_to(6)
    retained = listing(6)[2:]  # batch-0000 and batch-0001 deleted

    late, pruned = late_batches(retained, "batch-*", "_SUCCESS", processed)
    later, _ = late_batches([*retained, directory("batch-0100", 50)], "batch-*", "_SUCCESS", pruned)

    assert (late, pruned.folded, later) == (0, 2, 1)


def test_an_unknown_count_is_taken_from_the_listing_and_nothing_is_reported_then() -> None:
    processed = ProcessedBatches.from_status({**processed_up_to(6).to_status(), "folded": None})

    late, counted = late_batches(listing(7), "batch-*", "_SUCCESS", processed)

    assert (late, counted.folded) == (0, 4)
    assert late_batches(listing(6), "batch-*", "_SUCCESS", ProcessedBatches())[0] == 0
