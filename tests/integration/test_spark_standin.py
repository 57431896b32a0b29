"""The local stack's spark-operator stand-in runs SparkApplications as the spark-operator would
report them: SUBMITTED → RUNNING → COMPLETED, or FAILED with the driver's reason."""

from __future__ import annotations

import time

from kubernetes import client

from localstack.components import SparkOperatorStandIn

APPS = "tests/data/spark_apps"


def test_an_application_runs_to_completed(run_spark_application):
    app, seen = run_spark_application("count", f"{APPS}/count_range.py", ["1000"])
    assert seen[-1] == "COMPLETED", app["status"]
    assert set(seen) <= {"SUBMITTED", "RUNNING", "COMPLETED"}
    assert "RUNNING" in seen
    assert app["status"]["driverInfo"]["podName"] == "count-driver"
    assert app["status"]["terminationTime"]


def test_a_failing_application_reaches_failed_with_the_reason(run_spark_application):
    app, seen = run_spark_application("reject", f"{APPS}/reject_batch.py", ["batch-0007"])
    assert seen[-1] == "FAILED"
    assert app["status"]["applicationState"]["errorMessage"] == (
        "driver failed with exit code 1: batch batch-0007 rejected: missing columns price, year"
    )


def test_namespaces_labelled_skip_are_left_to_the_test(k8s_api, namespace, stack_config):
    core, api = client.CoreV1Api(k8s_api), client.CustomObjectsApi(k8s_api)
    skip = {"metadata": {"labels": {"continuum.ml/spark-standin": "skip"}}}
    core.patch_namespace(namespace, skip)
    body = {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": "untouched"},
        "spec": {
            "type": "Python",
            "sparkVersion": "4.2.0",
            "mainApplicationFile": f"local:///opt/continuum/{APPS}/count_range.py",
            "driver": {},
            "executor": {},
        },
    }
    api.create_namespaced_custom_object(
        "sparkoperator.k8s.io", "v1beta2", namespace, "sparkapplications", body
    )
    time.sleep(3)
    app = api.get_namespaced_custom_object(
        "sparkoperator.k8s.io", "v1beta2", namespace, "sparkapplications", "untouched"
    )
    assert "status" not in app
    assert SparkOperatorStandIn(stack_config).health() is None, "the stand-in stopped"
