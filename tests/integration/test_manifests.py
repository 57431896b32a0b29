"""The kustomize manifests render with the stack's kubectl, and the overlay for a cluster with its
own HDFS, Kafka and MLflow yields resources the operator accepts, pointed at those services."""

from __future__ import annotations

import pytest
import yaml

from continuum_operator.serving.spec import parse_serving_deployment_spec
from continuum_operator.training.spec import parse_training_pipeline_spec
from localstack.config import REPO_DIR
from localstack.harness import kubectl

pytestmark = pytest.mark.integration

OVERLAY = REPO_DIR / "manifests" / "overlays" / "external-services"


def rendered(path: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(kubectl("kustomize", path).stdout) if doc]


def test_the_base_installs_the_api_rbac_and_the_operator(stack: dict[str, str]) -> None:
    kinds = {
        (doc["kind"], doc["metadata"]["name"]) for doc in rendered(str(REPO_DIR / "manifests"))
    }
    assert {
        ("Namespace", "continuum-system"),
        ("CustomResourceDefinition", "trainingpipelines.continuum.ml"),
        ("CustomResourceDefinition", "servingdeployments.continuum.ml"),
        ("ClusterRole", "continuum-operator"),
        ("Deployment", "continuum-operator"),
    } <= kinds


def test_the_overlay_points_the_operator_and_the_samples_at_external_services(
    stack: dict[str, str],
) -> None:
    docs = {doc["kind"]: doc for doc in rendered(str(OVERLAY))}
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["CONTINUUM_WEBHDFS_URL"].startswith("http://")
    assert container["image"].endswith("/continuum/operator:0.1.0")
    # The sample's own settings survive the overlay; only the endpoints change.
    pipeline = parse_training_pipeline_spec(docs["TrainingPipeline"]["spec"])
    serving = parse_serving_deployment_spec(docs["ServingDeployment"]["spec"])
    assert docs["TrainingPipeline"]["spec"]["data"]["uri"].startswith("hdfs://namenode.")
    assert docs["TrainingPipeline"]["spec"]["promotion"]["alias"] == "champion"
    assert docs["ServingDeployment"]["spec"]["kafka"]["topics"]["requests"] == "used-cars.requests"
    assert pipeline is not None and serving is not None
