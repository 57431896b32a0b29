"""Objects of the Continuum kinds in one namespace, for the operator's integration tests:
TrainingPipelines with their SparkApplications, ServingDeployments with their scorer (kubectl,
polling and the operator subprocess are in localstack.harness)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from kubernetes import client

from continuum_operator.core import api
from continuum_operator.core.api import Kind
from localstack.harness import kubectl, wait_for


def managed_fields(resource: str, name: str, namespace: str) -> dict[tuple[str, str], str]:
    """(manager, subresource) → the fields it manages (as JSON), as `kubectl get -o yaml
    --show-managed-fields` shows them."""
    shown = kubectl(
        "get", resource, name, "-n", namespace, "-o", "yaml", "--show-managed-fields"
    ).stdout
    return {
        (entry["manager"], entry.get("subresource", "")): json.dumps(entry["fieldsV1"])
        for entry in yaml.safe_load(shown)["metadata"]["managedFields"]
    }


class ContinuumObjects:
    """Objects of one Continuum kind in one namespace."""

    kind: Kind

    def __init__(self, k8s_api: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.objects = client.CustomObjectsApi(k8s_api)
        self.core = client.CoreV1Api(k8s_api)

    def manifest(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": f"{api.GROUP}/{api.VERSION}",
            "kind": str(self.kind),
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }

    def apply(self, name: str, spec: dict[str, Any]) -> None:
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump(self.manifest(name, spec)))

    def get(self, name: str) -> dict[str, Any]:
        return self.objects.get_namespaced_custom_object(
            api.GROUP, api.VERSION, self.namespace, self.kind.plural, name
        )

    def status(self, name: str) -> dict[str, Any]:
        return self.get(name).get("status") or {}

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        conditions = self.status(name).get("conditions") or ()
        return next((c for c in conditions if c["type"] == type_), None)

    def events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about object `name`, oldest first."""
        listing = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        items = sorted(listing.items, key=lambda e: e.metadata.creation_timestamp)
        return [(event.type, event.reason, event.message) for event in items]

    def names(self) -> list[str]:
        listing = self.objects.list_namespaced_custom_object(
            api.GROUP, api.VERSION, self.namespace, self.kind.plural
        )
        return [item["metadata"]["name"] for item in listing["items"]]

    def delete_all(self) -> None:
        """Deletes every object; they carry no finalizer, so this needs no operator."""
        for name in self.names():
            kubectl("delete", self.kind.plural, name, "-n", self.namespace, "--wait=false")
        wait_for(lambda: not self.names(), timeout=30, what=f"{self.kind.plural} deleted")


class Pipelines(ContinuumObjects):
    """TrainingPipelines and their SparkApplications in one namespace."""

    kind = Kind.TRAINING_PIPELINE

    def runs(self, name: str) -> dict[str, dict[str, Any]]:
        """The pipeline's run history in status, by run name."""
        return {run["name"]: run for run in self.status(name).get("runs") or ()}

    def spark_applications(self) -> list[dict[str, Any]]:
        listing = self.objects.list_namespaced_custom_object(
            api.SPARK_GROUP, api.SPARK_VERSION, self.namespace, api.SPARK_APPLICATIONS
        )
        return sorted(listing["items"], key=lambda app: app["metadata"]["creationTimestamp"])

    def set_state(self, app_name: str, state: str, error: str | None = None, **extra: Any) -> None:
        """Writes status.applicationState as the spark-operator does."""
        application_state = {"state": state, **({"errorMessage": error} if error else {})}
        status = {"applicationState": application_state, "driverInfo": {}, **extra}
        self.objects.patch_namespaced_custom_object_status(
            api.SPARK_GROUP,
            api.SPARK_VERSION,
            self.namespace,
            api.SPARK_APPLICATIONS,
            app_name,
            {"status": status},
            _content_type="application/merge-patch+json",
        )


SCORER_KINDS = {
    "Deployment": ("apps", "v1", "deployments"),
    "Service": ("", "v1", "services"),
    "ServiceAccount": ("", "v1", "serviceaccounts"),
    "Role": ("rbac.authorization.k8s.io", "v1", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io", "v1", "rolebindings"),
    "PodDisruptionBudget": ("policy", "v1", "poddisruptionbudgets"),
    "Lease": ("coordination.k8s.io", "v1", "leases"),
}
"""What a ServingDeployment owns, each named <name>-scorer."""


class Servings(ContinuumObjects):
    """ServingDeployments and what they own in one namespace."""

    kind = Kind.SERVING_DEPLOYMENT

    def owned(self, name: str, kind: str) -> dict[str, Any] | None:
        """The object of `kind` the ServingDeployment `name` owns, as JSON, or None."""
        group, version, plural = SCORER_KINDS[kind]
        resource = f"{plural}.{version}.{group}" if group else plural
        done = kubectl(
            "get", resource, f"{name}-scorer", "-n", self.namespace, "-o", "json", check=False
        )
        return json.loads(done.stdout) if done.returncode == 0 else None

    def scorer(self, name: str) -> dict[str, Any] | None:
        return self.owned(name, "Deployment")

    def scorer_env(self, name: str) -> dict[str, str]:
        scorer = self.scorer(name) or {}
        [container] = scorer["spec"]["template"]["spec"]["containers"]
        return {item["name"]: item["value"] for item in container["env"] if "value" in item}

    def scorer_version(self, name: str) -> str | None:
        scorer = self.scorer(name) or {}
        template = ((scorer.get("spec") or {}).get("template") or {}).get("metadata") or {}
        return (template.get("annotations") or {}).get("continuum.ml/model-version")


class ServedModel:
    """The test's registered model, as a ServingDeployment follows it."""

    def __init__(self, mlflow_client: Any, name: str) -> None:
        self.mlflow = mlflow_client
        self.name = name

    def new_version(self) -> str:
        """Registers another version (no artifacts: nothing loads it here)."""
        source = f"s3://continuum-tests/{self.name}/model"  # never read
        return str(self.mlflow.create_model_version(self.name, source).version)

    def promote(self, version: str) -> None:
        self.mlflow.set_registered_model_alias(self.name, "champion", version)

    def champion_versions(self, count: int) -> list[str]:
        """`count` new versions, the first promoted."""
        versions = [self.new_version() for _ in range(count)]
        self.promote(versions[0])
        return versions
