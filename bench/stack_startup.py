"""Benchmark: how fast the local stack comes up with a warm cache, and how much memory it holds.

Runs its own stack (ports shifted by 300, a temporary directory) so a running stack is left
alone. Each cycle is `up` then `down`; the first cycle starts on empty data (formats HDFS and
Kafka, creates the cluster), the later ones restart on existing data, as `make stack-up` usually
does. Writes bench/results/stack_startup.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from localstack import stack
from localstack.artifacts import ensure_all
from localstack.config import DEFAULT_PORTS, REPO_DIR, StackConfig

CYCLES = 3
SHIFT = 300


def resident_mb_by_component(config: StackConfig) -> dict[str, float]:
    """RSS of every process of each component: the pid-file processes and their process groups."""
    leaders: dict[int, str] = {}
    for pid_file in config.stack_dir.rglob("*.pid"):
        component = pid_file.relative_to(config.stack_dir).parts[0]
        leaders[int(pid_file.read_text().strip())] = component
    totals = dict.fromkeys(sorted(set(leaders.values())), 0.0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            rss_pages = int((proc / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        pid, pgid = int(proc.name), int(fields[2])
        component = leaders.get(pid) or leaders.get(pgid)
        if component:
            totals[component] += rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    return {name: round(mb, 1) for name, mb in totals.items()}


def main() -> int:
    environ = {f"CONTINUUM_{n}_PORT": str(p + SHIFT) for n, p in DEFAULT_PORTS.items()}
    with tempfile.TemporaryDirectory(prefix="continuum-bench-") as stack_dir:
        config = StackConfig.from_env({**os.environ, **environ, "CONTINUUM_STACK_DIR": stack_dir})
        ensure_all(config)  # building is not what this measures
        up_seconds, memory = [], []
        try:
            for _ in range(CYCLES):
                began = time.monotonic()
                stack.up(config)
                up_seconds.append(round(time.monotonic() - began, 2))
                memory.append(resident_mb_by_component(config))
                stack.down(config)
        finally:
            stack.down(config)
    result = {
        "benchmark": "stack_startup",
        "cycles": CYCLES,
        "up_seconds_first_on_empty_data": up_seconds[0],
        "up_seconds_restart_median": statistics.median(up_seconds[1:]),
        "up_seconds_all": up_seconds,
        "resident_mb_by_component_median": {
            name: statistics.median(m[name] for m in memory) for name in memory[0]
        },
        "resident_mb_total_median": statistics.median(sum(m.values()) for m in memory),
        "cpu_count": os.cpu_count(),
    }
    out = REPO_DIR / "bench" / "results" / "stack_startup.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
