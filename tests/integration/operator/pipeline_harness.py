"""Helpers of the operator's integration tests: kubectl, polling, the operator as a `continuum
operator` subprocess, and TrainingPipelines with their SparkApplications in one namespace."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from continuum_operator import api
from kubernetes import client

REPO = Path(__file__).resolve().parents[3]
STANDIN_SKIP_LABEL = {"continuum.ml/spark-standin": "skip"}


def kubectl(
    *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True, check=check, timeout=60
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """The predicate's first truthy value, polled every 0.2 s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Operator:
    """`continuum operator -n NAMESPACE` as a subprocess that a test may kill and restart."""

    def __init__(self, namespace: str, env: dict[str, str], log: Path) -> None:
        self.namespace = namespace
        self.env = env
        self.log = log
        self.liveness_port = free_port()
        self.metrics_port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "continuum_operator.cli", "operator",
            "--namespace", self.namespace,
            "--standalone",
            "--liveness", f"http://127.0.0.1:{self.liveness_port}/healthz",
            "--metrics-port", str(self.metrics_port),
            "--log-format", "json",
            "--webhdfs-url", self.env["WEBHDFS_URI"],
        ]  # fmt: skip
        with self.log.open("a") as sink:
            self.process = subprocess.Popen(command, env=self.env, stdout=sink, stderr=sink)
        wait_for(self.alive, timeout=60, what="the operator's liveness endpoint")

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(self.url("healthz"), timeout=1) as response:
                return response.status == 200
        except OSError:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            return False

    def url(self, what: str) -> str:
        port = self.liveness_port if what == "healthz" else self.metrics_port
        return f"http://127.0.0.1:{port}/{what}"

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when a node dies."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Pipelines:
    """TrainingPipelines and their SparkApplications in one namespace."""

    def __init__(self, k8s_api: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.objects = client.CustomObjectsApi(k8s_api)
        self.core = client.CoreV1Api(k8s_api)

    def apply(self, name: str, spec: dict[str, Any]) -> None:
        manifest = {
            "apiVersion": f"{api.GROUP}/{api.VERSION}",
            "kind": "TrainingPipeline",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))

    def get(self, name: str) -> dict[str, Any]:
        return self.objects.get_namespaced_custom_object(
            api.GROUP, api.VERSION, self.namespace, api.TRAINING_PIPELINES, name
        )

    def status(self, name: str) -> dict[str, Any]:
        return self.get(name).get("status") or {}

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        conditions = self.status(name).get("conditions") or ()
        return next((c for c in conditions if c["type"] == type_), None)

    def spark_applications(self) -> list[dict[str, Any]]:
        listing = self.objects.list_namespaced_custom_object(
            api.SPARK_GROUP, api.SPARK_VERSION, self.namespace, api.SPARK_APPLICATIONS
        )
        return sorted(listing["items"], key=lambda app: app["metadata"]["creationTimestamp"])

    def set_state(self, app_name: str, state: str, error: str | None = None, **extra: Any) -> None:
        """Writes status.applicationState as the spark-operator does."""
        application_state = {"state": state, **({"errorMessage": error} if error else {})}
        status = {"applicationState": application_state, "driverInfo": {}, **extra}
        self.objects.patch_namespaced_custom_object_status(
            api.SPARK_GROUP,
            api.SPARK_VERSION,
            self.namespace,
            api.SPARK_APPLICATIONS,
            app_name,
            {"status": status},
            _content_type="application/merge-patch+json",
        )

    def events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about pipeline `name`, oldest first."""
        listing = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        items = sorted(listing.items, key=lambda e: e.metadata.creation_timestamp)
        return [(event.type, event.reason, event.message) for event in items]

    def names(self) -> list[str]:
        listing = self.objects.list_namespaced_custom_object(
            api.GROUP, api.VERSION, self.namespace, api.TRAINING_PIPELINES
        )
        return [item["metadata"]["name"] for item in listing["items"]]

    def delete_all(self) -> None:
        """Deletes every pipeline; finalizers left by an operator that is gone are dropped, so
        the namespace can be deleted."""
        for name in self.names():
            kubectl("delete", "trainingpipeline", name, "-n", self.namespace, "--wait=false")
        try:
            wait_for(lambda: not self.names(), timeout=10, what="pipelines to be deleted")
        except AssertionError:
            for name in self.names():
                patch = {"metadata": {"finalizers": None}}
                self.objects.patch_namespaced_custom_object(
                    api.GROUP, api.VERSION, self.namespace, api.TRAINING_PIPELINES, name, patch,
                    _content_type="application/merge-patch+json",
                )  # fmt: skip
