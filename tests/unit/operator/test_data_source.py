"""Where a data URI is listed, and the listing of a `file://` data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from continuum_operator.adapters.datasource import (
    DataSourceError,
    DataSourceLister,
    Location,
    parse_webhdfs_map,
    resolve,
)
from continuum_operator.training.batches import ProcessedBatches, needs_probe
from continuum_workloads.dataset.batches import Batch


def list_batches(lister: DataSourceLister, uri: str, processed: ProcessedBatches) -> list:
    """The listing as the TrainingPipeline controller asks for it: unprocessed `batch-*`
    directories probed for `_SUCCESS`."""
    return lister.entries(
        uri, "_SUCCESS", lambda entry: needs_probe(entry, "batch-*", "_SUCCESS", processed)
    )


def test_webhdfs_map_per_namenode_or_one_for_all() -> None:
    assert parse_webhdfs_map("nn:8020=http://nn:9870/, b:9000=https://b:9871") == {
        "nn:8020": "http://nn:9870",
        "b:9000": "https://b:9871",
    }
    assert parse_webhdfs_map("http://127.0.0.1:19870") == {"*": "http://127.0.0.1:19870"}
    assert parse_webhdfs_map("") == {}


@pytest.mark.parametrize(
    ("uri", "mapping", "expected"),
    [
        ("hdfs://nn:8020/data/in", {}, Location("http://nn:9870", "/data/in")),
        ("hdfs://nn:8020/d", {"nn:8020": "http://web:1"}, Location("http://web:1", "/d")),
        ("hdfs://nn:8020/d", {"*": "http://all:2"}, Location("http://all:2", "/d")),
        ("webhdfs://nn:9870/d", {"*": "http://all:2"}, Location("http://nn:9870", "/d")),
        ("file:///srv/data", {}, Location(None, "/srv/data")),
    ],
)
def test_resolve(uri: str, mapping: dict[str, str], expected: Location) -> None:
    assert resolve(uri, mapping) == expected


def test_a_file_directory_lists_batches_and_probes_only_unprocessed_directories(
    tmp_path: Path,
) -> None:
    for name, marker in (("batch-1", True), ("batch-2", False), ("batch-0", True)):
        (tmp_path / name).mkdir()
        if marker:
            (tmp_path / name / "_SUCCESS").touch()
    (tmp_path / "loose.csv").touch()
    batch_0 = tmp_path / "batch-0"
    processed = ProcessedBatches().record([Batch("batch-0", int(os.stat(batch_0).st_mtime * 1000))])
    entries = {
        e.name: e for e in list_batches(DataSourceLister({}), f"file://{tmp_path}", processed)
    }
    assert entries["batch-1"].has_marker and entries["batch-1"].is_directory
    assert not entries["batch-2"].has_marker
    assert not entries["batch-0"].has_marker  # processed: not listed again
    assert not entries["loose.csv"].is_directory


def test_an_unlistable_directory_is_a_data_source_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="cannot list file://"):
        list_batches(DataSourceLister({}), f"file://{tmp_path}/missing", ProcessedBatches())


def _listings(result: str) -> float:
    labels = {"transport": "file", "result": result}
    return REGISTRY.get_sample_value("continuum_data_listings_total", labels) or 0.0


def test_every_listing_is_counted_by_transport_and_result(tmp_path: Path) -> None:
    for name in ("batch-1", "batch-2"):
        (tmp_path / name).mkdir()
    ok, error = _listings("ok"), _listings("error")
    list_batches(DataSourceLister({}), f"file://{tmp_path}", ProcessedBatches())
    assert _listings("ok") - ok == 3  # the data directory, then one probe per candidate batch
    with pytest.raises(DataSourceError):
        list_batches(DataSourceLister({}), f"file://{tmp_path}/missing", ProcessedBatches())
    assert (_listings("ok") - ok, _listings("error") - error) == (3, 1)
