"""What the operator benchmarks share: the running local stack's addresses, a namespace of their
own with the operator's identity in it, a scratch directory on HDFS, TrainingPipelines in bulk,
the operator as a `continuum operator` subprocess, and readings of /proc and Prometheus metrics.

The operator runs as it is deployed: a ServiceAccount bound to the ClusterRole of
manifests/rbac.yaml, not the stack's admin. That identity also makes its Kubernetes API requests
countable: a FlowSchema of its own matches only that ServiceAccount, and the API server counts the
requests it dispatches per FlowSchema (`apiserver_flowcontrol_dispatched_requests_total`). The
API server's request counters carry no user or user agent, and the benchmark's own requests (as
admin) fall under the `exempt` FlowSchema, so they are not counted.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from continuum_operator import api
from hdfs import InsecureClient
from kubernetes import client, config
from localstack.config import REPO_DIR, StackConfig
from prometheus_client.parser import text_string_to_metric_families

# The integration tests' harness runs the operator as a subprocess; the benchmarks run it the same
# way rather than keeping a second copy of that code.
sys.path.insert(0, str(REPO_DIR / "tests" / "integration" / "operator"))
from pipeline_harness import STANDIN_SKIP_LABEL, Operator, kubectl

RESULTS_DIR = REPO_DIR / "bench" / "results"
SERVICE_ACCOUNT = "continuum-operator"
BENCH_LABEL = {"app.kubernetes.io/part-of": "continuum-bench"}
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


# --- Kubernetes: the benchmark's namespace, identity and pipelines ------------------------------


NAMESPACE_RULE = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}
"""kopf lists and watches namespaces when it runs in named namespaces (`-n`), which
manifests/rbac.yaml (written for `--all-namespaces`) does not grant: without it kopf retries the
forbidden listing for about a minute at startup before it falls back to the names given."""


def _operator_cluster_role() -> dict[str, Any]:
    documents = yaml.safe_load_all((REPO_DIR / "manifests" / "rbac.yaml").read_text())
    role = next(doc for doc in documents if doc and doc["kind"] == "ClusterRole")
    return {**role, "rules": [*role["rules"], NAMESPACE_RULE]}


def _bench_objects(name: str) -> list[dict[str, Any]]:
    """The namespace (left alone by the spark-operator stand-in), the operator's ServiceAccount,
    its ClusterRole and binding, and the FlowSchema that counts its requests."""
    account = {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": name}
    metadata = {"name": name, "labels": BENCH_LABEL}
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {**BENCH_LABEL, **STANDIN_SKIP_LABEL}},
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SERVICE_ACCOUNT, "namespace": name},
        },
        {**_operator_cluster_role(), "metadata": metadata},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": metadata,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [account],
        },
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": metadata,
            "spec": {
                "priorityLevelConfiguration": {"name": "workload-low"},
                # Before the built-in `service-accounts` schema (9000), which would match it too.
                "matchingPrecedence": 1000,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [
                    {
                        "subjects": [
                            {
                                "kind": "ServiceAccount",
                                "serviceAccount": {"name": SERVICE_ACCOUNT, "namespace": name},
                            }
                        ],
                        "resourceRules": [
                            {
                                "verbs": ["*"],
                                "apiGroups": ["*"],
                                "resources": ["*"],
                                "clusterScope": True,
                                "namespaces": ["*"],
                            }
                        ],
                        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    }
                ],
            },
        },
    ]


def _kubeconfig_for_token(admin_kubeconfig: Path, token: str, namespace: str) -> dict[str, Any]:
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
    cluster = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "stack", "cluster": cluster["cluster"]}],
        "users": [{"name": SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [
            {
                "name": "operator",
                "context": {"cluster": "stack", "user": SERVICE_ACCOUNT, "namespace": namespace},
            }
        ],
        "current-context": "operator",
    }


@dataclass
class BenchNamespace:
    name: str
    flow_schema: str
    operator_kubeconfig: Path
    """Kubeconfig of the operator's ServiceAccount."""


@contextmanager
def bench_namespace(env: Mapping[str, str], workdir: Path) -> Iterator[BenchNamespace]:
    """A fresh namespace with the operator's identity; everything is deleted afterwards."""
    name = f"continuum-bench-{uuid.uuid4().hex[:6]}"
    manifest = yaml.safe_dump_all(_bench_objects(name))
    kubectl("apply", "-f", "-", stdin=manifest)
    try:
        token = kubectl(
            "create", "token", SERVICE_ACCOUNT, "-n", name, "--duration", "2h"
        ).stdout.strip()
        kubeconfig = workdir / "operator.kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(_kubeconfig_for_token(Path(env["KUBECONFIG"]), token, name))
        )
        yield BenchNamespace(name, name, kubeconfig)
    finally:
        kubectl("delete", "--wait=false", "--ignore-not-found", "-f", "-", stdin=manifest)


def kube_objects() -> client.CustomObjectsApi:
    """A CustomObjectsApi as the stack's admin (its requests are not counted as the operator's)."""
    return client.CustomObjectsApi(config.new_client_from_config(os.environ["KUBECONFIG"]))


def pipeline_body(
    name: str, data_uri: str, poll_interval: str, mlflow_uri: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": f"{api.GROUP}/{api.VERSION}",
        "kind": "TrainingPipeline",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "data": {"uri": data_uri, "pollInterval": poll_interval},
            # Never run: the namespace is one the stand-in skips, and nothing plays the
            # spark-operator; the benchmarks only look at the SparkApplications being created.
            "training": {"image": "continuum/training:bench", "sparkVersion": "4.0.0"},
            # The first pass of each pipeline probes the registry once; the model need not exist.
            "mlflow": {"trackingUri": mlflow_uri, "registeredModel": "continuum-bench"},
        },
    }


def create_pipelines(
    objects: client.CustomObjectsApi, namespace: str, bodies: Iterable[dict[str, Any]]
) -> None:
    for body in bodies:
        objects.create_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.TRAINING_PIPELINES, body
        )


def list_pipelines(
    objects: client.CustomObjectsApi, namespace: str, selector: str = ""
) -> list[dict[str, Any]]:
    return objects.list_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.TRAINING_PIPELINES, label_selector=selector
    )["items"]


def is_ready(pipeline: Mapping[str, Any]) -> bool:
    conditions = (pipeline.get("status") or {}).get("conditions") or ()
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_until_ready(
    objects: client.CustomObjectsApi,
    namespace: str,
    count: int,
    timeout: float,
    operator: Operator,
    selector: str = "",
) -> float:
    """Seconds until `count` pipelines are Ready (each has had its first pass)."""
    began = time.monotonic()
    while True:
        ready = sum(map(is_ready, list_pipelines(objects, namespace, selector)))
        if ready >= count:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"{ready}/{count} pipelines Ready after {timeout:.0f} s")
        ensure_running(operator)
        time.sleep(2)


def delete_pipelines(
    objects: client.CustomObjectsApi, namespace: str, selector: str = "", timeout: float = 180
) -> None:
    """Deletes the pipelines while the operator runs (it removes its finalizers); whatever is left
    after `timeout` loses its finalizers, so the namespace can go."""
    objects.delete_collection_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.TRAINING_PIPELINES, label_selector=selector
    )
    deadline = time.monotonic() + timeout
    while list_pipelines(objects, namespace, selector) and time.monotonic() < deadline:
        time.sleep(2)
    for pipeline in list_pipelines(objects, namespace, selector):
        objects.patch_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.TRAINING_PIPELINES,
            pipeline["metadata"]["name"], {"metadata": {"finalizers": None}},
            _content_type="application/merge-patch+json",
        )  # fmt: skip


# --- The operator process ---------------------------------------------------------------------


@contextmanager
def running_operator(
    env: Mapping[str, str], namespace: BenchNamespace, workdir: Path
) -> Iterator[Operator]:
    """`continuum operator -n NAMESPACE --standalone` as the operator's ServiceAccount; its log's
    tail is printed if the benchmark fails."""
    operator_env = {
        **env,
        "KUBECONFIG": str(namespace.operator_kubeconfig),
        "PYTHONPATH": str(REPO_DIR / "operator"),
    }
    operator = Operator(namespace.name, operator_env, workdir / "operator.log")
    operator.start()
    try:
        yield operator
    except BaseException:
        lines = operator.log.read_text(errors="replace").splitlines()
        print("\n".join(["-- operator log (tail) --", *lines[-40:]]), file=sys.stderr)
        raise
    finally:
        operator.stop()


def ensure_running(operator: Operator) -> None:
    assert operator.process is not None
    if operator.process.poll() is not None:
        raise RuntimeError(f"the operator exited with {operator.process.returncode}")


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


def machine_busy_seconds() -> float:
    """CPU seconds spent not idle by the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# --- Prometheus metrics: the operator's and the API server's ---------------------------------


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of the samples `name` whose labels include `labels`, in exposition text."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def metric_delta(before: str, after: str, name: str, **labels: str) -> float:
    """How much a counter grew between two scrapes."""
    return metric_sum(after, name, **labels) - metric_sum(before, name, **labels)


def operator_metrics(operator: Operator) -> str:
    with urllib.request.urlopen(operator.url("metrics"), timeout=10) as response:
        return response.read().decode()


def apiserver_metrics() -> str:
    return kubectl("get", "--raw", "/metrics").stdout


# --- Results -----------------------------------------------------------------------------------


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
