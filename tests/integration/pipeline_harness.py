"""TrainingPipelines with their SparkApplications in one namespace, for the operator's integration
tests (kubectl, polling and the operator subprocess are in localstack.harness)."""

from __future__ import annotations

from typing import Any

import yaml
from continuum_operator import api
from kubernetes import client
from localstack.harness import kubectl, wait_for


class Pipelines:
    """TrainingPipelines and their SparkApplications in one namespace."""

    def __init__(self, k8s_api: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.objects = client.CustomObjectsApi(k8s_api)
        self.core = client.CoreV1Api(k8s_api)

    def apply(self, name: str, spec: dict[str, Any]) -> None:
        manifest = {
            "apiVersion": f"{api.GROUP}/{api.VERSION}",
            "kind": "TrainingPipeline",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))

    def get(self, name: str) -> dict[str, Any]:
        return self.objects.get_namespaced_custom_object(
            api.GROUP, api.VERSION, self.namespace, api.TRAINING_PIPELINES, name
        )

    def status(self, name: str) -> dict[str, Any]:
        return self.get(name).get("status") or {}

    def runs(self, name: str) -> dict[str, dict[str, Any]]:
        """The pipeline's run history in status, by run name."""
        return {run["name"]: run for run in self.status(name).get("runs") or ()}

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        conditions = self.status(name).get("conditions") or ()
        return next((c for c in conditions if c["type"] == type_), None)

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

    def events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about pipeline `name`, oldest first."""
        listing = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        items = sorted(listing.items, key=lambda e: e.metadata.creation_timestamp)
        return [(event.type, event.reason, event.message) for event in items]

    def names(self) -> list[str]:
        listing = self.objects.list_namespaced_custom_object(
            api.GROUP, api.VERSION, self.namespace, api.TRAINING_PIPELINES
        )
        return [item["metadata"]["name"] for item in listing["items"]]

    def delete_all(self) -> None:
        """Deletes every pipeline; finalizers left by an operator that is gone are dropped, so
        the namespace can be deleted."""
        for name in self.names():
            kubectl("delete", "trainingpipeline", name, "-n", self.namespace, "--wait=false")
        try:
            wait_for(lambda: not self.names(), timeout=10, what="pipelines to be deleted")
        except AssertionError:
            for name in self.names():
                patch = {"metadata": {"finalizers": None}}
                self.objects.patch_namespaced_custom_object(
                    api.GROUP, api.VERSION, self.namespace, api.TRAINING_PIPELINES, name, patch,
                    _content_type="application/merge-patch+json",
                )  # fmt: skip
