"""Which batches a run reads: the ones named for it, plus the history the pipeline asks for.

Listing goes through Hadoop's FileSystem of the running Spark, so `hdfs://` and `file://` URIs
(and any other scheme the image's Hadoop client knows) work alike.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from pyspark.sql import SparkSession


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
    batches = []
    for status in fs.listStatus(root):
        name = status.getPath().getName()
        if name.startswith(("_", ".")) or not fnmatch.fnmatchcase(name, pattern):
            continue
        if status.isFile() or fs.exists(jvm.org.apache.hadoop.fs.Path(status.getPath(), marker)):
            batches.append((name, status.getModificationTime()))
    return sorted(batches, key=lambda batch: (batch[1], batch[0]))


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
