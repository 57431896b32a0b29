"""Fixtures for the operator's integration tests: the continuum.ml CRDs applied, a namespace the
spark-operator stand-in leaves alone (the tests play the spark-operator themselves), and the
operator itself as a `continuum operator` subprocess limited to that namespace."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from continuum_operator import api
from kubernetes import client
from pipeline_harness import REPO, STANDIN_SKIP_LABEL, Operator, Pipelines, kubectl


@pytest.fixture(scope="session")
def crds(stack: dict[str, str]) -> None:
    kubectl("apply", "-k", str(REPO / "crds"))
    kubectl(
        "wait",
        "--for=condition=Established",
        f"crd/{api.TRAINING_PIPELINES}.{api.GROUP}",
        f"crd/{api.SERVING_DEPLOYMENTS}.{api.GROUP}",
    )


@pytest.fixture
def tp_namespace(k8s_api: client.ApiClient, namespace: str, crds: None) -> str:
    client.CoreV1Api(k8s_api).patch_namespace(
        namespace, {"metadata": {"labels": STANDIN_SKIP_LABEL}}
    )
    return namespace


@pytest.fixture
def operator(tp_namespace: str, stack: dict[str, str], tmp_path: Path) -> Iterator[Operator]:
    env = {**os.environ, **stack, "PYTHONPATH": str(REPO / "operator")}
    running = Operator(tp_namespace, env, tmp_path / "operator.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def pipelines(k8s_api: client.ApiClient, tp_namespace: str) -> Iterator[Pipelines]:
    """Request it after `operator`, so it is torn down first, while the operator still runs."""
    namespace_pipelines = Pipelines(k8s_api, tp_namespace)
    yield namespace_pipelines
    namespace_pipelines.delete_all()


@pytest.fixture
def registered_model(mlflow_client: Any) -> Iterator[str]:
    name = f"test-model-{uuid.uuid4().hex[:8]}"
    mlflow_client.create_registered_model(name)
    yield name
    mlflow_client.delete_registered_model(name)
