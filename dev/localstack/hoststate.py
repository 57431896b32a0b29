"""What the real node changes on the host, recorded before it starts and restored after it stops.

kubelet sets kernel sysctls, kubelet and kube-proxy add iptables chains, the CNI bridge plugin adds
a bridge and veth links, containerd and kubelet mount under their directories, and a few host
paths cannot be moved. `snapshot()` reads all of it; `restore()` puts back what a snapshot holds
and removes what was added since, touching nothing the stack did not add.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

# The sysctls kubelet sets at start (its "kernel defaults"), and those the bridge plugin and
# kube-proxy may change for pod and Service traffic.
SYSCTLS = (
    "kernel/panic",
    "kernel/panic_on_oops",
    "vm/overcommit_memory",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/netfilter/nf_conntrack_max",
)
# Paths kubelet, containerd and the CNI plugins use whatever their configuration says.
FIXED_PATHS = (
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/cni",
    "/run/containerd",
    "/run/netns",
    "/etc/cni",
    "/opt/cni",
)
IPTABLES_TABLES = ("filter", "nat", "mangle", "raw")
SAVE_COMMANDS = {"ipv4": "iptables-save", "ipv6": "ip6tables-save"}
RESTORE_COMMANDS = {"ipv4": "iptables-restore", "ipv6": "ip6tables-restore"}
COUNTERS = re.compile(r"\s*\[\d+:\d+\]")
# A built-in chain that accepts by default is what an absent table means too (the nf_tables
# backend creates tables on first use and keeps them), so such lines are not state.
DEFAULT_POLICY = re.compile(r"^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT$")


@dataclass
class HostState:
    sysctls: dict[str, str] = field(default_factory=dict)
    # family -> table -> the table's rules as iptables-save prints them, counters removed
    iptables: dict[str, dict[str, str]] = field(default_factory=dict)
    nft_tables: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    paths: dict[str, bool] = field(default_factory=dict)
    # Only mounts beneath these count: others come and go with the host's other work.
    mount_roots: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HostState:
        return cls(**json.loads(text))


def normalise_iptables(saved: str) -> dict[str, str]:
    """iptables-save output per table, without comments and counters (they change by themselves)."""
    tables: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in saved.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("*"):
            current = tables.setdefault(line[1:].strip(), [])
            continue
        line = COUNTERS.sub("", line)
        if current is not None and line != "COMMIT" and not DEFAULT_POLICY.match(line):
            current.append(line)
    return {table: "\n".join(rules) for table, rules in tables.items()}


def read_sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", name).read_text().strip()
    except OSError:
        return None


def mount_points(roots: tuple[str, ...]) -> list[str]:
    """Mount points at or beneath one of `roots`."""
    points = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # the mount point is the fifth field, with spaces and the like octal-escaped
        point = line.split()[4].encode().decode("unicode_escape")
        if any(point == root or point.startswith(root.rstrip("/") + "/") for root in roots):
            points.add(point)
    return sorted(points)


def _run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return result.stdout if result.returncode == 0 else ""


def snapshot(
    fixed_paths: tuple[str, ...] = FIXED_PATHS, mount_roots: tuple[str, ...] = ()
) -> HostState:
    """The host as the node may change it; mounts beneath the fixed paths and `mount_roots`."""
    roots = tuple(sorted({*fixed_paths, *mount_roots}))
    state = HostState(mount_roots=list(roots))
    for name in SYSCTLS:
        value = read_sysctl(name)
        if value is not None:
            state.sysctls[name] = value
    for family, command in SAVE_COMMANDS.items():
        if shutil.which(command):
            tables = normalise_iptables(_run(command))
            state.iptables[family] = {t: tables.get(t, "") for t in IPTABLES_TABLES}
    if shutil.which("nft"):
        state.nft_tables = sorted(
            line.removeprefix("table ").strip()
            for line in _run("nft", "list", "tables").splitlines()
            if line.startswith("table ")
        )
    links = json.loads(_run("ip", "-j", "link", "show") or "[]")
    state.links = sorted(link["ifname"] for link in links)
    state.mounts = mount_points(roots)
    state.paths = {p: Path(p).exists() for p in fixed_paths}
    return state


def differences(before: HostState, after: HostState) -> list[str]:
    """What differs between two snapshots, one line per difference (empty when equal)."""
    found = []
    for name in sorted(set(before.sysctls) | set(after.sysctls)):
        if before.sysctls.get(name) != after.sysctls.get(name):
            was, now = before.sysctls.get(name), after.sysctls.get(name)
            found.append(f"sysctl {name}: {was} -> {now}")
    for family in sorted(set(before.iptables) | set(after.iptables)):
        for table in IPTABLES_TABLES:
            was = before.iptables.get(family, {}).get(table, "")
            now = after.iptables.get(family, {}).get(table, "")
            if was != now:
                added = sorted(set(now.splitlines()) - set(was.splitlines()))
                removed = sorted(set(was.splitlines()) - set(now.splitlines()))
                found.append(f"{family} {table}: added {added}, removed {removed}")
    for what in ("nft_tables", "links", "mounts"):
        was, now = set(getattr(before, what)), set(getattr(after, what))
        if was != now:
            found.append(f"{what}: added {sorted(now - was)}, removed {sorted(was - now)}")
    for path in sorted(set(before.paths) | set(after.paths)):
        if before.paths.get(path) != after.paths.get(path):
            found.append(
                f"path {path}: existed {before.paths.get(path)} -> {after.paths.get(path)}"
            )
    return found


def restore(before: HostState, owned_link_prefixes: tuple[str, ...]) -> list[str]:
    """Put the host back as `before` recorded it; returns what could not be restored."""
    problems = []
    now = snapshot(tuple(before.paths), tuple(before.mount_roots))
    # Mounts first (deepest first): a mounted netns or volume keeps paths from being removed.
    for point in sorted(set(now.mounts) - set(before.mounts), key=len, reverse=True):
        result = subprocess.run(["umount", "-l", point], capture_output=True, text=True)
        if result.returncode != 0:
            problems.append(f"umount {point}: {result.stderr.strip()}")
    for link in sorted(set(now.links) - set(before.links)):
        if link.startswith(owned_link_prefixes):
            subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)
    for family, tables in before.iptables.items():
        for table, rules in tables.items():
            if now.iptables.get(family, {}).get(table, "") == rules:
                continue
            body = f"*{table}\n{rules}\nCOMMIT\n" if rules else f"*{table}\nCOMMIT\n"
            result = subprocess.run(
                [RESTORE_COMMANDS[family]], input=body, capture_output=True, text=True
            )
            if result.returncode != 0:
                problems.append(f"{RESTORE_COMMANDS[family]} {table}: {result.stderr.strip()}")
    for table in sorted(set(now.nft_tables) - set(before.nft_tables)):
        subprocess.run(["nft", "delete", "table", *table.split()], capture_output=True)
    for path, existed in before.paths.items():
        if not existed and Path(path).exists():
            with contextlib.suppress(OSError):
                shutil.rmtree(path) if Path(path).is_dir() else Path(path).unlink()
    for name, value in before.sysctls.items():
        if read_sysctl(name) != value:
            try:
                Path("/proc/sys", name).write_text(value)
            except OSError as error:
                problems.append(f"sysctl {name}={value}: {error}")
    problems.extend(differences(before, snapshot(tuple(before.paths), tuple(before.mount_roots))))
    return problems
