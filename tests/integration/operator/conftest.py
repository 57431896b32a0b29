"""Fixtures for the operator's integration tests: a namespace the spark-operator stand-in leaves
alone (the tests play the spark-operator themselves), the operator limited to that namespace, and
the pipelines and registered model a test works with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from pipeline_harness import Pipelines, ServedModel, Servings

from localstack.harness import Operator
from localstack.kubernetes import FAKE_NODES_ONLY
from localstack.spark_standin import SKIP_LABEL


def leave_to_the_tests(k8s_api: client.ApiClient, namespace: str, fake_nodes: bool = True) -> None:
    """Makes the spark-operator stand-in skip `namespace`: the tests play the spark-operator.
    With `fake_nodes` the namespace's pods run on kwok's fake nodes (the scorer pods of most
    tests have no image); without, on the real node."""
    metadata: dict[str, Any] = {"labels": SKIP_LABEL}
    if fake_nodes:
        metadata["annotations"] = FAKE_NODES_ONLY
    client.CoreV1Api(k8s_api).patch_namespace(namespace, {"metadata": metadata})


@pytest.fixture
def tp_namespace(k8s_api: client.ApiClient, namespace: str, crds: None) -> str:
    leave_to_the_tests(k8s_api, namespace)
    return namespace


@pytest.fixture
def other_tp_namespace(k8s_api: client.ApiClient, crds: None) -> Iterator[str]:
    """A second namespace like `tp_namespace`, deleted after the test."""
    core = client.CoreV1Api(k8s_api)
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    leave_to_the_tests(k8s_api, name)
    yield name
    core.delete_namespace(name)


@pytest.fixture
def node_namespace(k8s_api: client.ApiClient, namespace: str, crds: None) -> str:
    """Like `tp_namespace`, but its pods run on the real node."""
    leave_to_the_tests(k8s_api, namespace, fake_nodes=False)
    return namespace


@pytest.fixture
def operator(tp_namespace: str, start_operator: Callable[..., Operator]) -> Operator:
    return start_operator(tp_namespace)


@pytest.fixture
def pipelines(k8s_api: client.ApiClient, tp_namespace: str) -> Iterator[Pipelines]:
    """The test's pipelines, deleted after the test."""
    namespace_pipelines = Pipelines(k8s_api, tp_namespace)
    yield namespace_pipelines
    namespace_pipelines.delete_all()


@pytest.fixture
def servings(k8s_api: client.ApiClient, tp_namespace: str) -> Iterator[Servings]:
    """The test's ServingDeployments, deleted after the test."""
    namespace_servings = Servings(k8s_api, tp_namespace)
    yield namespace_servings
    namespace_servings.delete_all()


@pytest.fixture
def registered_model(mlflow_client: Any) -> Iterator[str]:
    name = f"test-model-{uuid.uuid4().hex[:8]}"
    mlflow_client.create_registered_model(name)
    yield name
    mlflow_client.delete_registered_model(name)


@pytest.fixture
def valid_spec(stack: dict[str, str]) -> dict[str, Any]:
    """A minimal valid spec pointing at the local stack's HDFS and MLflow."""
    return {
        "data": {"uri": f"{stack['HDFS_URI']}/data", "pollInterval": "1s"},
        "training": {"image": "continuum/training:test", "sparkVersion": "4.2.0"},
        "mlflow": {"trackingUri": stack["MLFLOW_TRACKING_URI"], "registeredModel": "m"},
    }


@pytest.fixture
def watching_hdfs_dir(valid_spec: dict[str, Any], stack: dict[str, str], hdfs_dir: str) -> dict:
    """The valid spec, listing the test's HDFS directory every second."""
    return {**valid_spec, "data": {"uri": f"{stack['HDFS_URI']}{hdfs_dir}", "pollInterval": "1s"}}


@pytest.fixture
def serving_spec(stack: dict[str, str], registered_model: str) -> dict[str, Any]:
    """A ServingDeployment of the test's model on the local stack's MLflow and Kafka, polling
    the registry every second."""
    return {
        "model": {"name": registered_model},
        "mlflow": {"trackingUri": stack["MLFLOW_TRACKING_URI"], "pollInterval": "1s"},
        "kafka": {
            "bootstrapServers": stack["KAFKA_BOOTSTRAP_SERVERS"],
            "topics": {"requests": "requests", "predictions": "predictions", "deadLetter": "dead"},
        },
        "image": "continuum/serving:test",
        "checkpointUri": f"{stack['HDFS_URI']}/checkpoints/{registered_model}",
    }


@pytest.fixture
def model(mlflow_client: Any, registered_model: str) -> ServedModel:
    return ServedModel(mlflow_client, registered_model)
