"""What the operator benchmarks share: the running local stack's addresses, a namespace of their
own with the operator's identity in it, a scratch directory on HDFS, TrainingPipelines in bulk,
ServingDeployments, the operator as a `continuum operator` subprocess, and Prometheus metrics.

The operator runs as it is deployed: a ServiceAccount bound to the ClusterRole of
manifests/base/rbac.yaml, not the stack's admin. That identity also makes its Kubernetes API
requests countable: a FlowSchema of its own matches only that ServiceAccount, and the API server
counts the requests it dispatches per FlowSchema
(`apiserver_flowcontrol_dispatched_requests_total`). The API server's request counters carry no user
or user agent, and the benchmark's own requests (as admin) fall under the `exempt` FlowSchema, so
they are not counted.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from continuum_operator.core import api
from continuum_operator.core.api import Kind
from localstack.harness import SERVICE_ACCOUNT, Operator, kubectl, metric_sum, operator_identity
from localstack.kubernetes import FAKE_NODES_ONLY
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
        # The scorer pods have no image: they run on kwok's fake nodes, not the real node.
        kubectl("annotate", "namespace", name, *(f"{k}={v}" for k, v in FAKE_NODES_ONLY.items()))
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
            "training": {"image": "continuum/training:bench", "sparkVersion": "4.2.0"},
            # The first pass of each pipeline probes the registry once; the model need not exist.
            "mlflow": {"trackingUri": mlflow_uri, "registeredModel": "continuum-bench"},
        },
    }


def serving_body(
    name: str, model: str, mlflow_uri: str, kafka: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """A ServingDeployment of `model`'s champion; its scorer's pods run on the stack's kwok
    nodes, where they are Ready at once (nothing scores: the benchmarks look at the operator)."""
    return {
        "apiVersion": f"{api.GROUP}/{api.VERSION}",
        "kind": str(Kind.SERVING_DEPLOYMENT),
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "model": {"name": model},
            "mlflow": {"trackingUri": mlflow_uri},
            "kafka": {
                "bootstrapServers": kafka,
                "topics": {
                    "requests": "requests",
                    "predictions": "predictions",
                    "deadLetter": "dl",
                },
            },
            "image": "continuum/serving:bench",
            "checkpointUri": f"file:///tmp/continuum-bench/{name}",
        },
    }


@contextmanager
def registered_models(
    mlflow_uri: str, count: int, versions: int = 1
) -> Iterator[tuple[Any, list[str]]]:
    """`count` registered models of `versions` versions each, the first holding `champion`:
    (MLflow client, names). Deleted afterwards. The versions have no artifacts: nothing loads them
    here."""
    from mlflow import MlflowClient

    mlflow = MlflowClient(mlflow_uri)
    prefix = f"continuum-bench-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{index}" for index in range(count)]
    try:
        for name in names:
            mlflow.create_registered_model(name)
            for _ in range(versions):
                mlflow.create_model_version(name, f"s3://continuum-bench/{name}/model")
            mlflow.set_registered_model_alias(name, "champion", "1")
        yield mlflow, names
    finally:
        for name in names:
            mlflow.delete_registered_model(name)


def create_objects(
    objects: client.CustomObjectsApi,
    namespace: str,
    bodies: Iterable[dict[str, Any]],
    kind: Kind = Kind.TRAINING_PIPELINE,
) -> None:
    for body in bodies:
        objects.create_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, kind.plural, body
        )


def list_objects(
    objects: client.CustomObjectsApi,
    namespace: str,
    selector: str = "",
    kind: Kind = Kind.TRAINING_PIPELINE,
) -> list[dict[str, Any]]:
    return objects.list_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, kind.plural, label_selector=selector
    )["items"]


def is_ready(body: Mapping[str, Any]) -> bool:
    conditions = (body.get("status") or {}).get("conditions") or ()
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_until_ready(
    objects: client.CustomObjectsApi,
    namespace: str,
    count: int,
    timeout: float,
    operator: Operator,
    selector: str = "",
    kind: Kind = Kind.TRAINING_PIPELINE,
) -> float:
    """Seconds until `count` objects of `kind` are Ready (each has had its first pass)."""
    began = time.monotonic()
    while True:
        ready = sum(map(is_ready, list_objects(objects, namespace, selector, kind)))
        if ready >= count:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"{ready}/{count} {kind.plural} Ready after {timeout:.0f} s")
        ensure_running(operator)
        time.sleep(2)


def delete_objects(
    objects: client.CustomObjectsApi,
    namespace: str,
    selector: str = "",
    timeout: float = 180,
    kind: Kind = Kind.TRAINING_PIPELINE,
) -> None:
    """Deletes the objects while the operator runs (it removes its finalizers); whatever is left
    after `timeout` loses its finalizers, so the namespace can go."""
    objects.delete_collection_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, kind.plural, label_selector=selector
    )
    deadline = time.monotonic() + timeout
    while list_objects(objects, namespace, selector, kind) and time.monotonic() < deadline:
        time.sleep(2)
    for body in list_objects(objects, namespace, selector, kind):
        objects.patch_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, kind.plural,
            body["metadata"]["name"], {"metadata": {"finalizers": None}},
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


# --- Watching objects as the operator changes them --------------------------------------------


class ResourceWatch:
    """Watches what `list_function(*args)` lists, in a thread, from `with` to its end, calling
    `on_event(type, object as JSON, monotonic arrival time)` for every event but bookmarks."""

    def __init__(
        self,
        list_function: Callable[..., Any],
        *args: Any,
        on_event: Callable[[str, dict[str, Any], float], None],
    ) -> None:
        self._list = list_function
        self._args = args
        self._on_event = on_event
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ResourceWatch:
        self._thread.start()
        if not self._listening.wait(30):
            raise RuntimeError("the watch did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def _now(self) -> str:
        listed = self._list(*self._args)
        metadata = listed["metadata"] if isinstance(listed, dict) else listed.metadata
        return (
            metadata["resourceVersion"] if isinstance(metadata, dict) else metadata.resource_version
        )

    def _run(self) -> None:
        version = self._now()
        self._listening.set()
        while not self._stop.is_set():
            try:
                # Short server-side timeouts so that stopping is quick; bookmarks keep `version`
                # recent, so a resumed watch is not refused as too old.
                for event in watch.Watch().stream(
                    self._list, *self._args,
                    resource_version=version, timeout_seconds=5, allow_watch_bookmarks=True,
                ):  # fmt: skip
                    arrived = time.monotonic()
                    raw = event["raw_object"]
                    version = raw["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._on_event(event["type"], raw, arrived)
            except client.ApiException as error:
                if error.status != 410:
                    raise
                # Expired anyway: start again from now (what was missed has no arrival time).
                version = self._now()


# --- Prometheus metrics: the operator's and the API server's ---------------------------------


def metric_delta(before: str, after: str, name: str, **labels: str) -> float:
    """How much a counter grew between two scrapes."""
    return metric_sum(after, name, **labels) - metric_sum(before, name, **labels)


def apiserver_metrics() -> str:
    return kubectl("get", "--raw", "/metrics").stdout


# --- Results -----------------------------------------------------------------------------------
