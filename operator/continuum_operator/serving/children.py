"""The objects a ServingDeployment owns, as pure functions of its spec: the scorer's Deployment,
a Service for its HTTP port, a PodDisruptionBudget, the handoff Lease, and the ServiceAccount, Role
and RoleBinding its pods run as (allowed their Lease and nothing else).

The pods' environment is the serving contract (`continuum_workloads.contract.ServingConfig`);
Secrets reach them by reference only (envFrom, a mounted volume), never as values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from continuum_operator.core import api
from continuum_operator.core.podsecurity import container_security_context, pod_security_context
from continuum_operator.core.spec import format_duration
from continuum_operator.serving.rollout import (
    FAILED_VERSIONS_ANNOTATION,
    VERSION_ANNOTATION,
    FailedVersion,
    failed_annotation,
)
from continuum_operator.serving.spec import ServingDeploymentSpec
from continuum_workloads import contract

SERVING_LABEL = f"{api.GROUP}/serving-deployment"
MODEL_URI_ANNOTATION = f"{api.GROUP}/model-uri"
APPLIED_HASH_ANNOTATION = f"{api.GROUP}/applied-hash"
"""On the Deployment: a digest of every child as last applied, so an unchanged spec costs no
write."""
KAFKA_PROPERTIES_DIR = "/etc/continuum/kafka"
_CONTAINER = "scorer"
_MAX_NAME = 63  # a Service name is a DNS label


def child_name(name: str) -> str:
    """`<name>-scorer`, shortened with a digest when it would not fit a DNS label."""
    wanted = f"{name}-scorer"
    if len(wanted) <= _MAX_NAME:
        return wanted
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: _MAX_NAME - 16].rstrip('-.')}-{digest}-scorer"


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "continuum-scorer", SERVING_LABEL: name}


def labels(name: str) -> dict[str, str]:
    return {
        **selector(name),
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/part-of": "continuum",
        api.MANAGED_BY_LABEL: api.MANAGED_BY,
    }


def transactional_id(namespace: str, name: str) -> str:
    """Fixed per ServingDeployment: a new holder fences the old one at the broker."""
    return f"continuum-{namespace}-{name}"


def serving_config(
    spec: ServingDeploymentSpec, namespace: str, name: str, version: str
) -> contract.ServingConfig:
    topics = spec.kafka.topics
    return contract.ServingConfig(
        model_name=spec.model.name,
        model_version=version,
        mlflow_tracking_uri=spec.mlflow.tracking_uri,
        kafka_bootstrap_servers=spec.kafka.bootstrap_servers,
        requests_topic=topics.requests,
        predictions_topic=topics.predictions,
        dead_letter_topic=topics.dead_letter,
        checkpoint_uri=spec.checkpoint_uri,
        transactional_id=transactional_id(namespace, name),
        lease_name=child_name(name),
        feedback_topic=topics.feedback,
        metrics_topic=topics.metrics,
        consumer_group=spec.kafka.consumer_group or transactional_id(namespace, name),
        kafka_properties_dir=KAFKA_PROPERTIES_DIR if spec.kafka.security_secret_ref else None,
        mode=spec.mode,
        trigger_interval=format_duration(spec.effective_trigger_interval),
        stop_wait_s=spec.stop_wait_seconds,
        metrics_window=format_duration(spec.metrics.window),
        metrics_slide=format_duration(spec.metrics.slide),
        feedback_delay=format_duration(spec.metrics.feedback_delay),
        spark_conf=dict(spec.spark_conf),
    )


def _metadata(name: str, namespace: str, owner: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": child_name(name),
        "namespace": namespace,
        "labels": labels(name),
        "ownerReferences": [dict(owner)],
        **extra,
    }


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 3,
    }


def deployment(
    spec: ServingDeploymentSpec,
    namespace: str,
    name: str,
    version: str,
    owner: Mapping[str, Any],
    failed: Sequence[FailedVersion],
) -> dict[str, Any]:
    config = serving_config(spec, namespace, name, version)
    env = [{"name": key, "value": value} for key, value in sorted(config.to_env().items())]
    container: dict[str, Any] = {
        "name": _CONTAINER,
        "image": spec.image,
        "imagePullPolicy": str(spec.image_pull_policy),
        "command": ["continuum", "serve"],
        "env": [*env, *contract.downward_api_env()],
        "ports": [{"name": "http", "containerPort": contract.SERVING_HTTP_PORT}],
        # Ready once the model is loaded and warmed: the rollout waits for it.
        "readinessProbe": _probe(contract.READYZ_PATH, period=5, failures=2),
        "livenessProbe": _probe(contract.HEALTHZ_PATH, period=10, failures=6),
        # Spark and the model take a while to load; liveness starts counting after that.
        "startupProbe": _probe(contract.HEALTHZ_PATH, period=5, failures=60),
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    resources = {
        key: value
        for key, value in (
            ("requests", spec.resources.requests),
            ("limits", spec.resources.limits),
        )
        if value
    }
    if resources:
        container["resources"] = resources
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if spec.mlflow.credentials_secret_ref:
        container["envFrom"] = [{"secretRef": {"name": spec.mlflow.credentials_secret_ref.name}}]
    if spec.kafka.security_secret_ref:
        volumes.append(
            {
                "name": "kafka-properties",
                "secret": {"secretName": spec.kafka.security_secret_ref.name},
            }
        )
        container["volumeMounts"].append(
            {"name": "kafka-properties", "mountPath": KAFKA_PROPERTIES_DIR, "readOnly": True}
        )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(
            name,
            namespace,
            owner,
            annotations={FAILED_VERSIONS_ANNOTATION: failed_annotation(failed)},
        ),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector(name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "progressDeadlineSeconds": int(spec.rollout.progress_deadline.total_seconds()),
            "revisionHistoryLimit": 3,
            "template": {
                "metadata": {
                    "labels": labels(name),
                    "annotations": {
                        VERSION_ANNOTATION: version,
                        MODEL_URI_ANNOTATION: config.model_uri,
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(contract.SERVING_HTTP_PORT),
                        "prometheus.io/path": contract.METRICS_PATH,
                    },
                },
                "spec": {
                    "serviceAccountName": child_name(name),
                    "terminationGracePeriodSeconds": spec.termination_grace_period_seconds,
                    "securityContext": pod_security_context(),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def companions(namespace: str, name: str, owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Everything but the Deployment; the pods need these before they start."""
    scorer = child_name(name)
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _metadata(name, namespace, owner),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _metadata(name, namespace, owner),
            # The handoff Lease, and nothing else; the operator creates it, so no `create`.
            "rules": [
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "resourceNames": [scorer],
                    "verbs": ["get", "watch", "update", "patch"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _metadata(name, namespace, owner),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": scorer},
            "subjects": [{"kind": "ServiceAccount", "name": scorer, "namespace": namespace}],
        },
        {
            # No spec: the pods write the holder; the operator only makes sure it exists.
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": _metadata(name, namespace, owner),
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata(name, namespace, owner),
            "spec": {
                "selector": selector(name),
                "ports": [
                    {"name": "http", "port": contract.SERVING_HTTP_PORT, "targetPort": "http"}
                ],
            },
        },
        {
            # Voluntary disruptions (drains) leave one scorer running; with one replica a drain
            # waits until a second one exists.
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _metadata(name, namespace, owner),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": selector(name)}},
        },
    ]


def digest(bodies: Sequence[Mapping[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(list(bodies), sort_keys=True).encode()).hexdigest()[:16]
