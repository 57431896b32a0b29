"""Which batches a run reads: the ones named for it, plus the history the pipeline asks for.

Listing goes through Hadoop's FileSystem of the running Spark, so `hdfs://` and `file://` URIs
(and any other scheme the image's Hadoop client knows) work alike. What counts as a complete batch
is decided by the rules the operator watches by (`dataset.batches`).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import SparkSession

from continuum_workloads.dataset import batches


class NoInputError(ValueError):
    """The run has nothing to train on."""


def complete_batches(
    spark: SparkSession, data_uri: str, pattern: str, marker: str
) -> list[tuple[str, int]]:
    """(name, modification time in ms) of every complete batch under data_uri, oldest first: a
    file matching `pattern`, or a directory matching it that holds the completion marker."""
    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(data_uri)
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(root):
        raise NoInputError(f"no input: {data_uri} does not exist")
    entries = []
    for status in fs.listStatus(root):
        name = status.getPath().getName()
        if not batches.is_candidate(name, pattern, marker):
            continue  # no marker probe for what cannot be a batch
        is_directory = status.isDirectory()
        marker_path = jvm.org.apache.hadoop.fs.Path(status.getPath(), marker)
        entries.append(
            batches.ListingEntry(
                name,
                is_directory,
                status.getModificationTime(),
                has_marker=is_directory and fs.exists(marker_path),
            )
        )
    return [
        (batch.name, batch.modification_time)
        for batch in batches.complete_batches(entries, pattern, marker)
    ]


def batches_to_read(
    available: Sequence[tuple[str, int]], requested: Sequence[str], latest: int | None
) -> list[str]:
    """The requested batches plus history: all complete batches, or the newest `latest` of them.
    A requested batch that is not complete is an error: the run was planned on it."""
    names = [name for name, _ in available]
    missing = sorted(set(requested) - set(names))
    if missing:
        raise NoInputError(f"no input: batches not found or incomplete: {', '.join(missing)}")
    history = names if latest is None else names[-latest:]
    chosen = set(history) | set(requested)
    if not chosen:
        raise NoInputError("no input: the data source holds no complete batch")
    return [name for name in names if name in chosen]
