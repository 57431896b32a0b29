"""The demo's footprint on the stack: what it deploys, what it reads back, and the reset that
removes all of it (its namespace, its cluster-wide identity, its HDFS directory, registered model,
experiments, topics and the scorer's consumer group), so every run starts clean."""

from __future__ import annotations

import getpass
import json
import subprocess
from collections.abc import Mapping
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic
from hdfs import InsecureClient
from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from continuum_workloads.dataset.storage import WebHdfsStore
from demo import render
from demo.scenario import Names
from localstack.harness import wait_for

GROUP, VERSION = "continuum.ml", "v1alpha1"


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why and what to look at."""


def kubectl(*args: str, stdin: str | None = None, timeout: float = 120) -> str:
    done = subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise DemoError(f"kubectl {' '.join(args)}: {done.stderr.strip()[:1500]}")
    return done.stdout


class Cluster:
    """The stack as the demo uses it, through its client environment (`make stack-env`)."""

    def __init__(self, names: Names, env: Mapping[str, str]) -> None:
        self.names = names
        self.addresses = render.StackAddresses.from_env(env)
        self.kafka = AdminClient({"bootstrap.servers": self.addresses.kafka})
        self.mlflow = MlflowClient(tracking_uri=self.addresses.mlflow)
        self.hdfs = InsecureClient(self.addresses.webhdfs, user=getpass.getuser())
        api_client = kube_config.new_client_from_config(env["KUBECONFIG"])
        self.objects = client.CustomObjectsApi(api_client)
        self.apps = client.AppsV1Api(api_client)

    @property
    def store(self) -> WebHdfsStore:
        return WebHdfsStore(self.hdfs)

    # --- deploy -------------------------------------------------------------------------------

    def manifests(self, experiment: str) -> list[dict[str, Any]]:
        overlay = render.load(kubectl("kustomize", str(render.OVERLAY)))
        return render.render(overlay, self.names, self.addresses, experiment)

    def create_topics(self) -> None:
        topics = [NewTopic(topic, 1, 1) for topic in self.names.topics.values()]
        for future in self.kafka.create_topics(topics, operation_timeout=30).values():
            future.result(timeout=60)

    def deploy(self, documents: list[dict[str, Any]]) -> None:
        """Applies the operator (a pod) and what it needs; the pipeline and the scorer come
        later, with `apply_samples`, once the operator runs."""
        definitions = render.by_kind(documents, "CustomResourceDefinition")
        kubectl("apply", "-f", "-", stdin=render.dump(definitions))
        for definition in definitions:
            kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    f"crd/{definition['metadata']['name']}")  # fmt: skip
        later = {"CustomResourceDefinition", "TrainingPipeline", "ServingDeployment"}
        now = (d for d in documents if d["kind"] not in later)
        kubectl("apply", "-f", "-", stdin=render.dump(now))

    def apply_samples(self, documents: list[dict[str, Any]]) -> None:
        kinds = ("TrainingPipeline", "ServingDeployment")
        kubectl("apply", "-f", "-", stdin=render.dump(d for d in documents if d["kind"] in kinds))

    # --- read back ----------------------------------------------------------------------------

    def _status(self, plural: str, name: str) -> dict[str, Any]:
        try:
            found = self.objects.get_namespaced_custom_object(
                GROUP, VERSION, self.names.namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return {}
            raise
        return found.get("status") or {}

    def pipeline(self) -> dict[str, Any]:
        return self._status("trainingpipelines", self.names.pipeline)

    def serving(self) -> dict[str, Any]:
        return self._status("servingdeployments", self.names.serving)

    def operators_ready(self) -> bool:
        """Continuum's operator and the spark-operator both have a Ready pod."""
        return all(self._available(name) for name in (render.OPERATOR, render.SPARK_OPERATOR))

    def _available(self, deployment_name: str) -> bool:
        try:
            deployment = self.apps.read_namespaced_deployment_status(
                deployment_name, self.names.namespace
            )
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return bool(deployment.status.available_replicas)

    def pods(self, selector: str) -> list[dict[str, Any]]:
        listing = json.loads(
            kubectl("get", "pods", "-n", self.names.namespace, "-o", "json", "-l", selector)
        )
        return listing["items"]

    def scorer_pods(self) -> list[dict[str, Any]]:
        return self.pods("app.kubernetes.io/name=continuum-scorer")

    def table(self) -> str:
        """`kubectl get tp,sd` in the demo's namespace, as a user sees it."""
        return kubectl("get", "tp,sd", "-n", self.names.namespace, "-o", "wide")

    def champion(self) -> str | None:
        try:
            model = self.mlflow.get_registered_model(self.names.registered_model)
        except MlflowException:
            return None
        return (model.aliases or {}).get("champion")

    # --- reset ------------------------------------------------------------------------------

    def remove_deployment(self) -> None:
        """Stops what runs (the operators and the scorer, with the demo's namespace); its data
        (HDFS, MLflow, topics) stays for a look until the next run resets it."""
        kubectl("delete", "namespace", self.names.namespace, "--ignore-not-found", "--wait=true",
                timeout=300)  # fmt: skip
        for role in (self.names.cluster_role, self.names.spark_operator_role):
            kubectl("delete", "clusterrolebinding,clusterrole", role, "--ignore-not-found")

    def reset(self) -> None:
        """Removes everything a previous run (or this one) left; harmless when nothing is."""
        names = self.names
        self.remove_deployment()
        self.hdfs.delete(names.hdfs_root, recursive=True)
        try:
            self.mlflow.delete_registered_model(names.registered_model)
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
        for experiment in self.mlflow.search_experiments(
            filter_string=f"name LIKE '{names.experiment_prefix}%'"
        ):
            self.mlflow.delete_experiment(experiment.experiment_id)
        self._delete_topics()

    def _delete_topics(self) -> None:
        wanted = set(self.names.topics.values())
        present = wanted & set(self.kafka.list_topics(timeout=30).topics)
        if present:
            for future in self.kafka.delete_topics(sorted(present), operation_timeout=30).values():
                future.result(timeout=60)
            wait_for(
                lambda: not wanted & set(self.kafka.list_topics(timeout=30).topics),
                timeout=60,
                what="the demo's topics deleted",
                every=1.0,
                failure=DemoError,
            )
        groups = self.kafka.list_consumer_groups().result(timeout=30).valid
        if any(group.group_id == self.names.consumer_group for group in groups):
            for future in self.kafka.delete_consumer_groups([self.names.consumer_group]).values():
                future.result(timeout=60)
