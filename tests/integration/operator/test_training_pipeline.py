"""The TrainingPipeline controller against the local stack's API server, HDFS and MLflow. The tests
play the spark-operator: their namespace is one the stand-in skips, and they write
`status.applicationState` themselves."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from kubernetes import client
from pipeline_harness import Pipelines

from continuum_operator.core.api import SPARK_APPLICATIONS_CRD
from continuum_operator.training.batches import PROCESSED_LIMIT
from continuum_workloads.contract import (
    DATA_ERROR,
    MLFLOW_CHAMPION_VERSION_TAG,
    MLFLOW_FAILURE_REASON_TAG,
    MLFLOW_FAILURE_TAG,
    MLFLOW_PIPELINE_TAG,
    MLFLOW_RUN_ID_TAG,
)
from localstack.components import SparkOperatorStandIn
from localstack.config import REPO_DIR, StackConfig
from localstack.harness import (
    Operator,
    kubectl,
    metric_sum,
    wait_for,
    wait_until_established,
)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda spec: spec["training"].pop("image"), "spec.training.image"),
        (lambda spec: spec.update(concurrencyPolicy="Sometimes"), "spec.concurrencyPolicy"),
        (lambda spec: spec.update(trigger={"schedule": "every day"}), "spec.trigger.schedule"),
        (lambda spec: spec["data"].update(pollInterval="-5s"), "spec.data.pollInterval"),
    ],
    ids=["missing-required", "bad-enum", "bad-cron", "negative-interval"],
)
def test_invalid_pipelines_are_rejected_naming_the_field(
    pipelines: Pipelines, valid_spec: dict[str, Any], change: Any, field: str
) -> None:
    spec = json.loads(json.dumps(valid_spec))
    change(spec)
    manifest = {
        "apiVersion": "continuum.ml/v1alpha1",
        "kind": "TrainingPipeline",
        "metadata": {"name": "invalid", "namespace": pipelines.namespace},
        "spec": spec,
    }
    applied = kubectl("apply", "-f", "-", stdin=json.dumps(manifest), check=False)
    assert applied.returncode != 0
    assert field in applied.stderr, applied.stderr
    assert pipelines.names() == []


def write_batch(hdfs_client: Any, directory: str, name: str, *, complete: bool = True) -> None:
    hdfs_client.write(f"{directory}/{name}/part-0000.csv", data="price\n1\n", overwrite=True)
    if complete:
        hdfs_client.write(f"{directory}/{name}/_SUCCESS", data="", overwrite=True)


def arguments_of(app: dict[str, Any], flag: str) -> list[str]:
    arguments = app["spec"]["arguments"]
    return [arguments[i + 1] for i, item in enumerate(arguments) if item == flag]


def register_version(
    mlflow_client: Any,
    model: str,
    app: dict[str, Any],
    metrics: dict[str, float],
    scored_against: str | None = None,
) -> str:
    """What the training job of `app` leaves in MLflow: a run with metrics (and the champion
    version it scored, if any), a version tagged with the run and the pipeline."""
    experiment = mlflow_client.get_experiment_by_name("continuum-operator-tests")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else mlflow_client.create_experiment("continuum-operator-tests")
    )
    [run_name] = arguments_of(app, "--run-id")
    [pipeline] = arguments_of(app, "--pipeline")
    tags = {MLFLOW_RUN_ID_TAG: run_name, MLFLOW_PIPELINE_TAG: pipeline}
    run_tags = {**tags, **({MLFLOW_CHAMPION_VERSION_TAG: scored_against} if scored_against else {})}
    run = mlflow_client.create_run(experiment_id, tags=run_tags)
    for key, value in metrics.items():
        mlflow_client.log_metric(run.info.run_id, key, value)
    mlflow_client.set_terminated(run.info.run_id)
    version = mlflow_client.create_model_version(
        model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id, tags=tags
    )
    return str(version.version)


def champion(mlflow_client: Any, model: str) -> str | None:
    return mlflow_client.get_registered_model(model).aliases.get("champion")


def only_app(pipelines: Pipelines) -> dict[str, Any]:
    apps = pipelines.spark_applications()
    assert len(apps) == 1, [app["metadata"]["name"] for app in apps]
    return apps[0]


def decided(pipelines: Pipelines, name: str, run: str) -> dict[str, Any] | None:
    """The run's history record once it carries a promotion decision."""
    record = pipelines.runs(name).get(run)
    return record if record and record.get("promotion") else None


def test_batches_become_runs_that_promote_or_reject_in_mlflow(
    operator: Operator,
    pipelines: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    mlflow_client: Any,
    registered_model: str,
    watching_hdfs_dir: dict[str, Any],
    stack: dict[str, str],
) -> None:
    name = "used-cars"
    spec = {
        **watching_hdfs_dir,
        "mlflow": {
            "trackingUri": stack["MLFLOW_TRACKING_URI"],
            "registeredModel": registered_model,
        },
        "trainSetExportUri": f"{stack['HDFS_URI']}{hdfs_dir}-train",
    }
    write_batch(hdfs_client, hdfs_dir, "batch-0001", complete=False)
    pipelines.apply(name, spec)
    wait_for(lambda: pipelines.status(name).get("phase") == "Pending", what="phase Pending")
    wait_for(
        lambda: (pipelines.condition(name, "Ready") or {}).get("status") == "True",
        what="Ready=True",
    )
    passes(operator, 3)  # three polls, each listing the batch: an incomplete one starts nothing
    assert pipelines.spark_applications() == []

    # The marker lands: exactly one run, for that batch, built from the spec.
    hdfs_client.write(f"{hdfs_dir}/batch-0001/_SUCCESS", data="", overwrite=True)
    first = wait_for(lambda: pipelines.spark_applications(), what="a SparkApplication")
    first = only_app(pipelines)
    first_name = first["metadata"]["name"]
    owner = first["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("TrainingPipeline", name, True)
    assert owner["uid"] == pipelines.get(name)["metadata"]["uid"]
    assert first["metadata"]["labels"]["continuum.ml/pipeline"] == name
    assert first["spec"]["image"] == "continuum/training:test"
    assert first["spec"]["sparkVersion"] == "4.2.0"
    assert arguments_of(first, "--batch") == ["batch-0001"]
    assert arguments_of(first, "--run-id") == [first_name]
    assert arguments_of(first, "--registered-model") == [registered_model]
    assert arguments_of(first, "--data-uri") == [spec["data"]["uri"]]
    assert arguments_of(first, "--train-set-export-uri") == [spec["trainSetExportUri"]]

    # Running; two batches land meanwhile; the operator is killed and restarted: still one run.
    pipelines.set_state(first_name, "SUBMITTED")
    pipelines.set_state(first_name, "RUNNING")
    wait_for(lambda: pipelines.status(name).get("phase") == "Training", what="phase Training")
    write_batch(hdfs_client, hdfs_dir, "batch-0002")
    write_batch(hdfs_client, hdfs_dir, "batch-0003")
    wait_for(
        lambda: any(reason == "BatchDetected" and "batch-0003" in message
                    for _, reason, message in pipelines.events(name)),
        what="BatchDetected for batch-0003",
    )  # fmt: skip
    operator.kill()
    operator.start()
    passes(operator, 3)
    assert only_app(pipelines)["metadata"]["name"] == first_name
    assert pipelines.status(name)["currentRun"] == first_name

    # The job registers the first model and completes: promoted, the alias moves.
    first_version = register_version(
        mlflow_client, registered_model, first, {"rmse": 10.0, "r2": 0.8}
    )
    pipelines.set_state(first_name, "COMPLETED", terminationTime="2026-01-01T00:00:00Z")
    wait_for(lambda: champion(mlflow_client, registered_model), what="the champion alias")
    assert champion(mlflow_client, registered_model) == first_version
    record = wait_for(lambda: decided(pipelines, name, first_name), what="the first decision")
    assert record["state"] == "Succeeded"
    assert record["promotion"]["decision"] == "Promoted"
    assert record["modelVersion"] == first_version
    assert record["metrics"]["rmse"] == 10.0
    tags = mlflow_client.get_model_version(registered_model, first_version).tags
    assert tags["continuum_promotion"] == "Promoted"

    # Exactly one follow-up run, covering both batches that landed during the first.
    wait_for(lambda: len(pipelines.spark_applications()) == 2, what="the follow-up run")
    second = pipelines.spark_applications()[1]
    second_name = second["metadata"]["name"]
    assert sorted(arguments_of(second, "--batch")) == ["batch-0002", "batch-0003"]
    passes(operator, 2)
    assert len(pipelines.spark_applications()) == 2

    # A worse model: rejected, the alias stays.
    second_version = register_version(
        mlflow_client,
        registered_model,
        second,
        {"rmse": 12.0, "champion_rmse": 10.0},
        scored_against=first_version,
    )
    pipelines.set_state(second_name, "RUNNING")
    pipelines.set_state(second_name, "COMPLETED", terminationTime="2026-01-01T00:10:00Z")
    record = wait_for(lambda: decided(pipelines, name, second_name), what="the second decision")
    assert record["promotion"]["decision"] == "Rejected"
    assert "rmse 12 against champion 10" in record["promotion"]["reason"]
    assert champion(mlflow_client, registered_model) == first_version
    tags = mlflow_client.get_model_version(registered_model, second_version).tags
    assert tags["continuum_promotion"] == "Rejected"

    status = wait_for(lambda: (s := pipelines.status(name)).get("phase") == "Idle" and s)
    assert status["lastBatch"] == "batch-0003"
    assert status["championVersion"] == first_version
    assert status["observedGeneration"] == pipelines.get(name)["metadata"]["generation"]
    reasons = [reason for _, reason, _ in pipelines.events(name)]
    for expected in ("BatchDetected", "RunStarted", "RunRunning", "RunSucceeded"):
        assert expected in reasons
    assert {"ModelPromoted", "ModelRejected"} <= set(reasons)

    table = kubectl("get", "tp", name, "-n", pipelines.namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "LAST-BATCH", "MODEL-VERSION", "READY", "AGE"]
    assert table[1].split()[:5] == [name, "Idle", "batch-0003", second_version, "True"]

    exposition = operator.metrics()
    assert 'continuum_training_runs_started_total{trigger="NewData"}' in exposition
    assert "continuum_batch_marker_to_run_seconds_count" in exposition

    # Deleting the pipeline garbage-collects its SparkApplications.
    kubectl("delete", "tp", name, "-n", pipelines.namespace, "--wait=true", "--timeout=30s")
    wait_for(lambda: pipelines.spark_applications() == [], timeout=60, what="garbage collection")


def reconciles(operator: Operator) -> float:
    return metric_sum(operator.metrics(), "continuum_reconciles_total")


def passes(operator: Operator, count: int) -> None:
    """Waits until the operator has finished `count` more passes than now: whatever they would
    have done is done."""
    target = reconciles(operator) + count
    wait_for(lambda: reconciles(operator) >= target, what=f"{count} more passes")


def on_model(spec: dict[str, Any], tracking_uri: str, model: str) -> dict[str, Any]:
    return {**spec, "mlflow": {"trackingUri": tracking_uri, "registeredModel": model}}


def test_two_pipelines_promoting_to_one_model_compare_and_set_its_alias(
    operator: Operator,
    pipelines: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    mlflow_client: Any,
    registered_model: str,
    watching_hdfs_dir: dict[str, Any],
    stack: dict[str, str],
) -> None:
    spec = on_model(watching_hdfs_dir, stack["MLFLOW_TRACKING_URI"], registered_model)
    write_batch(hdfs_client, hdfs_dir, "batch-0001")
    pipelines.apply("left", spec)
    pipelines.apply("right", spec)
    apps = wait_for(lambda: len(a := pipelines.spark_applications()) == 2 and a, what="two runs")
    runs = {app["metadata"]["labels"]["continuum.ml/pipeline"]: app for app in apps}
    # Both trained while the model had no champion, so each would be its first model.
    versions = {
        name: register_version(mlflow_client, registered_model, app, {"rmse": rmse})
        for (name, app), rmse in zip(sorted(runs.items()), (10.0, 9.0), strict=True)
    }
    for app in apps:
        pipelines.set_state(app["metadata"]["name"], "COMPLETED")

    records = {
        name: wait_for(
            lambda name=name: decided(pipelines, name, runs[name]["metadata"]["name"]),
            what=f"the decision of {name}",
        )
        for name in runs
    }
    decisions = {name: record["promotion"]["decision"] for name, record in records.items()}
    assert sorted(decisions.values()) == ["Promoted", "Rejected"], records
    [winner] = [name for name, decision in decisions.items() if decision == "Promoted"]
    [loser] = [name for name in runs if name != winner]
    assert champion(mlflow_client, registered_model) == versions[winner]
    assert (
        f"the champion moved from version none to {versions[winner]}"
        in records[loser]["promotion"]["reason"]
    )
    for name in runs:
        assert records[name]["modelVersion"] == versions[name]
        tags = mlflow_client.get_model_version(registered_model, versions[name]).tags
        assert tags["continuum_promotion"] == decisions[name]

    passes(operator, 4)  # later passes of either pipeline leave the alias where it is
    assert champion(mlflow_client, registered_model) == versions[winner]
    assert pipelines.status(loser)["championVersion"] == versions[winner]


@pytest.fixture
def elsewhere(
    k8s_api: client.ApiClient,
    other_tp_namespace: str,
    start_operator: Callable[..., Operator],
) -> Iterator[Pipelines]:
    """Pipelines in a second namespace, with an operator of its own."""
    start_operator(other_tp_namespace)
    other = Pipelines(k8s_api, other_tp_namespace)
    yield other
    other.delete_all()


def test_pipelines_of_one_name_in_two_namespaces_on_one_model_keep_to_their_own_runs(
    operator: Operator,
    pipelines: Pipelines,
    elsewhere: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    mlflow_client: Any,
    registered_model: str,
    watching_hdfs_dir: dict[str, Any],
    stack: dict[str, str],
) -> None:
    spec = on_model(watching_hdfs_dir, stack["MLFLOW_TRACKING_URI"], registered_model)
    write_batch(hdfs_client, hdfs_dir, "batch-0001")
    teams = (pipelines, elsewhere)
    for team in teams:
        team.apply("used-cars", spec)
    apps = [wait_for(lambda t=team: t.spark_applications(), what="a run")[0] for team in teams]
    # The same batches for a pipeline of the same name: still a run id of each namespace's own.
    assert apps[0]["metadata"]["name"] != apps[1]["metadata"]["name"]
    versions = [
        register_version(mlflow_client, registered_model, app, {"rmse": rmse})
        for app, rmse in zip(apps, (10.0, 9.0), strict=True)
    ]

    for team, app, version in zip(teams, apps, versions, strict=True):
        run = app["metadata"]["name"]
        team.set_state(run, "COMPLETED")
        record = wait_for(lambda t=team, r=run: decided(t, "used-cars", r), what="a decision")
        assert record["modelVersion"] == version
    assert champion(mlflow_client, registered_model) == versions[0]
    rejected = decided(elsewhere, "used-cars", apps[1]["metadata"]["name"])
    assert rejected is not None and rejected["promotion"]["decision"] == "Rejected"


def fail_on_data(mlflow_client: Any, app: dict[str, Any], reason: str) -> None:
    """What the training job of `app` leaves in MLflow when it finds its data unusable."""
    [experiment_name] = arguments_of(app, "--mlflow-experiment")
    experiment = mlflow_client.get_experiment_by_name(experiment_name)
    experiment_id = (
        experiment.experiment_id if experiment else mlflow_client.create_experiment(experiment_name)
    )
    [run_name] = arguments_of(app, "--run-id")
    run = mlflow_client.create_run(
        experiment_id,
        run_name=run_name,
        tags={MLFLOW_FAILURE_TAG: DATA_ERROR, MLFLOW_FAILURE_REASON_TAG: reason},
    )
    mlflow_client.set_terminated(run.info.run_id, status="FAILED")


def failed_record(pipelines: Pipelines, name: str, run: str) -> dict[str, Any] | None:
    """The run's history record once its failure is known."""
    record = pipelines.runs(name).get(run)
    return record if record and record.get("failure") else None


def test_a_failed_run_is_reported_and_unreachable_dependencies_are_conditions(
    operator: Operator,
    pipelines: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    mlflow_client: Any,
    valid_spec: dict[str, Any],
    watching_hdfs_dir: dict[str, Any],
) -> None:
    write_batch(hdfs_client, hdfs_dir, "batch-0001")
    pipelines.apply("failing", watching_hdfs_dir)
    app = wait_for(lambda: pipelines.spark_applications(), what="a SparkApplication")[0]
    app_name = app["metadata"]["name"]
    fail_on_data(mlflow_client, app, "no rows left after cleaning")
    # All the spark-operator knows: the driver exited. The reason is the job's, from MLflow.
    pipelines.set_state(app_name, "FAILED", error="driver container failed with ExitCode: 1")
    record = wait_for(lambda: failed_record(pipelines, "failing", app_name), what="the failure")
    assert record["state"] == "Failed"
    assert record["failure"] == "DataError"
    assert record["message"] == "no rows left after cleaning"
    assert pipelines.status("failing")["phase"] == "Failed"
    failed_event = wait_for(
        lambda: [e for e in pipelines.events("failing") if e[1] == "RunFailed"], what="RunFailed"
    )
    assert failed_event[0][0] == "Warning"
    assert "no rows left after cleaning" in failed_event[0][2]
    assert "data error: not retried" in failed_event[0][2]

    unreachable = f"unreachable-{uuid.uuid4().hex[:4]}"
    pipelines.apply(
        unreachable,
        {
            **valid_spec,
            "data": {"uri": "webhdfs://127.0.0.1:9/data", "pollInterval": "1s"},
            "mlflow": {"trackingUri": "http://127.0.0.1:9", "registeredModel": "m"},
        },
    )
    data = wait_for(lambda: pipelines.condition(unreachable, "DataSourceAvailable"))
    assert data["status"] == "False"
    assert "webhdfs://127.0.0.1:9/data" in data["message"]
    registry = wait_for(lambda: pipelines.condition(unreachable, "RegistryAvailable"), timeout=60)
    assert registry["status"] == "False"
    assert "127.0.0.1:9" in registry["message"]
    ready = pipelines.condition(unreachable, "Ready")
    assert ready is not None and ready["status"] == "False"
    assert len(pipelines.spark_applications()) == 1


def test_a_run_that_failed_for_a_transient_reason_is_retried_up_to_the_limit(
    operator: Operator,
    pipelines: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    watching_hdfs_dir: dict[str, Any],
) -> None:
    write_batch(hdfs_client, hdfs_dir, "batch-0001")
    pipelines.apply("retrying", {**watching_hdfs_dir, "retry": {"limit": 1, "backoff": "5s"}})
    [first] = wait_for(pipelines.spark_applications, what="the first attempt")
    first_name = first["metadata"]["name"]
    # Evicted before the job reached MLflow: no MLflow run says the data was at fault.
    pipelines.set_state(first_name, "FAILED", error="driver pod evicted: node low on memory")
    record = wait_for(lambda: failed_record(pipelines, "retrying", first_name), what="a failure")
    assert (record["failure"], record["attempt"]) == ("Transient", 1)
    wait_for(lambda: pipelines.status("retrying").get("phase") == "Retrying", what="Retrying")

    [retry] = wait_for(
        lambda: [a for a in pipelines.spark_applications() if a["metadata"]["name"] != first_name],
        what="the retry",
    )
    retry_name = retry["metadata"]["name"]
    assert retry["metadata"]["annotations"]["continuum.ml/attempt"] == "2"
    assert arguments_of(retry, "--batch") == ["batch-0001"]
    failed_events = [m for _, reason, m in pipelines.events("retrying") if reason == "RunFailed"]
    assert "attempt 1 of 2, transient: retried in 5s" in failed_events[0]
    wait_for(lambda: pipelines.status("retrying").get("currentRun") == retry_name)

    pipelines.set_state(retry_name, "FAILED", error="driver pod evicted: node low on memory")
    record = wait_for(lambda: failed_record(pipelines, "retrying", retry_name), what="a failure")
    assert (record["failure"], record["attempt"]) == ("RetryLimit", 2)
    assert pipelines.status("retrying")["phase"] == "Failed"
    # Polled every second: twelve passes outlast the 10 s a further retry would wait.
    passes(operator, 12)
    assert len(pipelines.spark_applications()) == 2


def test_a_batch_landing_with_a_time_before_the_watermark_is_reported_until_renewed(
    operator: Operator,
    pipelines: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    watching_hdfs_dir: dict[str, Any],
) -> None:
    # More batches than status keeps by name: the oldest fold into the watermark.
    count = PROCESSED_LIMIT + 2
    for i in range(count):
        hdfs_client.write(f"{hdfs_dir}/batch-{i:04}.csv", data="price\n1\n")
    pipelines.apply("late", {**watching_hdfs_dir, "concurrencyPolicy": "Allow"})
    [first] = wait_for(pipelines.spark_applications, what="the run for every batch")
    assert len(arguments_of(first, "--batch")) == count
    watermark = wait_for(
        lambda: (pipelines.status("late").get("batches") or {}).get("watermark"),
        what="the watermark",
    )
    assert watermark["name"] == "batch-0001.csv"

    # Copied with its times preserved (hdfs dfs -cp -p): older than the watermark. It is written
    # aside and moved in, as the copy does, so that no pass sees it with a current time.
    late, staged = f"{hdfs_dir}/batch-0900.csv", f"{hdfs_dir}-staging/batch-0900.csv"
    try:
        hdfs_client.write(staged, data="price\n1\n")
        hdfs_client.set_times(staged, modification_time=watermark["modificationTime"] - 1000)
        hdfs_client.rename(staged, late)
    finally:
        hdfs_client.delete(f"{hdfs_dir}-staging", recursive=True)
    wait_for(lambda: pipelines.status("late").get("lateBatches") == 1, what="lateBatches 1")
    [event] = [e for e in pipelines.events("late") if e[1] == "BatchesBelowWatermark"]
    assert event[0] == "Warning" and "1 batch(es)" in event[2] and watermark["name"] in event[2]
    assert len(pipelines.spark_applications()) == 1

    # Its time renewed, it is a new batch: a run of its own, and nothing is late any more.
    hdfs_client.write(late, data="price\n1\n", overwrite=True)
    apps = wait_for(lambda: len(a := pipelines.spark_applications()) == 2 and a, what="a run")
    assert arguments_of(apps[1], "--batch") == ["batch-0900.csv"]
    wait_for(lambda: "lateBatches" not in pipelines.status("late"), what="lateBatches cleared")


RunInProgress = Callable[[str, str], dict[str, Any]]
"""(pipeline name, concurrency policy) → the run in progress when a second batch landed."""


@pytest.fixture
def run_in_progress_when_a_batch_lands(
    operator: Operator,
    pipelines: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    watching_hdfs_dir: dict[str, Any],
) -> RunInProgress:
    """Applies a pipeline with the given policy for batch-0001, lets its run reach RUNNING, then
    lands batch-0002; returns the run in progress."""

    def start(name: str, policy: str) -> dict[str, Any]:
        write_batch(hdfs_client, hdfs_dir, "batch-0001")
        pipelines.apply(name, {**watching_hdfs_dir, "concurrencyPolicy": policy})
        first = wait_for(lambda: pipelines.spark_applications(), what="the first run")[0]
        pipelines.set_state(first["metadata"]["name"], "RUNNING")
        wait_for(lambda: pipelines.status(name).get("phase") == "Training", what="phase Training")
        write_batch(hdfs_client, hdfs_dir, "batch-0002")
        return first

    return start


def test_replace_deletes_the_run_in_progress_and_starts_one_covering_its_batches(
    pipelines: Pipelines, run_in_progress_when_a_batch_lands: RunInProgress
) -> None:
    first = run_in_progress_when_a_batch_lands("replacing", "Replace")
    first_name = first["metadata"]["name"]

    [second] = wait_for(
        lambda: (
            (apps := pipelines.spark_applications())
            and all(app["metadata"]["name"] != first_name for app in apps)
            and apps
        ),
        what="the replacing run alone",
    )
    assert arguments_of(second, "--batch") == ["batch-0001", "batch-0002"]
    replaced = wait_for(
        lambda: (pipelines.runs("replacing").get(first_name) or {}).get("state") == "Aborted"
    )
    assert replaced
    assert pipelines.status("replacing")["currentRun"] == second["metadata"]["name"]
    assert any(
        reason == "RunReplaced" and first_name in message
        for _, reason, message in pipelines.events("replacing")
    )


def test_allow_starts_a_run_for_new_batches_beside_the_one_in_progress(
    operator: Operator, pipelines: Pipelines, run_in_progress_when_a_batch_lands: RunInProgress
) -> None:
    first = run_in_progress_when_a_batch_lands("allowing", "Allow")

    apps = wait_for(
        lambda: len(apps := pipelines.spark_applications()) == 2 and apps, what="a second run"
    )
    assert apps[0]["metadata"]["name"] == first["metadata"]["name"]
    assert [arguments_of(app, "--batch") for app in apps] == [["batch-0001"], ["batch-0002"]]
    assert apps[0]["status"]["applicationState"]["state"] == "RUNNING"
    passes(operator, 2)
    assert len(pipelines.spark_applications()) == 2
    assert set(pipelines.runs("allowing")) == {app["metadata"]["name"] for app in apps}


def polling_hourly(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with an hourly poll: a pass within the test's time is woken by something else."""
    return {**spec, "data": {**spec["data"], "pollInterval": "1h"}}


def daily_schedule_ticking_within_a_minute() -> tuple[str, datetime]:
    """A daily cron schedule whose one tick today comes 10 to 70 s from now, and that tick."""
    tick = (datetime.now(UTC) + timedelta(seconds=70)).replace(second=0, microsecond=0)
    return f"{tick.minute} {tick.hour} * * *", tick


def test_a_schedule_tick_starts_a_run_and_finished_runs_beyond_the_history_limit_are_pruned(
    operator: Operator, pipelines: Pipelines, watching_hdfs_dir: dict[str, Any]
) -> None:
    schedule, tick = daily_schedule_ticking_within_a_minute()
    spec = {
        **polling_hourly(watching_hdfs_dir),
        "trigger": {"schedule": schedule},
        "historyLimit": 1,
        "retry": {"limit": 0},
    }
    pipelines.apply("scheduled", spec)
    wait_for(lambda: pipelines.status("scheduled").get("phase") == "Pending", what="phase Pending")
    assert pipelines.spark_applications() == []

    [scheduled] = wait_for(lambda: pipelines.spark_applications(), timeout=100, what="the tick")
    annotations = scheduled["metadata"]["annotations"]
    assert annotations["continuum.ml/triggers"] == "Schedule"
    assert annotations["continuum.ml/schedule-time"] == tick.strftime("%Y-%m-%dT%H:%M:%SZ")
    started = datetime.fromisoformat(scheduled["metadata"]["creationTimestamp"])
    assert started >= tick
    scheduled_name = scheduled["metadata"]["name"]
    pipelines.set_state(scheduled_name, "FAILED", error="no input")
    wait_for(lambda: pipelines.status("scheduled").get("phase") == "Failed", what="phase Failed")
    assert (
        pipelines.status("scheduled")["lastScheduleTime"]
        == annotations["continuum.ml/schedule-time"]
    )

    kubectl("annotate", "tp", "scheduled", "continuum.ml/retrain=again", "-n", pipelines.namespace)
    [retrain] = wait_for(
        lambda: [
            a for a in pipelines.spark_applications() if a["metadata"]["name"] != scheduled_name
        ],
        what="the retrain run",
    )
    assert retrain["metadata"]["annotations"]["continuum.ml/triggers"] == "Manual"
    wait_for(
        lambda: pipelines.status("scheduled").get("currentRun") == retrain["metadata"]["name"],
        what="the retrain run as the current run",
    )

    # The retrain run finishes: the tick's run falls out of the one-run history, and its
    # SparkApplication goes with it.
    pipelines.set_state(retrain["metadata"]["name"], "FAILED", error="no input")
    wait_for(
        lambda: (
            [a["metadata"]["name"] for a in pipelines.spark_applications()]
            == [retrain["metadata"]["name"]]
        ),
        what="the tick's SparkApplication to be pruned",
    )
    runs = wait_for(lambda: (r := pipelines.runs("scheduled")) and len(r) == 1 and r)
    assert list(runs) == [retrain["metadata"]["name"]]
    pruned = [m for _, reason, m in pipelines.events("scheduled") if reason == "RunPruned"]
    assert pruned == [f"deleted finished run {scheduled_name}"]
    # A pass after the pruning one (a new generation asks for it) finds nothing more to prune or
    # to start: the hourly poll alone would not look again within the test.
    pipelines.apply("scheduled", {**spec, "data": {**spec["data"], "pollInterval": "59m"}})
    generation = pipelines.get("scheduled")["metadata"]["generation"]
    wait_for(
        lambda: pipelines.status("scheduled").get("observedGeneration") == generation,
        what="a pass of the new generation",
    )
    assert len(pipelines.spark_applications()) == 1
    assert len([e for e in pipelines.events("scheduled") if e[1] == "RunFailed"]) == 2


def test_without_the_spark_operator_a_pipeline_says_how_to_install_it_and_recovers_when_it_is(
    operator: Operator,
    pipelines: Pipelines,
    hdfs_client: Any,
    hdfs_dir: str,
    watching_hdfs_dir: dict[str, Any],
    stack_config: StackConfig,
) -> None:
    write_batch(hdfs_client, hdfs_dir, "batch-0001")
    kubectl("delete", "crd", SPARK_APPLICATIONS_CRD, "--wait=true", "--timeout=60s")
    try:
        pipelines.apply("no-spark", watching_hdfs_dir)
        ready = wait_for(
            lambda: (
                (c := pipelines.condition("no-spark", "Ready"))
                and c["reason"] == "SparkOperatorMissing"
                and c
            ),
            what="Ready=False, SparkOperatorMissing",
        )
        assert ready["status"] == "False"
        assert "helm install spark-operator" in ready["message"]
        passes(operator, 3)  # several passes: the operator keeps running, and reports it once
        assert operator.process is not None and operator.process.poll() is None
        warnings = [
            event for event in pipelines.events("no-spark") if event[1] == "SparkOperatorMissing"
        ]
        assert len(warnings) == 1 and warnings[0][0] == "Warning"

        # From now on the pipeline's own loop would sleep for an hour: only the CRD appearing
        # can wake it in time.
        pipelines.apply("no-spark", polling_hourly(watching_hdfs_dir))
        generation = pipelines.get("no-spark")["metadata"]["generation"]
        wait_for(
            lambda: pipelines.status("no-spark").get("observedGeneration") == generation,
            what="the pass that saw the hourly interval",
        )
    finally:
        SparkOperatorStandIn(stack_config).prepare()  # installs the CRD as the stack does
        wait_until_established(SPARK_APPLICATIONS_CRD)

    # The spark-operator arrives: the waiting batch gets its run at once, without a restart.
    [app] = wait_for(lambda: pipelines.spark_applications(), timeout=30, what="the run")
    assert arguments_of(app, "--batch") == ["batch-0001"]
    ready = wait_for(
        lambda: (c := pipelines.condition("no-spark", "Ready")) and c["status"] == "True" and c,
        what="Ready=True",
    )
    assert ready["reason"] == "Watching"


@pytest.fixture(scope="session")
def peering_crds(stack: dict[str, str]) -> None:
    """kopf's peering CRDs, from manifests/base/peering.yaml."""
    documents = yaml.safe_load_all((REPO_DIR / "manifests" / "base" / "peering.yaml").read_text())
    crds = [doc for doc in documents if doc["kind"] == "CustomResourceDefinition"]
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(crds))
    wait_until_established(*(crd["metadata"]["name"] for crd in crds))


@pytest.fixture
def peering(tp_namespace: str, peering_crds: None) -> Iterator[str]:
    """A peering object of a name of its own, as manifests/base/peering.yaml makes `continuum`: the
    ClusterKopfPeering, and with `-n` the KopfPeering in the served namespace."""
    name = f"continuum-{uuid.uuid4().hex[:6]}"
    objects = yaml.safe_dump_all(
        [
            {"apiVersion": "kopf.dev/v1", "kind": kind, "metadata": metadata}
            for kind, metadata in (
                ("ClusterKopfPeering", {"name": name}),
                ("KopfPeering", {"name": name, "namespace": tp_namespace}),
            )
        ]
    )
    kubectl("apply", "-f", "-", stdin=objects)
    yield name
    kubectl("delete", "--ignore-not-found", "-f", "-", stdin=objects)


def test_of_two_replicas_only_one_acts_and_the_other_takes_over_when_it_stops(
    start_operator: Callable[..., Operator],
    tp_namespace: str,
    peering: str,
    pipelines: Pipelines,
    watching_hdfs_dir: dict[str, Any],
) -> None:
    active = start_operator(tp_namespace, peering=(peering, 200))
    standby = start_operator(tp_namespace, peering=(peering, 100))
    pipelines.apply("replicated", watching_hdfs_dir)
    wait_for(lambda: reconciles(active) >= 5, what="passes by the higher-priority replica")
    assert reconciles(standby) == 0
    assert standby.alive()

    active.stop()  # a graceful exit withdraws it from the peering
    wait_for(lambda: reconciles(standby) >= 3, timeout=90, what="the other replica taking over")
