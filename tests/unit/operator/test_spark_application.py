from __future__ import annotations

import json

from operator_samples import spec_with

from continuum_operator.core import api
from continuum_operator.training.runs import ObservedRun, RunRequest, RunTrigger
from continuum_operator.training.sparkapp import (
    build_spark_application,
    label_value,
    pipeline_labels,
)
from continuum_workloads.dataset.batches import Batch

REQUEST = RunRequest((RunTrigger.NEW_DATA,), (Batch("batch-0002", 200), Batch("batch-0001", 100)))


def flag_values(arguments: list[str], flag: str) -> list[str]:
    return [arguments[i + 1] for i, item in enumerate(arguments) if item == flag]


def build(**overrides: object) -> dict:
    return build_spark_application(
        spec_with(**overrides), pipeline="used-cars", namespace="ml", request=REQUEST
    )


def test_identity_and_labels() -> None:
    app = build()
    metadata = app["metadata"]

    assert app["apiVersion"] == "sparkoperator.k8s.io/v1beta2"
    assert app["kind"] == "SparkApplication"
    assert metadata["name"] == REQUEST.name("used-cars", "ml")
    assert metadata["namespace"] == "ml"
    assert metadata["labels"][api.PIPELINE_LABEL] == "used-cars"
    assert metadata["labels"][api.RUN_LABEL] == metadata["name"]
    assert pipeline_labels("used-cars").items() <= metadata["labels"].items()
    assert "ownerReferences" not in metadata


def test_what_the_run_consumed_is_readable_back_from_the_object() -> None:
    app = build()

    assert ObservedRun.from_spark_application(app).request == REQUEST


def test_spec_follows_the_pipeline() -> None:
    spec = build(
        training={
            "sparkConf": {"spark.sql.shuffle.partitions": "8"},
            "driver": {"cores": 2, "memory": "2g"},
            "executor": {"instances": 3, "memory": "4g"},
            "serviceAccount": "spark",
            "imagePullPolicy": "Always",
        }
    )["spec"]

    assert spec["type"] == "Python"
    assert spec["mode"] == "cluster"
    assert spec["sparkVersion"] == "4.2.0"
    assert spec["image"] == "continuum/training:0.1.0"
    assert spec["imagePullPolicy"] == "Always"
    assert spec["restartPolicy"] == {"type": "Never"}
    assert spec["sparkConf"] == {"spark.sql.shuffle.partitions": "8"}
    assert spec["driver"]["cores"] == 2
    assert spec["driver"]["memory"] == "2g"
    assert spec["driver"]["serviceAccount"] == "spark"
    assert spec["executor"]["instances"] == 3
    assert spec["executor"]["cores"] == 1
    assert spec["executor"]["memory"] == "4g"


def test_schema_types_the_spark_operator_requires() -> None:
    spec = build(training={"sparkConf": {"spark.executor.heartbeatInterval": "20s"}})["spec"]

    assert all(isinstance(value, str) for value in spec["sparkConf"].values())
    assert all(isinstance(value, str) for value in spec["arguments"])
    assert isinstance(spec["executor"]["instances"], int)
    assert all(isinstance(value, str) for value in build()["metadata"]["annotations"].values())


def test_arguments_name_data_batches_mlflow_export_and_run_id() -> None:
    app = build(
        trainSetExportUri="hdfs://namenode:8020/exports/used-cars",
        mlflow={"experiment": "cars"},
        promotion={"metric": "mae"},
    )
    arguments = app["spec"]["arguments"]

    assert flag_values(arguments, "--run-id") == [app["metadata"]["name"]]
    assert flag_values(arguments, "--data-uri") == ["hdfs://namenode:8020/data/used-cars/incoming"]
    assert flag_values(arguments, "--batch") == ["batch-0001", "batch-0002"]
    assert flag_values(arguments, "--mlflow-tracking-uri") == ["http://mlflow:5000"]
    assert flag_values(arguments, "--mlflow-experiment") == ["cars"]
    assert flag_values(arguments, "--registered-model") == ["used-car-price"]
    assert flag_values(arguments, "--promotion-metric") == ["mae"]
    assert flag_values(arguments, "--champion-alias") == ["champion"]
    assert flag_values(arguments, "--train-set-export-uri") == [
        "hdfs://namenode:8020/exports/used-cars"
    ]


def test_optional_arguments_are_left_out() -> None:
    arguments = build()["spec"]["arguments"]

    assert flag_values(arguments, "--mlflow-experiment") == ["ml/used-cars"]
    assert "--train-set-export-uri" not in arguments
    assert "--history-batches" not in arguments


def test_latest_history_passes_its_batch_count() -> None:
    arguments = build(training={"history": {"mode": "Latest", "batches": 4}})["spec"]["arguments"]

    assert flag_values(arguments, "--history-mode") == ["Latest"]
    assert flag_values(arguments, "--history-batches") == ["4"]


def driver_container(app: dict) -> dict:
    [container] = app["spec"]["driver"]["template"]["spec"]["containers"]
    return container


def test_credentials_come_from_the_secret_never_inline() -> None:
    app = build(mlflow={"credentialsSecretRef": {"name": "mlflow-auth"}})

    # In the driver's pod template, which Spark applies without the spark-operator's webhook.
    assert driver_container(app)["name"] == "spark-kubernetes-driver"
    assert driver_container(app)["envFrom"] == [{"secretRef": {"name": "mlflow-auth"}}]
    assert "mlflow-auth" not in json.dumps(app["spec"]["arguments"])
    assert "envFrom" not in driver_container(build())


def test_driver_and_executor_pods_meet_the_restricted_pod_security_standard() -> None:
    spec = build()["spec"]

    for role, container_name in (
        ("driver", "spark-kubernetes-driver"),
        ("executor", "spark-kubernetes-executor"),
    ):
        template = spec[role]["template"]["spec"]
        [container] = template["containers"]
        assert container["name"] == container_name
        assert template["securityContext"]["runAsNonRoot"] is True
        assert template["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_long_label_values_are_shortened_but_stay_distinct() -> None:
    first, second = "p" * 100 + "-a", "p" * 100 + "-b"

    assert label_value("used-cars") == "used-cars"
    assert len(label_value(first)) <= 63
    assert label_value(first) != label_value(second)
