"""The stack's real node: pods really run there, readiness comes from their probes (not from
kwok), `kubectl logs` and `exec` reach them, and stopping the node leaves the host as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from localstack import hoststate
from localstack.config import REPO_DIR, StackConfig
from localstack.node import NODE_NAME, RealNode
from localstack.oci import static_binary_image
from localstack.process import wait_for

BUSYBOX_IMAGE = "localhost/continuum/busybox:test"


@pytest.fixture(scope="module")
def real_node(stack: dict[str, str], stack_config: StackConfig) -> RealNode:
    if not stack_config.real_node:
        pytest.fail("these tests need the real node: unset CONTINUUM_REAL_NODE=0")
    return RealNode(stack_config)


@pytest.fixture(scope="module")
def busybox(real_node: RealNode, tmp_path_factory: pytest.TempPathFactory) -> str:
    archive = tmp_path_factory.mktemp("images") / "busybox.tar"
    archive.write_bytes(static_binary_image(Path("/bin/busybox"), "/bin/busybox", BUSYBOX_IMAGE))
    real_node.load_image(archive)
    return BUSYBOX_IMAGE


def busybox_pod(name: str, image: str, script: str, probe: list[str]) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            termination_grace_period_seconds=2,
            containers=[
                client.V1Container(
                    name="main",
                    image=image,
                    image_pull_policy="Never",
                    command=["/bin/busybox", "sh", "-c", script],
                    readiness_probe=client.V1Probe(
                        _exec=client.V1ExecAction(command=probe),
                        period_seconds=1,
                        failure_threshold=1,
                    ),
                )
            ],
        ),
    )


def ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, check=False)


def test_a_pods_readiness_comes_from_its_probe_and_logs_and_exec_reach_it(
    k8s_api, namespace, busybox
):
    core = client.CoreV1Api(k8s_api)
    pod = busybox_pod(
        "probed",
        busybox,
        "echo started on the real node; trap 'exit 0' TERM; while true; do sleep 1; done",
        ["/bin/busybox", "test", "-f", "/tmp/ready"],
    )
    core.create_namespaced_pod(namespace, pod)

    def probe_failed() -> str | None:
        events = core.list_namespaced_event(
            namespace, field_selector="involvedObject.name=probed,reason=Unhealthy"
        ).items
        return None if events else "no failed readiness probe yet"

    # The kubelet ran the probe and it failed: the pod runs on the real node and is not Ready.
    assert wait_for(probe_failed, 60) is None
    running = core.read_namespaced_pod("probed", namespace)
    assert running.spec.node_name == NODE_NAME
    assert running.status.phase == "Running"
    assert not ready(running), "Ready before its probe passed: something else marks pods Ready"

    logs = kubectl("logs", "-n", namespace, "probed")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.strip() == "started on the real node"

    touched = kubectl(
        "exec", "-n", namespace, "probed", "--", "/bin/busybox", "touch", "/tmp/ready"
    )
    assert touched.returncode == 0, touched.stderr

    def became_ready() -> str | None:
        return None if ready(core.read_namespaced_pod("probed", namespace)) else "not Ready"

    assert wait_for(became_ready, 30) is None
    assert running.status.pod_ip.startswith("10.88.")


def web_deployment(image: str, version: str) -> client.V1Deployment:
    """Two replicas that turn Ready two seconds after they start, by their exec probe."""
    labels = {"app": "web"}
    container = client.V1Container(
        name="web",
        image=image,
        image_pull_policy="Never",
        command=["/bin/busybox", "sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 3600"],
        env=[client.V1EnvVar(name="VERSION", value=version)],
        readiness_probe=client.V1Probe(
            _exec=client.V1ExecAction(command=["/bin/busybox", "test", "-f", "/tmp/ready"]),
            period_seconds=1,
        ),
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels=labels),
            strategy=client.V1DeploymentStrategy(
                type="RollingUpdate",
                rolling_update=client.V1RollingUpdateDeployment(max_surge=1, max_unavailable=0),
            ),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[container], termination_grace_period_seconds=1),
            ),
        ),
    )


def test_a_rolling_update_of_real_pods_keeps_two_available(k8s_api, namespace, busybox):
    apps = client.AppsV1Api(k8s_api)
    apps.create_namespaced_deployment(namespace, web_deployment(busybox, "1"))

    def rolled_out() -> str | None:
        deployment = apps.read_namespaced_deployment("web", namespace)
        status = deployment.status
        done = (
            status.observed_generation == deployment.metadata.generation
            and status.updated_replicas == status.available_replicas == status.replicas == 2
        )
        return None if done else f"rolling: {status.updated_replicas} updated"

    assert wait_for(rolled_out, 90) is None
    apps.patch_namespaced_deployment("web", namespace, web_deployment(busybox, "2"))
    available = []
    while rolled_out() is not None:
        status = apps.read_namespaced_deployment("web", namespace).status
        available.append(status.available_replicas or 0)
        assert len(available) < 3000, "the rollout did not finish"
        time.sleep(0.05)

    assert min(available) >= 2, f"available replicas dropped during the rollout: {available}"
    pods = client.CoreV1Api(k8s_api).list_namespaced_pod(namespace, label_selector="app=web")
    current = [p for p in pods.items if p.metadata.deletion_timestamp is None]
    assert {p.spec.node_name for p in current} == {NODE_NAME}
    assert {p.spec.containers[0].env[0].value for p in current} == {"2"}


def test_status_shows_the_node_and_its_runtime(real_node, stack_config):
    result = subprocess.run(
        [sys.executable, "-m", "localstack", "status"],
        cwd=REPO_DIR,
        env={**os.environ, "PYTHONPATH": str(REPO_DIR / "dev")},
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("real node"))
    version = stack_config.versions
    assert f"{NODE_NAME} " in line
    assert f"kubelet v{version['KUBE_VERSION']}" in line
    assert f"containerd://{version['CONTAINERD_VERSION']}" in line
    assert "node         running  healthy" in result.stdout


@pytest.fixture
def stopped_node(real_node: RealNode) -> Iterator[RealNode]:
    """The node stopped for the test, and started again (Ready) after it."""
    real_node.stop()
    yield real_node
    real_node.start()
    assert wait_for(real_node.health, 120) is None


@pytest.fixture
def host_without_kubelet_traces(stopped_node: RealNode) -> Iterator[RealNode]:
    """The stopped node, on a host cleared of kubelet's chains and `kernel.panic` for the test
    and put back as it was found after it.

    A node killed without its stop (a machine shut down under it) leaves them on the host, and
    the next start records them as the host's own; the node then has nothing left to change.
    """
    found = stopped_node.host_snapshot()
    clean = hoststate.HostState.from_json(found.to_json())
    clean.sysctls["kernel/panic"] = "0"
    clean.iptables = {
        family: {
            table: "\n".join(rule for rule in rules.splitlines() if "KUBE-" not in rule)
            for table, rules in tables.items()
        }
        for family, tables in found.iptables.items()
    }
    assert hoststate.restore(clean, owned_link_prefixes=()) == []
    yield stopped_node
    stopped_node.stop()
    assert hoststate.restore(found, owned_link_prefixes=()) == []


def test_up_then_down_leaves_the_host_as_it_was(host_without_kubelet_traces: RealNode):
    node = host_without_kubelet_traces
    before = node.host_snapshot()
    node.start()
    assert wait_for(node.health, 120) is None
    running = node.host_snapshot()
    changed = hoststate.differences(before, running)
    # The snapshot sees what the node changes: kubelet's kernel settings, chains, mounts.
    assert any("kernel/panic" in line for line in changed), changed
    assert any("KUBE-" in line for line in changed), changed

    node.stop()
    assert hoststate.differences(before, node.host_snapshot()) == []
