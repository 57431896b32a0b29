"""The Kubernetes API as the controllers use it: read an object of a Continuum kind and write its
status; create, list and delete SparkApplications; read Secrets and Deployments; apply the objects
a ServingDeployment owns (server-side apply).

Every write names the operator as its field manager (`continuum-operator`), so managedFields, and
GitOps tools reading them, show which fields the operator owns: the status, and the objects it
creates.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from continuum_operator.core import api
from continuum_operator.core.api import Kind

FIELD_MANAGER = "continuum-operator"
_MERGE_PATCH = "application/merge-patch+json"
_APPLY_PATCH = "application/apply-patch+yaml"


class SparkOperatorMissing(Exception):
    """The cluster does not serve SparkApplications: the spark-operator is not installed."""


INSTALL_HINT = (
    "the cluster does not serve sparkapplications.sparkoperator.k8s.io/v1beta2; install the "
    "Kubeflow spark-operator: helm repo add spark-operator "
    "https://kubeflow.github.io/spark-operator && helm install spark-operator "
    "spark-operator/spark-operator --namespace spark-operator --create-namespace"
)


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """Makes `owner` (an object as read from the API) the controller of a child, so deleting it
    garbage-collects the child."""
    metadata = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def describe(error: BaseException) -> str:
    """One line saying what failed, for a condition's message: the API server's own message for
    an API error, else the exception."""
    if isinstance(error, ApiException):
        try:
            said = json.loads(error.body or "{}").get("message")
        except (ValueError, AttributeError):
            said = None
        return f"Kubernetes API {error.status} {error.reason}: {said or error.body or ''}".strip()
    return f"{type(error).__name__}: {error}"


def _selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


class Kube:
    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        self._objects = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._apps = client.AppsV1Api(api_client)
        rbac = client.RbacAuthorizationV1Api(api_client)
        # What `apply` can write: kind → the typed client's namespaced patch method.
        self._patchers = {
            "Deployment": self._apps.patch_namespaced_deployment,
            "Service": self._core.patch_namespaced_service,
            "ServiceAccount": self._core.patch_namespaced_service_account,
            "Role": rbac.patch_namespaced_role,
            "RoleBinding": rbac.patch_namespaced_role_binding,
            "PodDisruptionBudget": client.PolicyV1Api(
                api_client
            ).patch_namespaced_pod_disruption_budget,
            "Lease": client.CoordinationV1Api(api_client).patch_namespaced_lease,
        }

    def apply(self, body: Mapping[str, Any]) -> None:
        """Server-side apply of an object the operator owns: created if missing, else brought to
        `body` for the fields it names; fields other managers own are left alone. Forced: a
        field someone edited by hand returns to what the operator wants."""
        metadata = body["metadata"]
        self._patchers[body["kind"]](
            metadata["name"],
            metadata["namespace"],
            dict(body),
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=_APPLY_PATCH,
            _preload_content=False,
        )

    def deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            response = self._apps.read_namespaced_deployment(
                name, namespace, _preload_content=False
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return json.loads(response.data)

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's keys and decoded values, or None when it does not exist."""
        try:
            response = self._core.read_namespaced_secret(name, namespace, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        data = json.loads(response.data).get("data") or {}
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as stored now, or None once it is gone."""
        try:
            return self._objects.get_namespaced_custom_object(
                api.GROUP, api.VERSION, namespace, kind.plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def patch_status(
        self, kind: Kind, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        self._objects.patch_namespaced_custom_object_status(
            api.GROUP,
            api.VERSION,
            namespace,
            kind.plural,
            name,
            {"status": dict(status)},
            field_manager=FIELD_MANAGER,
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
                field_manager=FIELD_MANAGER,
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
