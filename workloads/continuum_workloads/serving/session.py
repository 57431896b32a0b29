"""The serving pod's SparkSession: local mode inside the pod, Kafka's connector from the image's
jars, the ServingDeployment's own Spark conf on top."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

SPARK_JARS_ENV = "CONTINUUM_SPARK_JARS"
"""Spark's Kafka connector and its dependencies: a directory of jars, or paths joined by commas."""
DEFAULT_JARS_DIR = "/opt/continuum/jars"
SESSION_DEFAULTS = {
    "spark.master": "local[2]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # A micro-batch of requests is small: Spark's 200 default shuffle partitions would mostly be
    # empty tasks on every batch.
    "spark.sql.shuffle.partitions": "2",
    # One process holds every task: a task held back for a "node-local" slot elsewhere (a
    # DataNode's or Kafka consumer's host) would wait, and local mode may never re-offer it.
    "spark.locality.wait": "0",
    # Each micro-batch writes two small checkpoint files. Closing one on HDFS asks the NameNode to
    # complete it, which it refuses until the DataNode has reported the block; the client then
    # sleeps 400 ms by default before asking again, a delay that was most of a batch. A short first
    # sleep and more of them (doubling) keep the client as patient overall (20 s, not 12).
    "spark.hadoop.dfs.client.block.write.locateFollowingBlock.initial.delay.ms": "20",
    "spark.hadoop.dfs.client.block.write.locateFollowingBlock.retries": "10",
}
LIVE_METRICS_SLOTS = 2
"""Task slots a `realtime` pod keeps for its live-metrics query (its shuffle's partitions)."""
_DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def duration_ms(text: str) -> int:
    """`500ms`, `0s`, `10m`, `1h` (the operator's duration forms) → milliseconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 500ms, 30s, 5m or 1h")
    return int(match[1]) * _UNIT_MS[match[2]]


def spark_interval(text: str) -> str:
    """A duration as Spark's triggers and windows read it."""
    return f"{duration_ms(text)} milliseconds"


def realtime_master(requests_partitions: int) -> str:
    """A `realtime` pod's Spark master unless its Spark conf sets one. A real-time batch holds a
    task slot per partition of the requests topic for its whole length; with `local[2]` and a
    two-partition topic the live-metrics query ran only between real-time batches (2 batches in
    40 s, 11 s each, against 42 of about 1 s with `local[4]`: bench/realtime_slots.py)."""
    return f"local[{requests_partitions + LIVE_METRICS_SLOTS}]"


def connector_jars(setting: str | None) -> list[str]:
    """The jars named by CONTINUUM_SPARK_JARS (a directory, or a comma-separated list)."""
    value = (setting or DEFAULT_JARS_DIR).strip()
    if "," not in value and Path(value).is_dir():
        return sorted(str(path) for path in Path(value).glob("*.jar"))
    return [part for part in (p.strip() for p in value.split(",")) if part]


def build_session(spark_conf: Mapping[str, str], app_name: str) -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    jars = connector_jars(os.environ.get(SPARK_JARS_ENV))
    missing = [jar for jar in jars if not Path(jar).is_file()]
    if not jars or missing:
        raise FileNotFoundError(
            f"Spark's Kafka connector jars are missing ({SPARK_JARS_ENV}): {missing or 'none'}"
        )
    # Scoring needs no Python worker; should Spark start one (Python rows made into a frame),
    # it runs this process's own interpreter, not whichever `python3` comes first on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {**SESSION_DEFAULTS, "spark.jars": ",".join(jars), **spark_conf}
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
