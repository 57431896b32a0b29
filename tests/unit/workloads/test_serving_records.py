"""What a micro-batch writes and commits: answers to replayed requests skipped by the committed
offsets, and the offsets a batch commits."""

from __future__ import annotations

import pytest

from continuum_workloads.serving.records import Answer, OutgoingRecord, next_offsets, pending
from continuum_workloads.serving.session import connector_jars, duration_ms


def record(partition: int, offset: int) -> Answer:
    return Answer(partition, offset, OutgoingRecord("predictions", b"k", b"{}"), None)


def test_records_below_the_committed_offset_are_skipped() -> None:
    batch = [record(0, 5), record(0, 6), record(1, 2), record(1, 3), record(2, 0)]
    assert pending(batch, {0: 6, 1: 4}) == [record(0, 6), record(2, 0)]
    assert pending(batch, {}) == batch
    assert pending(batch, {0: 7, 1: 4, 2: 1}) == []


def test_a_batch_commits_the_offset_after_its_last_record_per_partition() -> None:
    assert next_offsets([record(0, 5), record(1, 9), record(0, 7), record(1, 3)]) == {0: 8, 1: 10}
    assert next_offsets([]) == {}


@pytest.mark.parametrize(
    ("text", "ms"), [("0s", 0), ("500ms", 500), ("10m", 600_000), ("1h", 3_600_000)]
)
def test_durations(text: str, ms: int) -> None:
    assert duration_ms(text) == ms


def test_a_malformed_duration_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration_ms("ten minutes")


def test_connector_jars_from_a_directory_or_a_list(tmp_path) -> None:
    (tmp_path / "b.jar").write_text("")
    (tmp_path / "a.jar").write_text("")
    (tmp_path / "notes.txt").write_text("")
    assert connector_jars(str(tmp_path)) == [str(tmp_path / "a.jar"), str(tmp_path / "b.jar")]
    assert connector_jars("/x/a.jar, /y/b.jar") == ["/x/a.jar", "/y/b.jar"]
