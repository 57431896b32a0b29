"""The ServingDeployment controller against the local stack's API server (with its controllers:
Deployments roll, garbage collection runs) and MLflow.

The stack's nodes are kwok's: pods become Ready as soon as they are scheduled, so these tests show
what the operator asks of Kubernetes and how it follows a rollout, not that the scorer's pods
really start. test_serving_on_node.py runs them on the real node: a rollout under a stream of
requests, and rollbacks of pods that never become Ready.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from pipeline_harness import SCORER_KINDS, ServedModel, Servings, managed_fields

from continuum_operator.serving import webhook
from continuum_workloads.contract import ServingConfig
from localstack.harness import Operator, free_port, kubectl, metric_sum, wait_for


def ready(servings: Servings, name: str) -> dict[str, Any] | None:
    condition = servings.condition(name, "Ready")
    return condition if condition and condition["status"] == "True" else None


def serving_version(servings: Servings, name: str, version: str) -> dict[str, Any] | None:
    status = servings.status(name)
    return status if status.get("servingVersion") == version and ready(servings, name) else None


class AvailabilitySampler:
    """Reads the scorer Deployment's available replicas in a thread until stopped."""

    def __init__(self, servings: Servings, name: str) -> None:
        self.apps = client.AppsV1Api(servings.objects.api_client)
        self.namespace, self.name = servings.namespace, f"{name}-scorer"
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> AvailabilitySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            status = self.apps.read_namespaced_deployment_status(self.name, self.namespace).status
            self.samples.append(status.available_replicas or 0)
            time.sleep(0.05)


def reasons(servings: Servings, name: str) -> list[str]:
    return [reason for _, reason, _ in servings.events(name)]


def test_a_serving_deployment_runs_the_champion_and_rolls_forward_when_the_alias_moves(
    operator: Operator,
    servings: Servings,
    serving_spec: dict[str, Any],
    model: ServedModel,
) -> None:
    first, second = model.champion_versions(2)
    servings.apply("cars", {**serving_spec, "replicas": 2})

    status = wait_for(lambda: serving_version(servings, "cars", first), what="version 1 serving")
    assert status["phase"] == "Serving"
    assert status["targetVersion"] == first
    assert status["availableReplicas"] == 2
    assert status["rollouts"][0]["toVersion"] == first
    assert status["rollouts"][0]["result"] == "Succeeded"
    assert "fromVersion" not in status["rollouts"][0]
    body = servings.get("cars")
    assert status["observedGeneration"] == body["metadata"]["generation"]

    # Every child exists, owned by the ServingDeployment: deleting it collects them.
    for kind in SCORER_KINDS:
        child = servings.owned("cars", kind)
        assert child is not None, kind
        [owner] = child["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "ServingDeployment", body["metadata"]["uid"], True,
        ), kind  # fmt: skip
    scorer = servings.scorer("cars")
    assert scorer is not None
    assert scorer["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert scorer["spec"]["progressDeadlineSeconds"] == 600
    config = ServingConfig.from_env(servings.scorer_env("cars"))
    assert config.model_uri == f"models:/{model.name}/{first}"
    assert config.transactional_id == f"continuum-{servings.namespace}-cars"

    table = kubectl("get", "sd", "cars", "-n", servings.namespace).stdout.splitlines()
    assert table[0].split() == [
        "NAME", "MODEL", "SERVING", "TARGET", "PHASE", "AVAILABLE", "READY", "AGE",
    ]  # fmt: skip
    assert table[1].split()[:7] == ["cars", model.name, first, first, "Serving", "2", "True"]
    waited = kubectl(
        "wait", "--for=condition=Ready", "sd/cars", "-n", servings.namespace, "--timeout=30s"
    )
    assert waited.returncode == 0

    # The alias moves: the pods roll to the new version, the history records it, and the
    # Deployment never has fewer available pods than desired while it rolls (sampled).
    with AvailabilitySampler(servings, "cars") as available:
        model.promote(second)
        wait_for(lambda: servings.scorer_version("cars") == second, what="the Deployment patched")
        status = wait_for(
            lambda: serving_version(servings, "cars", second), what="version 2 serving"
        )
    assert len(available.samples) >= 3
    assert min(available.samples) >= 2, available.samples
    assert [(r["toVersion"], r.get("fromVersion"), r["result"]) for r in status["rollouts"]] == [
        (second, first, "Succeeded"),
        (first, None, "Succeeded"),
    ]
    assert ServingConfig.from_env(servings.scorer_env("cars")).model_version == second
    wait_for(lambda: reasons(servings, "cars").count("RolloutSucceeded") == 2, what="Events")
    events = reasons(servings, "cars")
    assert events.count("RolloutStarted") == 2
    assert "Created" in events

    kubectl("delete", "sd", "cars", "-n", servings.namespace, "--wait=true", "--timeout=60s")
    for kind in SCORER_KINDS:
        wait_for(lambda kind=kind: servings.owned("cars", kind) is None, timeout=60, what=kind)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, body, {**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def alias_delivery(model: str, version: str) -> bytes:
    payload = {
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": "2026-03-02T12:00:00+00:00",
        "data": {"name": model, "alias": "champion", "version": version},
    }
    return json.dumps(payload).encode()


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    """Headers as MLflow 3 signs a delivery."""
    delivery, timestamp = str(uuid.uuid4()), str(int(time.time()))
    return {
        webhook.DELIVERY_ID_HEADER: delivery,
        webhook.TIMESTAMP_HEADER: timestamp,
        webhook.SIGNATURE_HEADER: webhook.signature(secret, delivery, timestamp, body),
    }


@pytest.fixture
def webhook_operator(
    monkeypatch: pytest.MonkeyPatch,
    tp_namespace: str,
    start_operator: Callable[..., Operator],
) -> tuple[Operator, str, str]:
    """The operator with its webhook endpoint on: (operator, endpoint URL, secret)."""
    secret, port = uuid.uuid4().hex, free_port()
    monkeypatch.setenv("CONTINUUM_WEBHOOK_SECRET", secret)
    monkeypatch.setenv("CONTINUUM_WEBHOOK_PORT", str(port))
    operator = start_operator(tp_namespace)
    return operator, f"http://127.0.0.1:{port}{webhook.PATH}", secret


@pytest.fixture
def mlflow_webhook(mlflow_client: Any) -> Iterator[Callable[[str, str], str]]:
    """`continuum webhook register` with the given endpoint and secret; the webhook is deleted
    afterwards (MLflow would keep calling a port that is gone)."""
    registered: list[str] = []

    def register(url: str, secret: str) -> str:
        name = f"continuum-test-{uuid.uuid4().hex[:6]}"
        done = subprocess.run(
            [sys.executable, "-m", "continuum_operator.cli", "webhook", "register",
             "--url", url, "--name", name],
            capture_output=True, text=True, check=False,
            env={**os.environ, "CONTINUUM_WEBHOOK_SECRET": secret},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"registered webhook {name}" in done.stdout
        registered.append(name)
        return name

    yield register
    for hook in mlflow_client.list_webhooks():
        if hook.name in registered:
            mlflow_client.delete_webhook(hook.webhook_id)


def deliveries(operator: Operator, outcome: str) -> float:
    return metric_sum(operator.metrics(), "continuum_webhook_deliveries_total", outcome=outcome)


def test_webhooks_roll_out_without_waiting_for_a_poll_and_forged_ones_change_nothing(
    webhook_operator: tuple[Operator, str, str],
    mlflow_webhook: Callable[[str, str], str],
    servings: Servings,
    serving_spec: dict[str, Any],
    model: ServedModel,
) -> None:
    operator, url, secret = webhook_operator
    versions = model.champion_versions(4)
    hourly = {**serving_spec, "mlflow": {**serving_spec["mlflow"], "pollInterval": "1h"}}
    servings.apply("hooked", hourly)
    wait_for(lambda: serving_version(servings, "hooked", versions[0]), what="the first version")

    # The alias moves with no webhook registered yet; the next poll is an hour away.
    model.promote(versions[1])
    delivery = alias_delivery(model.name, versions[1])
    forged = signed_headers("not-the-secret", delivery)
    assert post(url, delivery, forged) == 401
    assert post(url, delivery, {}) == 401
    assert deliveries(operator, "rejected") == 2
    assert servings.scorer_version("hooked") == versions[0]
    # The same call signed with the secret is what the operator acts on: the refusals above
    # were decided before answering, so nothing of theirs can still be in flight.
    assert post(url, delivery, signed_headers(secret, delivery)) == 200
    wait_for(lambda: servings.scorer_version("hooked") == versions[1], what="the signed call")
    assert deliveries(operator, "accepted") == 1

    # Registered with MLflow, whose server learns of new webhooks within a minute: alias moves
    # until its first signed delivery arrives.
    mlflow_webhook(url, secret)
    target = 2
    deadline = time.monotonic() + 120
    while deliveries(operator, "accepted") < 2:
        assert time.monotonic() < deadline, "MLflow never delivered"
        target = 3 if target == 2 else 2
        model.promote(versions[target])
        time.sleep(2)
    wait_for(
        lambda: servings.scorer_version("hooked") == versions[target],
        what="MLflow's own delivery acted on",
    )
    assert deliveries(operator, "rejected") == 2


def test_one_registry_request_per_model_per_poll_however_many_follow_it(
    operator: Operator,
    servings: Servings,
    serving_spec: dict[str, Any],
    model: ServedModel,
) -> None:
    [version] = model.champion_versions(1)
    other = f"{model.name}-other"
    model.mlflow.create_registered_model(other)
    try:
        for n in range(4):
            servings.apply(f"same-{n}", serving_spec)
        servings.apply("other", {**serving_spec, "model": {"name": other}})
        for n in range(4):
            wait_for(lambda n=n: serving_version(servings, f"same-{n}", version), what=f"same-{n}")
        wait_for(lambda: servings.condition("other", "Ready"), what="a pass of the other")

        def counts() -> tuple[float, float, float]:
            text = operator.metrics()
            return (
                metric_sum(text, "continuum_model_polls_total"),
                metric_sum(text, "continuum_registry_requests_total"),
                metric_sum(text, "continuum_followed_models"),
            )

        polls, requests, followed = counts()
        assert followed == 2  # five ServingDeployments, two models
        # Ten more polls at one a second for each model: all the registry requests there are.
        later = wait_for(lambda: (c := counts())[0] >= polls + 10 and c, what="ten more polls")
        # One request per poll; a scrape may fall between a request and the count of its poll.
        assert abs((later[1] - requests) - (later[0] - polls)) <= 1, (later, polls, requests)
    finally:
        servings.delete_all()
        model.mlflow.delete_registered_model(other)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda spec: spec.update(replicas=0), "spec.replicas"),
        (lambda spec: spec["model"].update(name=""), "spec.model.name"),
        (lambda spec: spec["model"].update(policy="Pinned"), "spec.model.version"),
        (lambda spec: spec["kafka"]["topics"].update(requests="no spaces"), "requests"),
        (lambda spec: spec["kafka"]["topics"].update(metrics="m"), "spec.kafka.topics.metrics"),
        (lambda spec: spec.update(mode="realtime", triggerInterval="1s"), "triggerInterval"),
        (lambda spec: spec.update(rollout={"progressDeadline": "0s"}), "progressDeadline"),
        (lambda spec: spec.pop("checkpointUri"), "checkpointUri"),
    ],
    ids=[
        "replicas", "model-name", "pinned-without-version", "topic", "metrics-without-feedback",
        "realtime-trigger", "deadline", "missing-checkpoint",
    ],
)  # fmt: skip
def test_invalid_serving_deployments_are_rejected_naming_the_field(
    servings: Servings, serving_spec: dict[str, Any], change: Any, field: str
) -> None:
    spec = json.loads(json.dumps(serving_spec))
    change(spec)
    manifest = json.dumps(servings.manifest("invalid", spec))
    applied = kubectl("apply", "-f", "-", stdin=manifest, check=False)
    assert applied.returncode != 0
    assert field in applied.stderr, applied.stderr
    assert servings.names() == []


def not_ready(servings: Servings, name: str, reason: str, generation: int) -> dict | None:
    """Ready=False with `reason`, written by a pass that saw `generation`."""
    condition = servings.condition(name, "Ready")
    status = servings.status(name)
    if status.get("observedGeneration") != generation or not condition:
        return None
    return condition if (condition["status"], condition["reason"]) == ("False", reason) else None


def test_what_only_the_operator_can_judge_leaves_the_running_version_serving(
    operator: Operator,
    servings: Servings,
    serving_spec: dict[str, Any],
    model: ServedModel,
) -> None:
    [version] = model.champion_versions(1)
    servings.apply("judged", serving_spec)
    wait_for(lambda: serving_version(servings, "judged", version), what="serving")
    scorer = servings.scorer("judged")
    assert scorer is not None
    template = json.dumps(scorer["spec"]["template"], sort_keys=True)

    def refused(spec: dict[str, Any], reason: str, *, announced: bool) -> dict[str, Any]:
        """Applies `spec`; the Ready condition of the pass that saw it, once it says `reason`
        (and, when `announced`, once its Event is there)."""
        servings.apply("judged", spec)
        generation = servings.get("judged")["metadata"]["generation"]
        condition = wait_for(
            lambda: not_ready(servings, "judged", reason, generation),
            timeout=60,
            what=f"Ready=False, {reason}",
        )
        if announced:
            wait_for(lambda: reason in reasons(servings, "judged"), what=f"the {reason} Event")
        return condition

    # A Secret that does not exist: Ready=False naming the field, an Event, nothing rolled.
    nowhere = {"credentialsSecretRef": {"name": "nowhere"}}
    missing_secret = {**serving_spec, "mlflow": {**serving_spec["mlflow"], **nowhere}}
    condition = refused(missing_secret, "SecretNotFound", announced=True)
    assert "spec.mlflow.credentialsSecretRef" in condition["message"]

    # A model MLflow does not know.
    unknown = {**serving_spec, "model": {"name": f"{model.name}-missing"}}
    condition = refused(unknown, "ModelNotFound", announced=True)
    assert "spec.model.name" in condition["message"]

    # MLflow unreachable: RegistryAvailable=False; what is deployed stays as it is, even the
    # tracking URI in the pods' environment.
    unreachable = {**serving_spec, "mlflow": {"trackingUri": "http://127.0.0.1:9",
                                              "pollInterval": "1s"}}  # fmt: skip
    refused(unreachable, "RegistryUnreachable", announced=False)
    registry = servings.condition("judged", "RegistryAvailable")
    assert registry is not None and registry["status"] == "False"
    assert "127.0.0.1:9" in registry["message"]
    scorer = servings.scorer("judged")
    assert scorer is not None
    assert json.dumps(scorer["spec"]["template"], sort_keys=True) == template
    available = servings.condition("judged", "Available")
    assert available is not None and available["status"] == "True"

    # The Secret created: the operator's MLflow client and the pods use it (the stack's MLflow
    # takes any credentials), and the pods roll to get it.
    kubectl(
        "create", "secret", "generic", "nowhere", "-n", servings.namespace,
        "--from-literal=MLFLOW_TRACKING_USERNAME=continuum",
        "--from-literal=MLFLOW_TRACKING_PASSWORD=not-checked-here",
    )  # fmt: skip
    servings.apply("judged", missing_secret)
    generation = servings.get("judged")["metadata"]["generation"]
    wait_for(
        lambda: (
            (s := serving_version(servings, "judged", version))
            and s["observedGeneration"] == generation
        ),
        what="serving with the Secret",
    )
    scorer = servings.scorer("judged")
    assert scorer is not None
    [container] = scorer["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "nowhere"}}]
    assert "not-checked-here" not in json.dumps(scorer)


def test_server_side_apply_by_another_manager_never_conflicts_with_the_operator(
    operator: Operator,
    servings: Servings,
    serving_spec: dict[str, Any],
    model: ServedModel,
) -> None:
    first, second = model.champion_versions(2)

    def gitops_apply(spec: dict[str, Any]) -> None:
        manifest = json.dumps(servings.manifest("gitops", spec))
        kubectl("apply", "--server-side", "--field-manager=argocd", "-f", "-", stdin=manifest)

    gitops_apply(serving_spec)
    wait_for(lambda: serving_version(servings, "gitops", first), what="serving")

    # A rollout starts, and the GitOps tool applies again, with a change, while it runs.
    model.promote(second)
    wait_for(lambda: servings.status("gitops").get("targetVersion") == second, what="a rollout")
    gitops_apply({**serving_spec, "replicas": 3})  # no conflict: kubectl would fail
    generation = servings.get("gitops")["metadata"]["generation"]
    status = wait_for(
        lambda: (
            (s := serving_version(servings, "gitops", second))
            and s["observedGeneration"] == generation
            and s["availableReplicas"] == 3
            and s
        ),
        what="version 2 on three pods",
    )
    scorer = servings.scorer("gitops")
    assert scorer is not None and scorer["spec"]["replicas"] == 3

    fields = managed_fields("sd", "gitops", servings.namespace)
    assert '"f:spec"' in fields["argocd", ""]
    assert '"f:status"' in fields["continuum-operator", "status"]
    assert not any('"f:spec"' in value for (who, _), value in fields.items() if who != "argocd")
    gitops_apply({**serving_spec, "replicas": 3})  # and again, with nothing to change
    assert servings.get("gitops")["metadata"]["generation"] == status["observedGeneration"]
