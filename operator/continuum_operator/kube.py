"""The Kubernetes API as the TrainingPipeline controller uses it: read a pipeline, write its status,
and create, list and delete its SparkApplications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from continuum_operator import api

_MERGE_PATCH = "application/merge-patch+json"


class SparkOperatorMissing(Exception):
    """The cluster does not serve SparkApplications: the spark-operator is not installed."""


INSTALL_HINT = (
    "the cluster does not serve sparkapplications.sparkoperator.k8s.io/v1beta2; install the "
    "Kubeflow spark-operator: helm repo add spark-operator "
    "https://kubeflow.github.io/spark-operator && helm install spark-operator "
    "spark-operator/spark-operator --namespace spark-operator --create-namespace"
)


def owner_reference(pipeline: Mapping[str, Any]) -> dict[str, Any]:
    """Makes the pipeline the controller of a child, so deleting it garbage-collects the child."""
    metadata = pipeline["metadata"]
    return {
        "apiVersion": f"{api.GROUP}/{api.VERSION}",
        "kind": "TrainingPipeline",
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


class Kube:
    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        self._objects = client.CustomObjectsApi(api_client)

    def get_pipeline(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The pipeline as stored now, or None once it is gone."""
        try:
            return self._objects.get_namespaced_custom_object(
                api.GROUP, api.VERSION, namespace, api.TRAINING_PIPELINES, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def patch_pipeline_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self._objects.patch_namespaced_custom_object_status(
            api.GROUP,
            api.VERSION,
            namespace,
            api.TRAINING_PIPELINES,
            name,
            {"status": dict(status)},
            _content_type=_MERGE_PATCH,
        )

    def list_spark_applications(
        self, namespace: str, labels: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        try:
            listing = self._objects.list_namespaced_custom_object(
                api.SPARK_GROUP,
                api.SPARK_VERSION,
                namespace,
                api.SPARK_APPLICATIONS,
                label_selector=_selector(labels),
            )
        except ApiException as error:
            # A namespaced list of an unserved resource is a 404 "the server could not find the
            # requested resource"; RBAC problems are 403 and surface as they are.
            if error.status == 404:
                raise SparkOperatorMissing(INSTALL_HINT) from error
            raise
        return list(listing.get("items") or [])

    def create_spark_application(self, body: Mapping[str, Any]) -> bool:
        """True if created, False if one with this name exists already: the run was started
        before (deterministic names make creation idempotent)."""
        try:
            self._objects.create_namespaced_custom_object(
                api.SPARK_GROUP,
                api.SPARK_VERSION,
                body["metadata"]["namespace"],
                api.SPARK_APPLICATIONS,
                dict(body),
            )
        except ApiException as error:
            if error.status == 409:
                return False
            if error.status == 404:
                raise SparkOperatorMissing(INSTALL_HINT) from error
            raise
        return True

    def delete_spark_application(self, namespace: str, name: str) -> None:
        try:
            self._objects.delete_namespaced_custom_object(
                api.SPARK_GROUP, api.SPARK_VERSION, namespace, api.SPARK_APPLICATIONS, name
            )
        except ApiException as error:
            if error.status != 404:  # already gone is what was asked for
                raise
