"""Benchmark: how fast the local stack comes up with a warm cache, how much memory it holds, and
how fast a pod becomes Ready on its real node.

Runs its own stack (ports shifted by 1000, a temporary directory) so a running stack is left
alone; with a real node (the default) no other stack on the machine may run one. Each cycle is
`up` then `down`; the first cycle starts on empty data (formats HDFS and Kafka, creates the
cluster), the later ones restart on existing data, as `make stack-up` usually does. In each cycle
a few pods with an exec readiness probe are created one after the other on the real node and
timed from creation to Ready. The same cycles then run with fake nodes only, side by side, for
the real node's cost. Also records the sizes of the image archives `make images` built.
Writes bench/results/stack_startup.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from localstack import stack
from localstack.artifacts import ensure_all
from localstack.config import DEFAULT_PORTS, REPO_DIR, StackConfig
from localstack.node import RealNode
from localstack.oci import static_binary_image

CYCLES = 3
SHIFT = 1000  # clear of stacks on the usual ports and on ports shifted by a few hundred
PODS_PER_CYCLE = 3


def resident_mb_by_component(config: StackConfig) -> dict[str, float]:
    """RSS of every process of each component: the pid-file processes and their process groups."""
    leaders: dict[int, str] = {}
    for pid_file in config.stack_dir.rglob("*.pid"):
        key = component_key(config, pid_file)
        if key is not None:
            leaders[int(pid_file.read_text().strip())] = key
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


def component_key(config: StackConfig, pid_file: Path) -> str | None:
    """The component a pid file belongs to; the real node's daemons each count on their own
    (the pid files deeper in its directory are containerd's, of containers)."""
    parts = pid_file.relative_to(config.stack_dir).parts
    if parts[0] != "node":
        return parts[0]
    return f"node/{pid_file.stem}" if len(parts) == 2 else None


def pod_ready_seconds(config: StackConfig, image: str, count: int) -> list[float]:
    """Create busybox pods one at a time on the real node; seconds from create to Ready."""
    from kubernetes import client
    from kubernetes import config as kube_config

    seconds = []
    with kube_config.new_client_from_config(str(config.kubeconfig)) as api:
        core = client.CoreV1Api(api)
        deadline = time.monotonic() + 60
        # A pod is admitted only once its namespace's ServiceAccount exists.
        while not core.list_namespaced_service_account("default").items:
            if time.monotonic() > deadline:
                raise RuntimeError("no default ServiceAccount after 60 s")
            time.sleep(0.2)
        for index in range(count):
            name = f"ready-{index}"
            container = client.V1Container(
                name="main",
                image=image,
                image_pull_policy="Never",
                command=["/bin/busybox", "sleep", "3600"],
                readiness_probe=client.V1Probe(
                    _exec=client.V1ExecAction(command=["/bin/busybox", "true"]),
                    period_seconds=1,
                ),
            )
            pod = client.V1Pod(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1PodSpec(containers=[container], termination_grace_period_seconds=0),
            )
            began = time.monotonic()
            core.create_namespaced_pod("default", pod)
            while not any(
                c.type == "Ready" and c.status == "True"
                for c in core.read_namespaced_pod(name, "default").status.conditions or []
            ):
                if time.monotonic() - began > 120:
                    raise RuntimeError(f"pod {name} not Ready in 120 s")
                time.sleep(0.05)
            seconds.append(round(time.monotonic() - began, 2))
        for index in range(count):
            core.delete_namespaced_pod(f"ready-{index}", "default", grace_period_seconds=0)
    return seconds


def image_archive_mb(config: StackConfig) -> dict[str, float]:
    archives = sorted((config.cache_dir / "images" / "archives").glob("*.tar"))
    return {a.stem.rsplit("-", 1)[0]: round(a.stat().st_size / 2**20, 1) for a in archives}


def measure(real_node: bool) -> dict[str, Any]:
    """CYCLES of up and down of a fresh stack, with or without the real node."""
    environ = {f"CONTINUUM_{n}_PORT": str(p + SHIFT) for n, p in DEFAULT_PORTS.items()}
    environ["CONTINUUM_REAL_NODE"] = "1" if real_node else "0"
    with tempfile.TemporaryDirectory(prefix="continuum-bench-") as stack_dir:
        config = StackConfig.from_env({**os.environ, **environ, "CONTINUUM_STACK_DIR": stack_dir})
        ensure_all(config)  # building is not what this measures
        image = "localhost/continuum/busybox:bench"
        archive = Path(stack_dir) / "busybox.tar"
        archive.write_bytes(static_binary_image(Path("/bin/busybox"), "/bin/busybox", image))
        up_seconds, memory, ready_seconds = [], [], []
        try:
            for _ in range(CYCLES):
                began = time.monotonic()
                stack.up(config)
                up_seconds.append(round(time.monotonic() - began, 2))
                if real_node:
                    RealNode(config).load_image(archive)
                    ready_seconds.extend(pod_ready_seconds(config, image, PODS_PER_CYCLE))
                memory.append(resident_mb_by_component(config))
                stack.down(config)
        finally:
            stack.down(config)
    return {
        "up_seconds_first_on_empty_data": up_seconds[0],
        "up_seconds_restart_median": statistics.median(up_seconds[1:]),
        "up_seconds_all": up_seconds,
        "resident_mb_by_component_median": {
            name: statistics.median(m[name] for m in memory) for name in memory[0]
        },
        "resident_mb_total_median": round(statistics.median(sum(m.values()) for m in memory), 1),
        "pod_create_to_ready_seconds": ready_seconds,
        "pod_create_to_ready_seconds_median": (
            statistics.median(ready_seconds) if ready_seconds else None
        ),
    }


def main() -> int:
    load_at_start = float(Path("/proc/loadavg").read_text().split()[0])
    # Side by side in one run: what the real node costs at start-up and in memory.
    real, fake = measure(real_node=True), measure(real_node=False)
    result = {
        "benchmark": "stack_startup",
        "cycles": CYCLES,
        "real_node": real,
        "fake_nodes_only": fake,
        "up_restart_ratio_real_to_fake": round(
            real["up_seconds_restart_median"] / fake["up_seconds_restart_median"], 2
        ),
        "image_archive_mb": image_archive_mb(StackConfig.from_env()),
        "cpu_count": os.cpu_count(),
        "loadavg_1m_at_start": load_at_start,
        "loadavg_1m_at_end": float(Path("/proc/loadavg").read_text().split()[0]),
    }
    out = REPO_DIR / "bench" / "results" / "stack_startup.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
