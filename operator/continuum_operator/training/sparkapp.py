"""The SparkApplication (`sparkoperator.k8s.io/v1beta2`) body for one training run.

SparkApplications are immutable once created: any spec edit makes the spark-operator kill and
resubmit the job, so everything the run needs is decided here, once. The ownerReference is left to
the caller, which knows the pipeline's uid.
"""

from __future__ import annotations

import hashlib
from typing import Any

from continuum_operator.core import api
from continuum_operator.core.podsecurity import container_security_context, pod_security_context
from continuum_operator.training.runs import RunRequest
from continuum_operator.training.spec import HistoryMode, TrainingPipelineSpec

_MAX_LABEL_VALUE = 63
# The container names the spark-operator gives Spark for the pods built from these templates.
DRIVER_CONTAINER = "spark-kubernetes-driver"
EXECUTOR_CONTAINER = "spark-kubernetes-executor"


def label_value(text: str) -> str:
    """`text` if it fits in a label value, else a shortened form that stays unique to it."""
    if len(text) <= _MAX_LABEL_VALUE:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: _MAX_LABEL_VALUE - 9].rstrip('-.')}-{digest}"


def pipeline_labels(pipeline: str) -> dict[str, str]:
    """The labels that select every SparkApplication of one pipeline."""
    return {api.MANAGED_BY_LABEL: api.MANAGED_BY, api.PIPELINE_LABEL: label_value(pipeline)}


def experiment_name(spec: TrainingPipelineSpec, *, pipeline: str, namespace: str) -> str:
    """The MLflow experiment the pipeline's runs are recorded in."""
    return spec.mlflow.experiment or f"{namespace}/{pipeline}"


def _arguments(
    spec: TrainingPipelineSpec, *, pipeline: str, namespace: str, run_id: str, request: RunRequest
) -> list[str]:
    training, mlflow = spec.training, spec.mlflow
    arguments = [
        "--run-id", run_id,
        "--pipeline", f"{namespace}/{pipeline}",
        "--data-uri", spec.data.uri,
        "--data-format", str(spec.data.format),
        "--batch-pattern", spec.data.batch_pattern,
        "--completion-marker", spec.data.completion_marker,
        "--history-mode", str(training.history.mode),
        "--ensemble", ",".join(training.ensemble),
        "--cv-folds", str(training.cross_validation.folds),
        "--cv-parallelism", str(training.cross_validation.parallelism),
        "--mlflow-tracking-uri", mlflow.tracking_uri,
        "--mlflow-experiment", experiment_name(spec, pipeline=pipeline, namespace=namespace),
        "--registered-model", mlflow.registered_model,
        "--promotion-metric", str(spec.promotion.metric),
        "--champion-alias", spec.promotion.alias,
    ]  # fmt: skip
    if training.history.mode is HistoryMode.LATEST and training.history.batches:
        arguments += ["--history-batches", str(training.history.batches)]
    if spec.train_set_export_uri:
        arguments += ["--train-set-export-uri", spec.train_set_export_uri]
    # One flag per batch: names may hold any character a separator could be.
    for batch in sorted(request.batches, key=lambda batch: batch.key):
        arguments += ["--batch", batch.name]
    return arguments


def pod_template(container_name: str, env_from: list[dict[str, Any]]) -> dict[str, Any]:
    """The pod template Spark starts a driver or executor pod from. Spark applies it itself, so
    the run needs no spark-operator webhook: the restricted security contexts, and the MLflow
    credentials Secret as environment (`envFrom` outside a template needs the webhook)."""
    container: dict[str, Any] = {
        "name": container_name,
        "securityContext": container_security_context(),
    }
    if env_from:
        container["envFrom"] = env_from
    return {"spec": {"securityContext": pod_security_context(), "containers": [container]}}


def build_spark_application(
    spec: TrainingPipelineSpec, *, pipeline: str, namespace: str, request: RunRequest
) -> dict[str, Any]:
    name = request.name(pipeline, namespace)
    labels = {
        **pipeline_labels(pipeline),
        api.RUN_LABEL: name,
        "app.kubernetes.io/name": "continuum-training",
        "app.kubernetes.io/part-of": "continuum",
    }
    training = spec.training
    # The Secret's keys are the environment variables MLflow reads
    # (MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN): no secret in the spec.
    credentials = (
        [{"secretRef": {"name": spec.mlflow.credentials_secret_ref.name}}]
        if spec.mlflow.credentials_secret_ref
        else []
    )
    driver: dict[str, Any] = {
        "cores": training.driver.cores,
        "memory": training.driver.memory,
        "labels": labels,
        "template": pod_template(DRIVER_CONTAINER, credentials),
    }
    if training.service_account:
        driver["serviceAccount"] = training.service_account
    return {
        "apiVersion": f"{api.SPARK_GROUP}/{api.SPARK_VERSION}",
        "kind": "SparkApplication",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": request.annotations(),
        },
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "sparkVersion": training.spark_version,
            "image": training.image,
            "imagePullPolicy": str(training.image_pull_policy),
            "mainApplicationFile": training.main_application_file,
            "arguments": _arguments(
                spec, pipeline=pipeline, namespace=namespace, run_id=name, request=request
            ),
            "sparkConf": dict(training.spark_conf),
            # A failed run is reported, not retried: retrying a bad batch fails the same way.
            "restartPolicy": {"type": "Never"},
            "driver": driver,
            "executor": {
                "instances": training.executor.instances,
                "cores": training.executor.cores,
                "memory": training.executor.memory,
                "labels": labels,
                "template": pod_template(EXECUTOR_CONTAINER, []),
            },
        },
    }
