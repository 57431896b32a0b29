"""Fixtures for the operator's integration tests: a namespace the spark-operator stand-in leaves
alone (the tests play the spark-operator themselves), the operator limited to that namespace, and
the pipelines and registered model a test works with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from localstack.harness import Operator
from localstack.spark_standin import SKIP_LABEL
from pipeline_harness import Pipelines


@pytest.fixture
def tp_namespace(k8s_api: client.ApiClient, namespace: str, crds: None) -> str:
    client.CoreV1Api(k8s_api).patch_namespace(namespace, {"metadata": {"labels": SKIP_LABEL}})
    return namespace


@pytest.fixture
def operator(tp_namespace: str, start_operator: Callable[..., Operator]) -> Operator:
    return start_operator(tp_namespace)


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
