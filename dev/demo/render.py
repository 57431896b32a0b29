"""The manifests the demo applies: `manifests/overlays/local` (the base and the samples in one
namespace, the operator watching only it) as kustomize renders it, moved into the demo's
namespace and pointed at the stack's services."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from demo.scenario import Names
from localstack.config import REPO_DIR

OVERLAY = REPO_DIR / "manifests" / "overlays" / "local"
OVERLAY_NAMESPACE = "continuum-demo"
"""The namespace the overlay puts everything in; the demo moves it into its own."""
OPERATOR = "continuum-operator"
SPARK_OPERATOR = "spark-operator-controller"
SPARK_OPERATOR_ROLE = "continuum-spark-operator"
"""The spark-operator's ClusterRole and ClusterRoleBinding (manifests/overlays/local)."""
CLUSTER_SCOPED_CUSTOM = ("ClusterKopfPeering",)
"""Cluster-wide objects of custom kinds, to which kustomize (not knowing their scope) gives the
overlay's namespace."""


@dataclass(frozen=True)
class StackAddresses:
    """Where the stack's services are, as its client environment says (`make stack-env`): the
    same addresses serve the host and the pods."""

    hdfs: str
    webhdfs: str
    mlflow: str
    kafka: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StackAddresses:
        return cls(
            hdfs=env["HDFS_URI"].rstrip("/"),
            webhdfs=env["WEBHDFS_URI"].rstrip("/"),
            mlflow=env["MLFLOW_TRACKING_URI"].rstrip("/"),
            kafka=env["KAFKA_BOOTSTRAP_SERVERS"],
        )


def _watch_only(deployment: dict[str, Any], namespace: str) -> None:
    """The namespace an operator (Continuum's, the spark-operator) watches: the demo's."""
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        container["args"] = [
            f"{arg.split('=')[0]}={namespace}"
            if arg.startswith(("--namespace=", "--namespaces="))
            else arg
            for arg in container.get("args", [])
        ]


def _operator(deployment: dict[str, Any], addresses: StackAddresses) -> None:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    for variable in container["env"]:
        if variable["name"] == "CONTINUUM_WEBHDFS_URL":
            variable["value"] = addresses.webhdfs


def _pipeline(
    spec: dict[str, Any], names: Names, addresses: StackAddresses, experiment: str
) -> None:
    spec["data"]["uri"] = f"{addresses.hdfs}{names.incoming}"
    spec["trainSetExportUri"] = f"{addresses.hdfs}{names.hdfs_root}/train-sets"
    spec["mlflow"].update(
        trackingUri=addresses.mlflow, experiment=experiment, registeredModel=names.registered_model
    )


def _serving(spec: dict[str, Any], names: Names, addresses: StackAddresses) -> None:
    spec["model"]["name"] = names.registered_model
    spec["mlflow"]["trackingUri"] = addresses.mlflow
    spec["kafka"]["bootstrapServers"] = addresses.kafka
    spec["kafka"]["topics"] = names.topics
    spec["checkpointUri"] = f"{addresses.hdfs}{names.hdfs_root}/checkpoints"


def render(
    documents: Iterable[dict[str, Any]], names: Names, addresses: StackAddresses, experiment: str
) -> list[dict[str, Any]]:
    """The overlay's objects in `names.namespace`, on the stack's services. Cluster-wide objects
    that name the operator's identity are renamed after the namespace, so each demo namespace
    has its own; the API's definitions (CRDs) are shared and left as they are."""
    cluster_roles = {OPERATOR: names.cluster_role, SPARK_OPERATOR_ROLE: names.spark_operator_role}
    rendered = []
    for original in documents:
        document = copy.deepcopy(original)
        kind, metadata = document["kind"], document["metadata"]
        if kind == "Namespace":
            metadata["name"] = names.namespace
        elif kind in CLUSTER_SCOPED_CUSTOM:
            metadata.pop("namespace", None)
        elif metadata.get("namespace") == OVERLAY_NAMESPACE:
            metadata["namespace"] = names.namespace
        if kind in ("ClusterRole", "ClusterRoleBinding") and metadata["name"] in cluster_roles:
            metadata["name"] = cluster_roles[metadata["name"]]
        if kind == "ClusterRoleBinding" and document["roleRef"]["name"] in cluster_roles:
            document["roleRef"]["name"] = cluster_roles[document["roleRef"]["name"]]
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            for subject in document["subjects"]:
                if subject.get("namespace") == OVERLAY_NAMESPACE:
                    subject["namespace"] = names.namespace
        if kind == "Deployment":
            _watch_only(document, names.namespace)
        if kind == "Deployment" and metadata["name"] == OPERATOR:
            _operator(document, addresses)
        elif kind == "TrainingPipeline":
            _pipeline(document["spec"], names, addresses, experiment)
        elif kind == "ServingDeployment":
            _serving(document["spec"], names, addresses)
        rendered.append(document)
    return rendered


def load(text: str) -> list[dict[str, Any]]:
    """kustomize's output as objects."""
    return [document for document in yaml.safe_load_all(text) if document]


def dump(documents: Iterable[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(documents), sort_keys=False)


def by_kind(documents: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [document for document in documents if document["kind"] == kind]
