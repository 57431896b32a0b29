"""The objects a ServingDeployment owns: the scorer's pods get the serving contract's environment,
roll with maxSurge 1 / maxUnavailable 0 on /readyz, run as non-root under their own
ServiceAccount allowed their Lease only, and get Secrets by reference only."""

from __future__ import annotations

import json

from operator_samples import serving_spec_with

from continuum_operator.serving import children
from continuum_operator.serving.rollout import FailedVersion, failed_from_annotation
from continuum_workloads import contract

OWNER = {
    "apiVersion": "continuum.ml/v1alpha1",
    "kind": "ServingDeployment",
    "name": "cars",
    "uid": "u-1",
    "controller": True,
    "blockOwnerDeletion": True,
}


def deployment(**overrides: object) -> dict:
    return children.deployment(
        serving_spec_with(**overrides), "ml", "cars", "7", OWNER, [FailedVersion("5", 2)]
    )


def container(body: dict) -> dict:
    [scorer] = body["spec"]["template"]["spec"]["containers"]
    return scorer


def env_of(body: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container(body)["env"] if "value" in item}


def test_the_pods_environment_is_the_serving_contract() -> None:
    config = contract.ServingConfig.from_env(env_of(deployment()))

    assert config.model_uri == "models:/used-car-price/7"
    assert config.transactional_id == "continuum-ml-cars"
    assert config.consumer_group == "continuum-ml-cars"
    assert config.lease_name == "cars-scorer"
    assert config.dead_letter_topic == "dead"
    assert (config.metrics_window, config.metrics_slide) == ("10m", "1m")
    assert config.trigger_interval == "0s"
    assert config.mode is contract.ServingMode.EXACTLY_ONCE
    downward = [item for item in container(deployment())["env"] if "valueFrom" in item]
    assert downward == contract.downward_api_env()


def test_realtime_mode_and_its_trigger_reach_the_pods() -> None:
    config = contract.ServingConfig.from_env(env_of(deployment(mode="realtime")))

    assert (config.mode, config.trigger_interval) == (contract.ServingMode.REALTIME, "5s")


def test_the_pods_wait_for_their_batch_follows_the_grace_period() -> None:
    body = deployment(terminationGracePeriodSeconds=150)
    config = contract.ServingConfig.from_env(env_of(body))

    assert body["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 150
    assert config.stop_wait_s == 140


def test_the_rollout_surges_one_pod_waits_for_readyz_and_keeps_the_old_version_up() -> None:
    body = deployment(replicas=3, rollout={"progressDeadline": "3m"})
    spec = body["spec"]

    assert spec["replicas"] == 3
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert spec["progressDeadlineSeconds"] == 180
    assert container(body)["readinessProbe"]["httpGet"]["path"] == contract.READYZ_PATH
    assert container(body)["livenessProbe"]["httpGet"]["path"] == contract.HEALTHZ_PATH
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["continuum.ml/model-version"] == "7"
    assert annotations["continuum.ml/model-uri"] == "models:/used-car-price/7"
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    failed = body["metadata"]["annotations"]["continuum.ml/failed-versions"]
    assert failed_from_annotation(failed) == (FailedVersion("5", 2),)


def test_pods_run_as_non_root_under_their_own_service_account() -> None:
    pod = deployment()["spec"]["template"]["spec"]

    assert pod["serviceAccountName"] == "cars-scorer"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container(deployment())["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["terminationGracePeriodSeconds"] == 60


def test_secrets_reach_the_pods_by_reference_only() -> None:
    body = deployment(
        mlflow={"credentialsSecretRef": {"name": "mlflow-auth"}},
        kafka={"securitySecretRef": {"name": "kafka-sasl"}},
    )

    assert container(body)["envFrom"] == [{"secretRef": {"name": "mlflow-auth"}}]
    volumes = {v["name"]: v for v in body["spec"]["template"]["spec"]["volumes"]}
    assert volumes["kafka-properties"]["secret"] == {"secretName": "kafka-sasl"}
    mounts = {m["name"]: m for m in container(body)["volumeMounts"]}
    assert mounts["kafka-properties"]["readOnly"] is True
    config = contract.ServingConfig.from_env(env_of(body))
    assert config.kafka_properties_dir == mounts["kafka-properties"]["mountPath"]
    assert "password" not in json.dumps(body).lower()


def test_every_child_is_owned_and_labelled() -> None:
    bodies = [*children.companions("ml", "cars", OWNER), deployment()]

    assert {body["kind"] for body in bodies} == {
        "Deployment", "Service", "PodDisruptionBudget", "Lease", "ServiceAccount", "Role",
        "RoleBinding",
    }  # fmt: skip
    for body in bodies:
        assert body["metadata"]["ownerReferences"] == [OWNER]
        assert body["metadata"]["name"] == "cars-scorer"
        assert body["metadata"]["labels"]["continuum.ml/serving-deployment"] == "cars"


def test_the_pods_may_use_their_lease_and_nothing_else() -> None:
    kinds = {body["kind"]: body for body in children.companions("ml", "cars", OWNER)}

    assert kinds["Role"]["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["cars-scorer"],
            "verbs": ["get", "watch", "update", "patch"],
        }
    ]
    assert kinds["RoleBinding"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "cars-scorer", "namespace": "ml"}
    ]
    assert "spec" not in kinds["Lease"]  # the pods own its holder
    assert kinds["Service"]["spec"]["ports"][0]["port"] == contract.SERVING_HTTP_PORT


def test_a_long_name_is_shortened_to_a_dns_label_that_stays_unique() -> None:
    long = "a" * 70
    name = children.child_name(long)

    assert len(name) <= 63 and name.endswith("-scorer")
    assert name != children.child_name("a" * 71)


def test_the_digest_moves_with_any_child() -> None:
    base = [*children.companions("ml", "cars", OWNER), deployment()]
    bumped = [*children.companions("ml", "cars", OWNER), deployment(replicas=2)]

    assert children.digest(base) == children.digest(list(base))
    assert children.digest(base) != children.digest(bumped)
