"""What the integration tests and the benchmarks share to drive the local stack: kubectl, polling,
the operator's deployed identity, and the operator as a `continuum operator` subprocess that may be
killed and restarted."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from localstack.config import REPO_DIR

SERVICE_ACCOUNT = "continuum-operator"
OPERATOR_PYTHON = REPO_DIR / ".venv-operator" / "bin" / "python"
"""The operator's own environment (`make install`): what its image holds, without Spark, pandas
or MLflow's server, so whatever runs the operator from it proves it needs nothing more."""


class KubectlError(RuntimeError):
    """A kubectl command failed; the message holds the command and what kubectl said."""


def kubectl(
    *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True, check=False, timeout=60
    )
    if check and done.returncode != 0:
        said = done.stderr.strip()[:2000] or f"exit code {done.returncode}"
        raise KubectlError(f"kubectl {' '.join(args)}: {said}")
    return done


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 30,
    what: str = "condition",
    every: float = 0.2,
    failure: type[Exception] = AssertionError,
) -> Any:
    """The predicate's first truthy value, polled every `every` s; `failure` past the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise failure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _established(crd: str) -> bool:
    done = kubectl("get", "crd", crd, "-o", "json", check=False)
    if done.returncode != 0:
        return False
    conditions = (json.loads(done.stdout).get("status") or {}).get("conditions") or ()
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def wait_until_established(*crds: str, timeout: float = 60) -> None:
    """Until every named CRD serves its resource. (`kubectl wait` fails at once instead of
    waiting while a new CRD has no conditions yet.)"""
    for crd in crds:
        wait_for(lambda crd=crd: _established(crd), timeout=timeout, what=f"CRD {crd} established")


def _cluster_role(name: str) -> dict[str, Any]:
    """The operator's ClusterRole exactly as manifests/base/rbac.yaml grants it, under `name`."""
    documents = yaml.safe_load_all((REPO_DIR / "manifests" / "base" / "rbac.yaml").read_text())
    role = next(doc for doc in documents if doc and doc["kind"] == "ClusterRole")
    return {**role, "metadata": {"name": name}}


def _token_kubeconfig(admin_kubeconfig: Path, token: str, namespace: str) -> dict[str, Any]:
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


@contextmanager
def operator_identity(
    namespace: str,
    admin_kubeconfig: Path,
    kubeconfig: Path,
    extra_objects: Sequence[Mapping[str, Any]] = (),
) -> Iterator[Path]:
    """The operator as deployed: ServiceAccount `continuum-operator` in `namespace` (which must
    exist), bound to the ClusterRole of manifests/base/rbac.yaml (named after the namespace, so
    several identities can coexist). Yields a kubeconfig with the ServiceAccount's token, written to
    `kubeconfig`. `extra_objects` are applied along; everything is deleted afterwards."""
    role_name = f"continuum-operator-{namespace}"
    objects = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace},
        },
        _cluster_role(role_name),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role_name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role_name,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}
            ],
        },
        *extra_objects,
    ]
    manifest = yaml.safe_dump_all([dict(item) for item in objects])
    kubectl("apply", "-f", "-", stdin=manifest)
    try:
        token = kubectl(
            "create", "token", SERVICE_ACCOUNT, "-n", namespace, "--duration", "4h"
        ).stdout.strip()
        kubeconfig.write_text(yaml.safe_dump(_token_kubeconfig(admin_kubeconfig, token, namespace)))
        yield kubeconfig
    finally:
        kubectl("delete", "--wait=false", "--ignore-not-found", "-f", "-", stdin=manifest)


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of the samples `name` whose labels include `labels`, in exposition text."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Operator:
    """`continuum operator -n NAMESPACE` as a subprocess that a test may kill and restart;
    standalone, or one replica among others when `peering` names their peering object and this
    replica's priority."""

    def __init__(
        self,
        namespace: str,
        env: dict[str, str],
        log: Path,
        peering: tuple[str, int] | None = None,
    ) -> None:
        self.namespace = namespace
        self.env = env
        self.log = log
        self.peering = peering
        self.liveness_port = free_port()
        self.metrics_port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if not OPERATOR_PYTHON.exists():
            raise RuntimeError(f"{OPERATOR_PYTHON} is missing: `make install` creates it")
        command = [
            str(OPERATOR_PYTHON), "-m", "continuum_operator.cli", "operator",
            "--namespace", self.namespace,
            *(
                ["--peering", self.peering[0], "--priority", str(self.peering[1])]
                if self.peering
                else ["--standalone"]
            ),
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

    def metrics(self) -> str:
        """The operator's Prometheus metrics, as exposition text. A scrape whose connection is
        reset (seen once on a loaded 2-core machine) is tried again, as Prometheus would at its
        next scrape; a dead operator fails at once, with its log."""
        for _ in range(2):
            try:
                return self._scrape()
            except ConnectionError:
                assert self.process is not None and self.process.poll() is None, (
                    self.log.read_text()
                )
                time.sleep(0.5)
        return self._scrape()

    def _scrape(self) -> str:
        with urllib.request.urlopen(self.url("metrics"), timeout=10) as response:
            return response.read().decode()

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
