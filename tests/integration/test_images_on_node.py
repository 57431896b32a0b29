"""The project's images, built by `make images` (buildah, no Docker engine), run on the real node:
each one's entry point starts, as a non-root user, with what its workloads need, and the
workloads image trains and registers a model from a tiny batch."""

from __future__ import annotations

import time
import uuid

from kubernetes import client

from continuum_operator.training.spec import Training
from continuum_workloads.contract import MLFLOW_RUN_ID_TAG
from continuum_workloads.dataset.generator import write_csv

# A local Spark session that resolves the `kafka` source from the image's jars (as a streaming
# query does) and counts three rows: Java, pyspark, the connector, a writable /tmp, all as the
# image's own user.
SPARK_PROBE = """
import os
from pyspark.sql import SparkSession
jars = os.environ["CONTINUUM_SPARK_JARS"]
spark = SparkSession.builder.master("local[1]").config("spark.jars", jars).getOrCreate()
sources = spark._jvm.org.apache.spark.sql.execution.datasources.DataSource
kafka = sources.lookupDataSource("kafka", spark._jsparkSession.sessionState().conf()).getName()
print("uid", os.getuid(), "rows", spark.range(3).count(), "kafka", kafka)
"""


def run_to_completion(
    core: client.CoreV1Api,
    namespace: str,
    name: str,
    image: str,
    args: list[str],
    command: list[str] | None = None,
) -> str:
    """Run the image's entry point (or `command`) with args in a pod; its log once it
    succeeded."""
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[
                client.V1Container(
                    name="main", image=image, image_pull_policy="Never", command=command, args=args
                )
            ],
        ),
    )
    core.create_namespaced_pod(namespace, pod)
    deadline = time.monotonic() + 600
    while (phase := core.read_namespaced_pod(name, namespace).status.phase) not in (
        "Succeeded",
        "Failed",
    ):
        assert time.monotonic() < deadline, f"{name} still {phase} after 600 s"
        time.sleep(1)
    log = core.read_namespaced_pod_log(name, namespace)
    assert phase == "Succeeded", log[-3000:]
    return log


def test_the_operator_image_runs_the_continuum_command(k8s_api, namespace, images):
    core = client.CoreV1Api(k8s_api)
    log = run_to_completion(core, namespace, "operator-help", images["operator"], ["--help"])
    assert "usage: continuum" in log
    assert "operator" in log


def test_the_spark_operator_image_holds_the_operator_and_the_spark_it_submits_with(
    k8s_api, namespace, images
):
    core = client.CoreV1Api(k8s_api)
    log = run_to_completion(
        core, namespace, "spark-operator-version", images["spark-operator"],
        ["-c", 'id -u && spark-operator version && "$SPARK_HOME/bin/spark-submit" --version'],
        command=["/bin/sh"],
    )  # fmt: skip
    assert log.splitlines()[0] == "185"
    assert "Go Version" in log
    assert "version 4.2.0" in log


def test_the_workloads_image_runs_spark_with_the_kafka_connector(k8s_api, namespace, images):
    core = client.CoreV1Api(k8s_api)
    log = run_to_completion(
        core, namespace, "workloads-spark", images["workloads"], ["python", "-c", SPARK_PROBE]
    )
    assert "uid 185 rows 3 kafka org.apache.spark.sql.kafka010.KafkaSourceProvider" in log


def test_the_workloads_image_runs_the_training_job_on_a_tiny_batch(
    k8s_api, namespace, images, stack, hdfs_client, mlflow_client, tmp_path
):
    # A pod on the pod network: it reaches HDFS and MLflow on the node's address.
    listings = tmp_path / "cars.csv"
    write_csv(listings, 1500, seed=5)
    root = f"/test-image-job-{uuid.uuid4().hex[:8]}"
    hdfs_client.upload(f"{root}/batch-0001/part-00000.csv", str(listings))
    hdfs_client.write(f"{root}/batch-0001/_SUCCESS", data="")
    model = f"image-job-{uuid.uuid4().hex[:8]}"
    job = Training.model_fields["main_application_file"].default.removeprefix("local://")
    arguments = [
        "spark-submit", "--master", "local[2]", "--driver-memory", "1g",
        # One process: no locality to wait for (local mode never re-offers a task held back
        # for a node-local slot on the DataNode's address, so it would wait forever).
        "--conf", "spark.locality.wait=0", job,
        "--run-id", "image-run", "--pipeline", "tests/image",
        "--data-uri", f"{stack['HDFS_URI']}{root}", "--batch", "batch-0001",
        "--mlflow-tracking-uri", stack["MLFLOW_TRACKING_URI"],
        "--mlflow-experiment", f"tests-{model}", "--registered-model", model,
        "--cv-folds", "2", "--cv-parallelism", "1",
    ]  # fmt: skip
    core = client.CoreV1Api(k8s_api)
    try:
        run_to_completion(core, namespace, "training-job", images["workloads"], arguments)
    finally:
        hdfs_client.delete(root, recursive=True)
    [version] = mlflow_client.search_model_versions(f"name='{model}'")
    assert version.tags[MLFLOW_RUN_ID_TAG] == "image-run"
