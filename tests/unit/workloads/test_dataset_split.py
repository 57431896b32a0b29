"""Splitting a listings file into a test part and train batches."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from continuum_workloads.dataset.generator import write_csv
from continuum_workloads.dataset.split import TEST_TARGET, assign, batch_name, split_csv
from continuum_workloads.dataset.storage import LocalStore, WebHdfsStore, open_store


def _records(path: Path) -> list[tuple[str, ...]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [tuple(record) for record in csv.reader(f)]


@pytest.fixture(scope="module")
def listings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("source") / "listings.csv"
    write_csv(path, rows=3_001, seed=2)
    return path


def _quiet() -> Console:
    return Console(quiet=True)


def test_train_records_are_dealt_round_robin_across_blocks():
    is_test = np.array([False, True, False, False, True, False])
    assert assign(is_test, train_before=0, batches=3).tolist() == [0, -1, 1, 2, -1, 0]
    assert assign(is_test, train_before=4, batches=3).tolist() == [1, -1, 2, 0, -1, 1]
    assert assign(np.ones(3, dtype=bool), train_before=7, batches=2).tolist() == [TEST_TARGET] * 3


def test_batch_names_sort_in_order():
    names = [batch_name(n) for n in (1, 2, 10, 999)]
    assert names == ["batch-0001", "batch-0002", "batch-0010", "batch-0999"]
    assert names == sorted(names)


def test_every_record_lands_once_in_the_test_part_or_a_batch(listings: Path, tmp_path: Path):
    out = tmp_path / "incoming"
    result = split_csv(listings, str(out), batches=4, test_fraction=0.25, console=_quiet())

    header, *rows = _records(listings)
    written: list[tuple[str, ...]] = []
    assert sorted(p.name for p in out.iterdir()) == [batch_name(n) for n in range(1, 5)]
    for directory, count in zip(
        [tmp_path / "incoming-test", *(out / batch_name(n) for n in range(1, 5))],
        [result.test_rows, *result.batch_rows],
        strict=True,
    ):
        assert sorted(p.name for p in directory.iterdir()) == [
            "_SUCCESS",
            "part-00000.csv",
        ]
        part_header, *part_rows = _records(directory / "part-00000.csv")
        assert part_header == header and len(part_rows) == count
        written += part_rows
    assert Counter(written) == Counter(rows)
    assert max(result.batch_rows) - min(result.batch_rows) <= 1
    assert 0.2 < result.test_rows / len(rows) < 0.3
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # staging is gone


def test_the_same_seed_gives_the_same_split(listings: Path, tmp_path: Path):
    for name in ("a", "b"):
        split_csv(listings, str(tmp_path / name), 2, 0.3, seed=9, console=_quiet())
    for part in ("-test", "/batch-0001", "/batch-0002"):
        a = Path(f"{tmp_path}/a{part}/part-00000.csv").read_bytes()
        assert a == Path(f"{tmp_path}/b{part}/part-00000.csv").read_bytes()


def test_batches_are_published_one_every_interval(listings: Path, tmp_path: Path):
    waits: list[float] = []
    published: list[list[str]] = []
    out = tmp_path / "incoming"

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        published.append(sorted(p.parent.name for p in out.glob("batch-*/_SUCCESS")))

    split_csv(listings, f"file://{out}", 3, 0.1, every=30, console=_quiet(), sleep=sleep)
    assert waits == [30, 30]
    assert published == [["batch-0001"], ["batch-0001", "batch-0002"]]


def test_the_test_part_can_go_elsewhere(listings: Path, tmp_path: Path):
    result = split_csv(
        listings, str(tmp_path / "in"), 1, 0.5, test_out=str(tmp_path / "held"), console=_quiet()
    )
    assert result.destinations[0] == str(tmp_path / "held")
    assert (tmp_path / "held" / "_SUCCESS").exists()
    assert not (tmp_path / "in" / "test").exists()


def test_existing_batches_are_never_overwritten(listings: Path, tmp_path: Path):
    (tmp_path / "batch-0002").mkdir()
    with pytest.raises(FileExistsError, match="batch-0002"):
        split_csv(listings, str(tmp_path), 2, 0.2, console=_quiet())
    assert not (tmp_path / "batch-0001").exists()


@pytest.mark.parametrize(
    ("batches", "test_fraction", "every"), [(0, 0.2, 0), (2, 1.0, 0), (2, -0.1, 0), (2, 0.2, -1)]
)
def test_bad_arguments_are_refused(tmp_path: Path, batches: int, test_fraction: float, every: int):
    with pytest.raises(ValueError):
        split_csv(tmp_path / "x.csv", str(tmp_path), batches, test_fraction, every=every)


def test_uris_select_the_store(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WEBHDFS_URI", raising=False)
    store, path = open_store("file:///data/incoming")
    assert isinstance(store, LocalStore) and path == "/data/incoming"
    assert open_store("relative/dir")[1] == "relative/dir"

    store, path = open_store("webhdfs://namenode:9870/data/incoming")
    assert isinstance(store, WebHdfsStore) and path == "/data/incoming"
    assert store.client.url == "http://namenode:9870"

    with pytest.raises(ValueError, match="WEBHDFS_URI"):
        open_store("hdfs://namenode:8020/data")
    monkeypatch.setenv("WEBHDFS_URI", "http://namenode:9870")
    store, path = open_store("hdfs://namenode:8020/data")
    assert isinstance(store, WebHdfsStore) and path == "/data"

    with pytest.raises(ValueError, match="unsupported scheme 's3'"):
        open_store("s3://bucket/data")
