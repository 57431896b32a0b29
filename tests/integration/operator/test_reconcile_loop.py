"""What the reconcile loop gives every kind, against the local stack's API server: a pass the API
server refuses shows in Ready and an Event, and the loop recovers once the refusal ends; the
operator's writes carry its own field manager; objects carry no finalizer, so they are deleted
while the operator is down."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from pipeline_harness import Pipelines, ServedModel, Servings, managed_fields

from continuum_operator.core.backoff import MAX_BACKOFF
from continuum_operator.core.loop import FINALIZER
from localstack.harness import Operator, kubectl, wait_for

# After the refusal is lifted, the next pass comes when the failures' backoff ends: at most the
# cap, however many passes failed meanwhile (a fixed 60 s raced the doubling on a slow machine).
RECOVERY_S = MAX_BACKOFF.total_seconds() + 30

SPARK_APPLICATION = {
    "apiVersion": "sparkoperator.k8s.io/v1beta2",
    "kind": "SparkApplication",
    "spec": {
        "type": "Python",
        "sparkVersion": "4.2.0",
        "mainApplicationFile": "local:///job.py",
        "driver": {},
        "executor": {},
    },
}


@pytest.fixture
def refuse_creating(tp_namespace: str) -> Iterator[Callable[[dict], Callable[[], None]]]:
    """Makes the API server refuse to create objects of the kind of `sample` in the test's
    namespace, with a ValidatingAdmissionPolicy (a real refusal, as an admission webhook or a
    quota would give), once a server-side dry run of `sample` is refused; returns the function
    that lifts it."""
    applied: list[str] = []

    def lift(manifest: str) -> None:
        if manifest in applied:
            kubectl("delete", "--ignore-not-found", "-f", "-", stdin=manifest)
            applied.remove(manifest)

    def refuse(sample: dict) -> Callable[[], None]:
        group = sample["apiVersion"].rpartition("/")[0]
        resource = sample["kind"].lower() + "s"
        name = f"refuse-{resource}-{tp_namespace}"
        selector = {"matchLabels": {"kubernetes.io/metadata.name": tp_namespace}}
        rule = {
            "apiGroups": [group],
            "apiVersions": ["*"],
            "operations": ["CREATE"],
            "resources": [resource],
        }
        manifest = yaml.safe_dump_all(
            [
                {
                    "apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "ValidatingAdmissionPolicy",
                    "metadata": {"name": name},
                    "spec": {
                        "failurePolicy": "Fail",
                        "matchConstraints": {"resourceRules": [rule]},
                        "validations": [
                            {"expression": "false", "message": f"{resource} are frozen here"}
                        ],
                    },
                },
                {
                    "apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "ValidatingAdmissionPolicyBinding",
                    "metadata": {"name": name},
                    "spec": {
                        "policyName": name,
                        "validationActions": ["Deny"],
                        "matchResources": {"namespaceSelector": selector},
                    },
                },
            ]
        )
        kubectl("apply", "-f", "-", stdin=manifest)
        applied.append(manifest)
        # Policies take effect a moment after they are stored.
        dry_run = json.dumps({**sample, "metadata": {"name": "probe", "namespace": tp_namespace}})
        wait_for(
            lambda: (
                "frozen here"
                in kubectl(
                    "create", "--dry-run=server", "-f", "-", stdin=dry_run, check=False
                ).stderr
            ),
            what=f"the policy refusing {resource}",
        )
        return lambda: lift(manifest)

    yield refuse
    for manifest in list(applied):
        lift(manifest)


def test_a_refused_api_call_shows_in_ready_and_an_event_and_the_loop_recovers(
    operator: Operator,
    pipelines: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    watching_hdfs_dir: dict[str, Any],
    refuse_creating: Callable[[dict], Callable[[], None]],
) -> None:
    lift = refuse_creating(SPARK_APPLICATION)
    hdfs_client.write(f"{hdfs_dir}/batch-0001/part-0000.csv", data="price\n1\n")
    hdfs_client.write(f"{hdfs_dir}/batch-0001/_SUCCESS", data="")
    pipelines.apply("refused", watching_hdfs_dir)

    ready = wait_for(
        lambda: (c := pipelines.condition("refused", "Ready")) and c["status"] == "False" and c,
        what="Ready=False",
    )
    assert ready["reason"] == "ReconcileFailed"
    assert "sparkapplications are frozen here" in ready["message"]
    warning = wait_for(
        lambda: [e for e in pipelines.events("refused") if e[1] == "ReconcileFailed"],
        what="the ReconcileFailed Event",
    )
    assert warning[0][0] == "Warning" and "frozen here" in warning[0][2]
    assert pipelines.spark_applications() == []

    lift()
    [app] = wait_for(
        pipelines.spark_applications, timeout=RECOVERY_S, what="the run after recovery"
    )
    ready = wait_for(
        lambda: (c := pipelines.condition("refused", "Ready")) and c["status"] == "True" and c,
        what="Ready=True again",
    )
    assert ready["reason"] == "Watching"
    assert app["metadata"]["ownerReferences"][0]["name"] == "refused"
    # Each refused pass retried; the first one reported it, and the repeats did not again.
    assert len([e for e in pipelines.events("refused") if e[1] == "ReconcileFailed"]) == 1


def test_the_operator_writes_status_and_children_as_its_own_field_manager(
    operator: Operator,
    pipelines: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    watching_hdfs_dir: dict[str, Any],
) -> None:
    hdfs_client.write(f"{hdfs_dir}/batch-0001.csv", data="price\n1\n")
    pipelines.apply("managed", watching_hdfs_dir)
    [app] = wait_for(pipelines.spark_applications, what="a SparkApplication")
    wait_for(lambda: pipelines.status("managed").get("currentRun"), what="the run in status")

    fields = managed_fields("tp", "managed", pipelines.namespace)
    assert ("continuum-operator", "status") in fields, list(fields)
    assert "f:conditions" in fields["continuum-operator", "status"]
    assert not any(manager == "OpenAPI-Generator" for manager, _ in fields)

    app_fields = managed_fields("sparkapplication", app["metadata"]["name"], pipelines.namespace)
    assert ("continuum-operator", "") in app_fields


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "spec": {
        "selector": {"matchLabels": {"app": "probe"}},
        "template": {
            "metadata": {"labels": {"app": "probe"}},
            "spec": {"containers": [{"name": "probe", "image": "probe"}]},
        },
    },
}


def test_a_refused_api_call_is_reported_the_same_way_for_a_serving_deployment(
    operator: Operator,
    servings: Servings,
    serving_spec: dict[str, Any],
    model: ServedModel,
    refuse_creating: Callable[[dict], Callable[[], None]],
) -> None:
    model.champion_versions(1)
    lift = refuse_creating(DEPLOYMENT)
    servings.apply("refused", serving_spec)

    ready = wait_for(
        lambda: (
            (c := servings.condition("refused", "Ready")) and c["reason"] == "ReconcileFailed" and c
        ),
        what="Ready=False, ReconcileFailed",
    )
    assert ready["status"] == "False" and "deployments are frozen here" in ready["message"]
    wait_for(
        lambda: [e for e in servings.events("refused") if e[:2] == ("Warning", "ReconcileFailed")],
        what="the ReconcileFailed Event",
    )
    assert servings.scorer("refused") is None

    lift()
    wait_for(lambda: servings.condition("refused", "Ready")["status"] == "True", timeout=RECOVERY_S)
    assert servings.scorer("refused") is not None


def test_objects_are_deleted_while_the_operator_is_down_and_their_children_go_with_them(
    operator: Operator,
    pipelines: Pipelines,
    servings: Servings,
    hdfs_client: Any,
    hdfs_dir: str,
    watching_hdfs_dir: dict[str, Any],
    serving_spec: dict[str, Any],
    model: ServedModel,
) -> None:
    # An object carrying the finalizer earlier versions put on every object loses it.
    manifest = pipelines.manifest("deleted", watching_hdfs_dir)
    manifest["metadata"]["finalizers"] = [FINALIZER]
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))
    hdfs_client.write(f"{hdfs_dir}/batch-0001/part-0000.csv", data="price\n1\n")
    hdfs_client.write(f"{hdfs_dir}/batch-0001/_SUCCESS", data="")
    model.champion_versions(1)
    servings.apply("deleted", serving_spec)
    wait_for(pipelines.spark_applications, what="the pipeline's run")
    wait_for(lambda: servings.scorer("deleted"), what="the scorer Deployment")
    wait_for(
        lambda: not pipelines.get("deleted")["metadata"].get("finalizers"),
        what="the earlier finalizer removed",
    )
    assert not servings.get("deleted")["metadata"].get("finalizers")

    operator.stop()
    for resource in ("tp", "sd"):
        kubectl("delete", resource, "deleted", "-n", pipelines.namespace, "--timeout=30s")
    assert pipelines.names() == [] and servings.names() == []
    # ownerReferences: the garbage collector removes what they owned, with no operator.
    wait_for(lambda: pipelines.spark_applications() == [], timeout=60, what="runs collected")
    wait_for(lambda: servings.scorer("deleted") is None, timeout=60, what="scorer collected")
