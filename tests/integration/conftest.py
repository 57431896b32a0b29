"""Fixtures shared by the integration tests that run the operator: the continuum.ml CRDs applied,
the operator's deployed identity (manifests/rbac.yaml, not the stack's admin), and the operator
itself as a `continuum operator` subprocess."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from continuum_operator import api
from localstack.config import REPO_DIR
from localstack.harness import Operator, kubectl, operator_identity


@pytest.fixture(scope="session")
def crds(stack: dict[str, str]) -> None:
    kubectl("apply", "-k", str(REPO_DIR / "crds"))
    kubectl(
        "wait",
        "--for=condition=Established",
        f"crd/{api.TRAINING_PIPELINES}.{api.GROUP}",
        f"crd/{api.SERVING_DEPLOYMENTS}.{api.GROUP}",
    )


@pytest.fixture(scope="session")
def operator_kubeconfig(
    stack: dict[str, str], crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A kubeconfig of the operator's ServiceAccount, bound to the ClusterRole of
    manifests/rbac.yaml: every operator test also proves that role is enough."""
    namespace = f"t-operator-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    try:
        kubeconfig = tmp_path_factory.mktemp("operator") / "kubeconfig"
        with operator_identity(namespace, Path(stack["KUBECONFIG"]), kubeconfig) as path:
            yield path
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.fixture
def start_operator(
    stack: dict[str, str], operator_kubeconfig: Path, tmp_path: Path
) -> Iterator[Callable[[str], Operator]]:
    """Starts `continuum operator -n NAMESPACE` as the operator's ServiceAccount; every operator
    started is stopped after the test."""
    started: list[Operator] = []

    def start(namespace: str) -> Operator:
        env = {
            **os.environ,
            **stack,
            "KUBECONFIG": str(operator_kubeconfig),
            "PYTHONPATH": str(REPO_DIR / "operator"),
        }
        operator = Operator(namespace, env, tmp_path / f"operator-{namespace}.log")
        operator.start()
        started.append(operator)
        return operator

    yield start
    for operator in started:
        operator.stop()
