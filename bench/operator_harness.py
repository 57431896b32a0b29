"""What the operator benchmarks share: the running local stack's addresses, a namespace of their
own with the operator's identity in it, a scratch directory on HDFS, TrainingPipelines in bulk,
the operator as a `continuum operator` subprocess, and Prometheus metrics.

The operator runs as it is deployed: a ServiceAccount bound to the ClusterRole of
manifests/rbac.yaml, not the stack's admin. That identity also makes its Kubernetes API requests
countable: a FlowSchema of its own matches only that ServiceAccount, and the API server counts the
requests it dispatches per FlowSchema (`apiserver_flowcontrol_dispatched_requests_total`). The
API server's request counters carry no user or user agent, and the benchmark's own requests (as
admin) fall under the `exempt` FlowSchema, so they are not counted.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from continuum_operator import api
from kubernetes import client, config
from localstack.harness import SERVICE_ACCOUNT, Operator, kubectl, metric_sum, operator_identity
from localstack.spark_standin import SKIP_LABEL

BENCH_LABEL = {"app.kubernetes.io/part-of": "continuum-bench"}


# --- Kubernetes: the benchmark's namespace, identity and pipelines ------------------------------


def _flow_schema(namespace: str) -> dict[str, Any]:
    """Counts the requests of the operator's ServiceAccount in `namespace`, and only those."""
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": namespace, "labels": BENCH_LABEL},
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
                            "serviceAccount": {"name": SERVICE_ACCOUNT, "namespace": namespace},
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
    }


@dataclass
class BenchNamespace:
    name: str
    flow_schema: str
    operator_kubeconfig: Path
    """Kubeconfig of the operator's ServiceAccount."""


@contextmanager
def bench_namespace(env: Mapping[str, str], workdir: Path) -> Iterator[BenchNamespace]:
    """A fresh namespace (left alone by the spark-operator stand-in) with the operator's identity
    and the FlowSchema that counts its requests; everything is deleted afterwards."""
    name = f"continuum-bench-{uuid.uuid4().hex[:6]}"
    labels = {**BENCH_LABEL, **SKIP_LABEL}
    kubectl("create", "namespace", name)
    try:
        kubectl("label", "namespace", name, *(f"{key}={value}" for key, value in labels.items()))
        with operator_identity(
            name,
            Path(env["KUBECONFIG"]),
            workdir / "operator.kubeconfig",
            extra_objects=[_flow_schema(name)],
        ) as kubeconfig:
            yield BenchNamespace(name, name, kubeconfig)
    finally:
        kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


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


# --- Prometheus metrics: the operator's and the API server's ---------------------------------


def metric_delta(before: str, after: str, name: str, **labels: str) -> float:
    """How much a counter grew between two scrapes."""
    return metric_sum(after, name, **labels) - metric_sum(before, name, **labels)


def apiserver_metrics() -> str:
    return kubectl("get", "--raw", "/metrics").stdout


# --- Results -----------------------------------------------------------------------------------
