"""What every benchmark shares: the running local stack's addresses, the machine's load, readings
of /proc, a scratch directory on HDFS, and results as JSON under bench/results/."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hdfs import InsecureClient

from localstack.config import REPO_DIR, StackConfig

RESULTS_DIR = REPO_DIR / "bench" / "results"


SHARED_LOAD = 0.5
"""1-minute load average above which the machine counts as shared (another job runs on it)."""


def stack_env() -> dict[str, str]:
    """The running stack's client environment, also exported to this process: kubectl and the
    Kubernetes client read KUBECONFIG and PATH from it. The stack is never started here."""
    env = StackConfig.from_env().client_env()
    os.environ.update(env)
    return env


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def machine() -> dict[str, Any]:
    load = load_average()
    return {
        "cpu_count": os.cpu_count(),
        "loadavg_1m_at_start": load,
        "shared_machine": load > SHARED_LOAD,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status (VmRSS now, VmHWM the peak RSS) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it, from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # the process ended while being read
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(parents.get(tree[-1], []))
    return tree


def machine_busy_seconds() -> float:
    """CPU seconds spent not idle by the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def distribution(samples: list[float]) -> dict[str, Any]:
    """Median and p95 (linear interpolation between order statistics), min, max, the samples."""
    ordered = sorted(samples)
    p95 = statistics.quantiles(ordered, n=100, method="inclusive")[94] if len(ordered) > 1 else None
    return {
        "count": len(ordered),
        "median": round(statistics.median(ordered), 3),
        "p95": round(p95 if p95 is not None else ordered[0], 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
        "samples": [round(value, 3) for value in samples],
    }


def write_result(name: str, result: Mapping[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return out


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="continuum-bench-") as path:
        yield Path(path)


@contextmanager
def hdfs_scratch(env: Mapping[str, str]) -> Iterator[tuple[InsecureClient, str]]:
    """A fresh HDFS directory (WebHDFS client, path), deleted with everything in it afterwards."""
    hdfs = InsecureClient(env["WEBHDFS_URI"], user=os.environ.get("USER", "root"))
    root = f"/tmp/continuum-bench-{uuid.uuid4().hex[:8]}"
    hdfs.makedirs(root)
    try:
        yield hdfs, root
    finally:
        hdfs.delete(root, recursive=True)
