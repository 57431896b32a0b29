"""The stack's own lifecycle: clear errors for what a user must fix, and a `down` that always
cleans up. Runs a second stack of its own (other ports, other directory, fake nodes only) beside
the session's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from localstack.config import DEFAULT_PORTS, REPO_DIR
from localstack.process import pid_of, port_in_use

SHIFT = 100  # the second stack's ports: the defaults plus this


def localstack(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localstack", command],
        cwd=REPO_DIR,
        env={**os.environ, "PYTHONPATH": str(REPO_DIR / "dev"), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def second_stack(tmp_path: Path) -> dict[str, str]:
    env = {f"CONTINUUM_{name}_PORT": str(port + SHIFT) for name, port in DEFAULT_PORTS.items()}
    # One real node per machine (kubelet's fixed host paths): the second stack has fake nodes only.
    return {**env, "CONTINUUM_STACK_DIR": str(tmp_path / "stack"), "CONTINUUM_REAL_NODE": "0"}


def test_a_taken_port_names_the_component_and_the_port(second_stack):
    port = int(second_stack["CONTINUUM_KAFKA_PORT"])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = localstack("up", second_stack)
    assert result.returncode == 2
    assert f"kafka: port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "CONTINUUM_KAFKA_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_prerequisite_is_one_line_naming_it(second_stack, tmp_path: Path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = localstack("up", {**second_stack, "PATH": str(empty)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "localstack: missing prerequisite: java not found on PATH; install OpenJDK 17 or newer "
        "(Debian: apt-get install openjdk-17-jdk-headless)"
    ]


def stack_pid_files(stack_dir: Path) -> list[Path]:
    return sorted(stack_dir.rglob("*.pid"))


# Every process of a stack with fake nodes only, by pid file: none may be missing.
FAKE_NODES_STACK = {
    "hdfs/datanode.pid",
    "hdfs/namenode.pid",
    "kafka/kafka.pid",
    "mlflow/mlflow.pid",
    "spark-operator/spark-operator.pid",
    *(
        f"kubernetes/clusters/continuum/pids/{part}.pid"
        for part in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                     "kwok-controller")
    ),
}  # fmt: skip


def test_up_twice_is_harmless_and_down_after_a_crash_cleans_up(second_stack):
    stack_dir = Path(second_stack["CONTINUUM_STACK_DIR"])
    first = localstack("up", second_stack)
    assert first.returncode == 0, first.stderr
    pids = {f: pid_of(f) for f in stack_pid_files(stack_dir)}
    assert {str(f.relative_to(stack_dir)) for f in pids} == FAKE_NODES_STACK
    assert all(pids.values()), pids

    again = localstack("up", second_stack)
    assert again.returncode == 0, again.stderr
    assert "starting" not in again.stderr
    assert {f: pid_of(f) for f in stack_pid_files(stack_dir)} == pids

    kafka_pid = pid_of(stack_dir / "kafka" / "kafka.pid")
    assert kafka_pid is not None
    os.kill(kafka_pid, 9)
    status = localstack("status", second_stack)
    assert status.returncode == 1
    assert "kafka        stopped  unhealthy: not running" in status.stdout
    assert "hdfs         running  healthy" in status.stdout

    down = localstack("down", second_stack)
    assert down.returncode == 0, down.stderr
    assert all(pid_of(f) is None for f in pids)
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids.values())
    leftover = [n for n, p in DEFAULT_PORTS.items() if port_in_use(p + SHIFT)]
    assert leftover == [], f"ports still bound after down: {leftover}"
