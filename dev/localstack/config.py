"""Where the stack lives, which versions it pins and which ports it binds (all overridable)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localstack.errors import StackError

DEV_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = DEV_DIR.parent
SERVING_JVM_DIR = REPO_DIR / "workloads" / "jvm"
HOST = "127.0.0.1"
CLUSTER_NAME = "continuum"

# Port defaults sit above the components' usual ports, so a Kafka or HDFS a developer already
# runs on this machine does not collide with the stack.
DEFAULT_PORTS: dict[str, int] = {
    "KUBE_APISERVER": 16443,
    "ETCD": 12379,
    # Fixed, or kwokctl picks a free one at creation that another process may hold at a restart.
    "ETCD_PEER": 12380,
    "KWOK": 10247,
    "KUBE_CONTROLLER_MANAGER": 10257,
    "KUBE_SCHEDULER": 10259,
    "KAFKA": 19092,
    "KAFKA_CONTROLLER": 19093,
    "HDFS_NAMENODE": 19000,
    "HDFS_NAMENODE_HTTP": 19870,
    "HDFS_DATANODE": 19866,
    "HDFS_DATANODE_HTTP": 19864,
    "HDFS_DATANODE_IPC": 19867,
    "MLFLOW": 15000,
    # The real node's: the API server reaches kubelet on the node's address, the rest is local.
    "KUBELET": 10250,
    "KUBELET_HEALTHZ": 10248,
    "KUBE_PROXY_METRICS": 10249,
    "KUBE_PROXY_HEALTHZ": 10256,
}


def read_versions(path: Path = DEV_DIR / "versions.env") -> dict[str, str]:
    """Parse the KEY=VALUE lines of versions.env (the one place versions are pinned)."""
    versions: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return versions


def read_ports(environ: dict[str, str] | os._Environ[str]) -> dict[str, int]:
    """Ports from CONTINUUM_<NAME>_PORT variables, falling back to the defaults."""
    ports: dict[str, int] = {}
    for name, default in DEFAULT_PORTS.items():
        variable = f"CONTINUUM_{name}_PORT"
        raw = environ.get(variable, str(default))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ValueError(f"{variable}={raw!r} is not a port number (1-65535)")
        ports[name] = int(raw)
    taken: dict[int, str] = {}
    for name, port in ports.items():
        if port in taken:
            raise ValueError(
                f"CONTINUUM_{name}_PORT and CONTINUUM_{taken[port]}_PORT are both {port}"
            )
        taken[port] = name
    return ports


def read_switch(environ: dict[str, str] | os._Environ[str], variable: str, default: bool) -> bool:
    raw = environ.get(variable, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{variable}={raw!r} is neither 1 nor 0")


def node_ip(environ: Mapping[str, str] = os.environ) -> str:
    """The host's address on its default route: the node's InternalIP (kubelet listens on it)."""
    override = environ.get("CONTINUUM_NODE_IP")
    if override:
        return override
    routes = json.loads(
        subprocess.run(
            ["ip", "-j", "-4", "route", "show", "default"], capture_output=True, text=True
        ).stdout
        or "[]"
    )
    for route in routes:
        addresses = json.loads(
            subprocess.run(
                ["ip", "-j", "-4", "addr", "show", "dev", route["dev"]],
                capture_output=True,
                text=True,
            ).stdout
            or "[]"
        )
        for link in addresses:
            for info in link.get("addr_info", []):
                if info.get("scope") == "global":
                    return info["local"]
    raise StackError(
        "node: the host has no IPv4 address on a default route for the node; "
        "set CONTINUUM_NODE_IP to one of its addresses"
    )


@dataclass(frozen=True)
class StackConfig:
    """Everything a component needs to know about its place in the stack."""

    stack_dir: Path
    cache_dir: Path
    ports: dict[str, int]
    versions: dict[str, str] = field(default_factory=read_versions)
    # A real node (kubelet + containerd) beside kwok's fake nodes; off: fake nodes only.
    real_node: bool = True
    # Where Kafka, HDFS and MLflow listen and what they advertise: the node's address when pods
    # run on a real node (they reach the host there), loopback otherwise.
    service_host: str = HOST

    @classmethod
    def from_env(cls, environ: dict[str, str] | os._Environ[str] = os.environ) -> StackConfig:
        cache_home = Path(environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        real_node = read_switch(environ, "CONTINUUM_REAL_NODE", default=True)
        return cls(
            stack_dir=Path(environ.get("CONTINUUM_STACK_DIR", REPO_DIR / ".stack")).resolve(),
            cache_dir=Path(environ.get("CONTINUUM_CACHE", cache_home / "continuum")).resolve(),
            ports=read_ports(environ),
            real_node=real_node,
            service_host=node_ip(environ) if real_node else HOST,
        )

    def url(self, port_name: str, scheme: str = "http") -> str:
        return f"{scheme}://{self.service_host}:{self.ports[port_name]}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.service_host}:{self.ports['KAFKA']}"

    @property
    def kube_bin_dir(self) -> Path:
        v = self.versions
        name = f"kube-v{v['KUBE_VERSION']}-etcd-v{v['ETCD_VERSION']}-kwok-v{v['KWOK_VERSION']}"
        return self.cache_dir / name / "bin"

    @property
    def node_bin_dir(self) -> Path:
        v = self.versions
        name = f"node-v{v['KUBE_VERSION']}-containerd-v{v['CONTAINERD_VERSION']}"
        return self.cache_dir / name / "bin"

    @property
    def spark_operator_bin_dir(self) -> Path:
        return self.cache_dir / f"spark-operator-v{self.versions['SPARK_OPERATOR_VERSION']}" / "bin"

    @property
    def kube_pki_dir(self) -> Path:
        """The cluster's CA and admin certificate, as kwokctl wrote them."""
        return self.stack_dir / "kubernetes" / "clusters" / CLUSTER_NAME / "pki"

    @property
    def kubeconfig(self) -> Path:
        return self.stack_dir / "kubernetes" / "kubeconfig"

    def maven_dir(self, artifact: str, version: str) -> Path:
        """Where the jars of one Maven-resolved runtime (kafka, hadoop, spark-kafka) are kept."""
        return self.cache_dir / "maven" / f"{artifact}-{version}"

    @property
    def spark_jars(self) -> list[Path]:
        """Spark's Kafka connector and its dependencies, and the scorer's own jar (compiled
        here when its sources changed: seconds), for `spark.jars` / `--jars`."""
        from importlib.metadata import version

        from localstack.artifacts import ensure_serving_jar

        connector = sorted(self.maven_dir("spark-kafka", version("pyspark")).glob("*.jar"))
        return [*connector, ensure_serving_jar(self)]

    def client_env(self) -> dict[str, str]:
        """The variables that point a client (test, operator, job) at this stack."""
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "MLFLOW_TRACKING_URI": self.url("MLFLOW"),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "HDFS_URI": self.url("HDFS_NAMENODE", scheme="hdfs"),
            "WEBHDFS_URI": self.url("HDFS_NAMENODE_HTTP"),
            "CONTINUUM_SPARK_JARS": ",".join(str(p) for p in self.spark_jars),
            "PATH": f"{self.kube_bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }
