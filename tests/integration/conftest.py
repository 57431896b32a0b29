"""Fixtures shared by the integration tests that run the operator: the continuum.ml CRDs applied,
the operator's deployed identity (manifests/base/rbac.yaml, not the stack's admin), and the operator
itself as a `continuum operator` subprocess; and the project's images on the real node."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from continuum_operator.core import api
from localstack.config import REPO_DIR
from localstack.harness import Operator, kubectl, operator_identity, wait_until_established


@pytest.fixture(scope="session")
def crds(stack: dict[str, str]) -> None:
    kubectl("apply", "-k", str(REPO_DIR / "crds"))
    wait_until_established(
        f"{api.TRAINING_PIPELINES}.{api.GROUP}", f"{api.SERVING_DEPLOYMENTS}.{api.GROUP}"
    )


@pytest.fixture(scope="session")
def operator_kubeconfig(
    stack: dict[str, str], crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A kubeconfig of the operator's ServiceAccount, bound to the ClusterRole of
    manifests/base/rbac.yaml: every operator test also proves that role is enough."""
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
) -> Iterator[Callable[..., Operator]]:
    """Starts `continuum operator -n NAMESPACE` as the operator's ServiceAccount (standalone, or
    with `peering=(name, priority)`); every operator started is stopped after the test."""
    started: list[Operator] = []

    def start(namespace: str, peering: tuple[str, int] | None = None) -> Operator:
        env = {**os.environ, **stack, "KUBECONFIG": str(operator_kubeconfig)}
        log = tmp_path / f"operator-{len(started)}.log"
        operator = Operator(namespace, env, log, peering)
        operator.start()
        started.append(operator)
        return operator

    yield start
    for operator in started:
        operator.stop()
