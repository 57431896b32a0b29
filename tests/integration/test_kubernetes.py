"""The stack's Kubernetes is real: Deployments roll out on kwok's fake nodes (for pods that
tolerate their taint), CRDs serve objects. Pods that really run: test_real_node.py."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kubernetes import client

WEB_LABELS = {"app": "web"}
FAKE_NODE_TOLERATION = client.V1Toleration(
    key="kwok.x-k8s.io/node", operator="Equal", value="fake", effect="NoSchedule"
)


def web_deployment(version: str) -> client.V1Deployment:
    container = client.V1Container(
        name="web",
        image="registry.example/web:1",
        env=[client.V1EnvVar(name="VERSION", value=version)],
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels=WEB_LABELS),
            strategy=client.V1DeploymentStrategy(
                type="RollingUpdate",
                rolling_update=client.V1RollingUpdateDeployment(max_surge=1, max_unavailable=0),
            ),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=WEB_LABELS),
                spec=client.V1PodSpec(
                    containers=[container],
                    node_selector={"type": "kwok"},
                    tolerations=[FAKE_NODE_TOLERATION],
                ),
            ),
        ),
    )


def rolled_out(deployment: client.V1Deployment) -> bool:
    status = deployment.status
    return (
        status.observed_generation == deployment.metadata.generation
        and status.updated_replicas == 2
        and status.available_replicas == 2
        and status.replicas == 2
    )


def test_deployment_rolls_out_and_never_drops_below_two_available(k8s_api, namespace):
    apps = client.AppsV1Api(k8s_api)
    apps.create_namespaced_deployment(namespace, web_deployment("1"))
    deadline = time.monotonic() + 60
    while not rolled_out(apps.read_namespaced_deployment("web", namespace)):
        assert time.monotonic() < deadline, "the first rollout did not complete in 60 s"
        time.sleep(0.2)

    apps.patch_namespaced_deployment("web", namespace, web_deployment("2"))
    available: list[int] = []
    deadline = time.monotonic() + 60
    while True:
        deployment = apps.read_namespaced_deployment("web", namespace)
        available.append(deployment.status.available_replicas or 0)
        if rolled_out(deployment):
            break
        assert time.monotonic() < deadline, f"the rollout stalled: {deployment.status}"
        time.sleep(0.05)

    replica_sets = apps.list_namespaced_replica_set(namespace, label_selector="app=web").items
    by_version = {rs.spec.template.spec.containers[0].env[0].value: rs for rs in replica_sets}
    assert set(by_version) == {"1", "2"}, "the template change did not create a new ReplicaSet"
    assert by_version["2"].status.ready_replicas == 2
    assert (by_version["1"].spec.replicas or 0) == 0
    assert min(available) >= 2, f"available replicas dropped during the rollout: {available}"
    pods = client.CoreV1Api(k8s_api).list_namespaced_pod(namespace, label_selector="app=web")
    assert {p.spec.node_name for p in pods.items} <= {"node-000000", "node-000001"}


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.stacktest.continuum.ml
spec:
  group: stacktest.continuum.ml
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer, minimum: 1}
      additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
"""


def kubectl(*args: str) -> str:
    result = subprocess.run(["kubectl", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def test_crd_applied_with_kubectl_serves_custom_objects(stack, namespace, tmp_path: Path):
    (tmp_path / "crd.yaml").write_text(CRD)
    (tmp_path / "widget.yaml").write_text(
        "apiVersion: stacktest.continuum.ml/v1\nkind: Widget\n"
        "metadata: {name: sprocket}\nspec: {size: 3}\n"
    )
    kubectl("apply", "-f", str(tmp_path / "crd.yaml"))
    try:
        kubectl("wait", "--for=condition=Established", "--timeout=30s",
                "crd/widgets.stacktest.continuum.ml")  # fmt: skip
        kubectl("apply", "-n", namespace, "-f", str(tmp_path / "widget.yaml"))
        listing = kubectl("get", "widgets", "-n", namespace)
        header, row = listing.splitlines()
        assert header.split() == ["NAME", "SIZE", "AGE"]
        assert row.split()[:2] == ["sprocket", "3"]
        invalid = subprocess.run(
            ["kubectl", "apply", "-n", namespace, "-f", "-"],
            input="apiVersion: stacktest.continuum.ml/v1\nkind: Widget\n"
            "metadata: {name: broken}\nspec: {size: 0}\n",
            capture_output=True,
            text=True,
            check=False,
        )
        assert invalid.returncode != 0 and "spec.size" in invalid.stderr
    finally:
        kubectl("delete", "--wait=false", "-f", str(tmp_path / "crd.yaml"))
