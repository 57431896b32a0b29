"""The local stack's spark-operator stand-in runs SparkApplications as the spark-operator would
report them: SUBMITTED → RUNNING → COMPLETED, or FAILED with the driver's reason."""

from __future__ import annotations

import time

from kubernetes import client

GROUP, VERSION, PLURAL = "sparkoperator.k8s.io", "v1beta2", "sparkapplications"


def spark_application(name: str, script: str, arguments: list[str]) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SparkApplication",
        "metadata": {"name": name},
        "spec": {
            "type": "Python",
            "mode": "cluster",
            "sparkVersion": "4.0.0",
            "image": "registry.example/continuum:dev",
            "mainApplicationFile": f"local:///opt/continuum/tests/data/spark_apps/{script}",
            "arguments": arguments,
            "sparkConf": {"spark.sql.shuffle.partitions": "2"},
            "driver": {"cores": 1, "memory": "512m"},
            "executor": {"cores": 1, "instances": 1, "memory": "512m"},
        },
    }


def run_to_the_end(k8s_api, namespace: str, body: dict) -> tuple[dict, list[str]]:
    """Create the application; return its final object and every state seen on the way."""
    api = client.CustomObjectsApi(k8s_api)
    name = body["metadata"]["name"]
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    seen: list[str] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        app = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        state = app.get("status", {}).get("applicationState", {}).get("state", "")
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        if state in ("COMPLETED", "FAILED"):
            return app, seen
        time.sleep(0.2)
    raise AssertionError(f"{name} did not finish in 300 s; states seen: {seen}")


def test_an_application_runs_to_completed(k8s_api, namespace):
    app, seen = run_to_the_end(
        k8s_api, namespace, spark_application("count", "count_range.py", ["1000"])
    )
    assert seen[-1] == "COMPLETED", app["status"]
    assert set(seen) <= {"SUBMITTED", "RUNNING", "COMPLETED"}
    assert "RUNNING" in seen
    assert app["status"]["driverInfo"]["podName"] == "count-driver"
    assert app["status"]["terminationTime"]


def test_a_failing_application_reaches_failed_with_the_reason(k8s_api, namespace):
    app, seen = run_to_the_end(
        k8s_api, namespace, spark_application("reject", "reject_batch.py", ["batch-0007"])
    )
    assert seen[-1] == "FAILED"
    message = app["status"]["applicationState"]["errorMessage"]
    assert message == (
        "driver failed with exit code 1: batch batch-0007 rejected: missing columns price, year"
    )


def test_namespaces_labelled_skip_are_left_to_the_test(k8s_api, namespace):
    core, api = client.CoreV1Api(k8s_api), client.CustomObjectsApi(k8s_api)
    core.patch_namespace(
        namespace, {"metadata": {"labels": {"continuum.ml/spark-standin": "skip"}}}
    )
    body = spark_application("untouched", "count_range.py", ["10"])
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    time.sleep(3)
    app = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "untouched")
    assert "status" not in app
