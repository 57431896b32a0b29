"""Session fixtures: the local stack (started when not running, reused when it is) and real
clients wired to it. Only tests that ask for these fixtures need the stack."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from localstack import stack as local_stack
from localstack.config import StackConfig
from localstack.images import IMAGES, build_and_load, project_version


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    return StackConfig.from_env()


@pytest.fixture(scope="session")
def stack(stack_config: StackConfig) -> Iterator[dict[str, str]]:
    """The stack's client environment. Components this fixture started are stopped afterwards;
    a stack started by `make stack-up` keeps running."""
    started = local_stack.up(stack_config)
    env = stack_config.client_env()
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)  # subprocesses (kubectl, spark-submit) see the stack too
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for component in local_stack.components(stack_config):
        if component.name in started:
            component.stop()


@pytest.fixture(scope="session")
def images(stack: dict[str, str], stack_config: StackConfig) -> dict[str, str]:
    """The project's images, built if their inputs changed and loaded into the real node."""
    if not stack_config.real_node:
        pytest.fail("these tests need the real node: unset CONTINUUM_REAL_NODE=0")
    build_and_load(stack_config)
    return {image.name: image.tag(project_version()) for image in IMAGES}


@pytest.fixture(scope="session")
def k8s_api(stack: dict[str, str]) -> Iterator[object]:
    from kubernetes import config

    api = config.new_client_from_config(stack["KUBECONFIG"])
    yield api
    api.close()


@pytest.fixture
def namespace(k8s_api) -> Iterator[str]:
    """A fresh namespace, deleted after the test."""
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def kafka_config(stack: dict[str, str]) -> dict[str, str]:
    return {"bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"]}


@pytest.fixture(scope="session")
def kafka_admin(kafka_config: dict[str, str]):
    from confluent_kafka.admin import AdminClient

    return AdminClient(kafka_config)


@pytest.fixture
def new_topic(kafka_admin) -> Iterator[Callable[[int], str]]:
    """Creates topics with unique names (argument: partitions); deletes them afterwards."""
    from confluent_kafka.admin import NewTopic

    created: list[str] = []

    def create(partitions: int = 1) -> str:
        name = f"test-{uuid.uuid4().hex[:10]}"
        futures = kafka_admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=30)
        futures[name].result(timeout=30)
        created.append(name)
        return name

    yield create
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=30).values():
            future.result(timeout=30)


@pytest.fixture
def kafka_producer(kafka_config: dict[str, str]):
    from confluent_kafka import Producer

    producer = Producer({**kafka_config, "enable.idempotence": True})
    yield producer
    producer.flush(30)


@pytest.fixture
def kafka_consumer(kafka_config: dict[str, str]) -> Iterator[object]:
    """A consumer in a group of its own, reading from the earliest offset."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            **kafka_config,
            "group.id": f"test-{uuid.uuid4().hex[:10]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    yield consumer
    consumer.close()


@pytest.fixture(scope="session")
def hdfs_client(stack: dict[str, str]):
    from hdfs import InsecureClient

    return InsecureClient(stack["WEBHDFS_URI"], user=os.environ.get("USER", "root"))


@pytest.fixture
def hdfs_dir(hdfs_client) -> Iterator[str]:
    """A fresh HDFS directory, deleted after the test."""
    path = f"/tmp/test-{uuid.uuid4().hex[:10]}"
    hdfs_client.makedirs(path)
    yield path
    hdfs_client.delete(path, recursive=True)


@pytest.fixture(scope="session")
def mlflow_client(stack: dict[str, str]):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=stack["MLFLOW_TRACKING_URI"])


@pytest.fixture(scope="session")
def spark(stack_config: StackConfig) -> Iterator[object]:
    """A local SparkSession with Kafka's connector on its classpath. It needs no running stack
    (only the fetched connector jars); tests reach HDFS or Kafka by asking for `stack` too. One
    per test session: Spark keeps a single active session per process."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # any Python worker Spark starts
    session = (
        SparkSession.builder.master("local[2]")
        .appName("continuum-tests")
        .config("spark.jars", ",".join(str(jar) for jar in stack_config.spark_jars))
        .config("spark.driver.memory", "1g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    yield session
    session.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder: tests/unit → unit, tests/integration → integration."""
    for item in items:
        for kind in ("unit", "integration", "e2e"):
            if f"{os.sep}tests{os.sep}{kind}{os.sep}" in str(item.path):
                item.add_marker(getattr(pytest.mark, kind))


SPARK_APPLICATIONS = ("sparkoperator.k8s.io", "v1beta2", "sparkapplications")
FINISHED_STATES = ("COMPLETED", "FAILED")


@pytest.fixture
def run_spark_application(k8s_api, namespace) -> Callable[..., tuple[dict, list[str]]]:
    """Runs a PySpark file of this checkout as a SparkApplication in the test's namespace (the
    stack's spark-operator stand-in executes it); returns the finished object and every
    applicationState seen on the way."""
    from kubernetes import client

    api = client.CustomObjectsApi(k8s_api)
    group, version, plural = SPARK_APPLICATIONS

    def run(
        name: str, main_file: str, arguments: list[str], timeout: float = 300
    ) -> tuple[dict, list[str]]:
        body = {
            "apiVersion": f"{group}/{version}",
            "kind": "SparkApplication",
            "metadata": {"name": name},
            "spec": {
                "type": "Python",
                "mode": "cluster",
                "sparkVersion": "4.2.0",
                "image": "registry.example/continuum:dev",
                "mainApplicationFile": f"local:///opt/continuum/{main_file}",
                "arguments": arguments,
                "sparkConf": {"spark.sql.shuffle.partitions": "4"},
                "driver": {"cores": 2, "memory": "1g"},
                "executor": {"cores": 1, "instances": 1, "memory": "512m"},
            },
        }
        api.create_namespaced_custom_object(group, version, namespace, plural, body)
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            app = api.get_namespaced_custom_object(group, version, namespace, plural, name)
            state = app.get("status", {}).get("applicationState", {}).get("state", "")
            if state and (not seen or seen[-1] != state):
                seen.append(state)
            if state in FINISHED_STATES:
                return app, seen
            time.sleep(0.5)
        raise AssertionError(f"{name} did not finish in {timeout:.0f} s; states seen: {seen}")

    return run
