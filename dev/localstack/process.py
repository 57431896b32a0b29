"""Start, find and stop the stack's background processes by pid file; probe ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from localstack.config import HOST


def pid_of(pid_file: Path) -> int | None:
    """The pid recorded in pid_file if that process is still alive (and not a zombie)."""
    try:
        pid = int(pid_file.read_text().strip())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    return None if state in ("Z", "X") else pid


def start_detached(
    command: list[str], log_file: Path, pid_file: Path, env: dict[str, str], cwd: Path
) -> int:
    """Start command in its own session (it outlives this process), output appended to log_file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def stop_pid(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM pid (its whole process group when it leads one), SIGKILL what is left after timeout.

    Returns once no process of the group is left, so ports are free when it returns.
    """
    try:
        group = os.getpgid(pid) == pid
    except ProcessLookupError:
        return
    send = (lambda sig: os.killpg(pid, sig)) if group else (lambda sig: os.kill(pid, sig))
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        deadline = time.monotonic() + wait
        try:
            send(sig)
            while time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)  # reap our own child, or it lingers as a zombie
                send(0)
                time.sleep(0.2)
        except ProcessLookupError:
            return


def stop_pid_file(pid_file: Path) -> bool:
    """Stop the process a pid file names; remove the file. True if something was running."""
    pid = pid_of(pid_file)
    if pid is not None:
        stop_pid(pid)
    pid_file.unlink(missing_ok=True)
    return pid is not None


def port_in_use(port: int, service_host: str = HOST) -> str | None:
    """The address (loopback or the stack's service host) on which `port` is taken, or None."""
    for host in dict.fromkeys((HOST, service_host)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                return host
    return None


def wait_for(check: Callable[[], str | None], timeout: float, interval: float = 0.5) -> str | None:
    """Poll check() (None means healthy, else a reason) until healthy or timeout; last reason."""
    deadline = time.monotonic() + timeout
    while True:
        reason = check()
        if reason is None or time.monotonic() >= deadline:
            return reason
        time.sleep(interval)


def tail(path: Path, lines: int = 20) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(content[-lines:])
