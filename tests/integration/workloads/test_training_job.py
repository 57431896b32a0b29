"""The training job end to end on the local stack: HDFS batches in, run as a SparkApplication by
the spark-operator stand-in, an ensemble with stacking recorded in the real MLflow, a registered
PipelineModel that loads and scores, the cleaned train set exported to HDFS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from continuum_operator.api import MLFLOW_BATCHES_TAG, MLFLOW_RUN_ID_TAG
from continuum_workloads.dataset.generator import write_csv
from continuum_workloads.dataset.loader import read_listings
from continuum_workloads.dataset.schema import COLUMNS
from continuum_workloads.dataset.split import split_csv
from rich.console import Console

JOB = "workloads/continuum_workloads/training/job.py"
ROWS = 20_000
MEMBERS = ("gbt", "randomForest", "linearRegression")
# The stack may lose a little to its best member on one holdout; it must not lose more.
STACK_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def used_cars(stack, hdfs_client, tmp_path_factory) -> Iterator[str]:
    """~20k generated listings on HDFS: <root>/incoming/batch-000{1,2}, <root>/incoming-test."""
    csv = tmp_path_factory.mktemp("cars") / "cars.csv"
    write_csv(csv, ROWS, seed=11)
    root = f"/test-training-{uuid.uuid4().hex[:8]}"
    split_csv(
        csv, f"{stack['HDFS_URI']}{root}/incoming", batches=2, test_fraction=0.1,
        webhdfs_url=stack["WEBHDFS_URI"], console=Console(quiet=True),
    )  # fmt: skip
    yield root
    hdfs_client.delete(root, recursive=True)


def job_arguments(stack: dict[str, str], data_uri: str, model: str, run_id: str) -> list[str]:
    return [
        "--run-id", run_id, "--pipeline", "tests/used-cars", "--data-uri", data_uri,
        "--mlflow-tracking-uri", stack["MLFLOW_TRACKING_URI"],
        "--mlflow-experiment", f"tests-{model}", "--registered-model", model,
        "--cv-folds", "3", "--cv-parallelism", "1",
    ]  # fmt: skip


def test_a_run_registers_a_stacked_model_with_every_member_recorded(
    stack, used_cars, run_spark_application, mlflow_client, spark
):
    model_name = f"used-cars-{uuid.uuid4().hex[:8]}"
    export_uri = f"{stack['HDFS_URI']}{used_cars}/train-set"
    arguments = [
        *job_arguments(stack, f"{stack['HDFS_URI']}{used_cars}/incoming", model_name, "train-1"),
        "--batch", "batch-0002", "--train-set-export-uri", export_uri,
    ]  # fmt: skip
    app, seen = run_spark_application("train-1", JOB, arguments, timeout=900)
    assert seen[-1] == "COMPLETED", app["status"]["applicationState"]

    [version] = mlflow_client.search_model_versions(f"name='{model_name}'")
    assert version.tags[MLFLOW_RUN_ID_TAG] == "train-1"
    assert version.tags[MLFLOW_BATCHES_TAG] == "batch-0001,batch-0002"  # history mode All
    run = mlflow_client.get_run(version.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags[MLFLOW_RUN_ID_TAG] == "train-1"
    stack_metrics = run.data.metrics
    assert {"rmse", "mae", "r2", "rows_read", "rows_kept", "rows_train"} <= set(stack_metrics)
    assert sum(v for k, v in stack_metrics.items() if k.startswith("rows_rejected.")) > 0
    assert "champion_rmse" not in stack_metrics  # the first model has no champion to face

    children = mlflow_client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    members = {child.data.params["member"]: child.data for child in children}
    assert set(members) == set(MEMBERS)
    for member in members.values():
        assert {"rmse", "mae", "r2", "cv_rmse", "train_seconds", "validation_seconds"} <= set(
            member.metrics
        )
    best_member_rmse = min(member.metrics["rmse"] for member in members.values())
    assert stack_metrics["rmse"] <= best_member_rmse * (1 + STACK_TOLERANCE)
    assert stack_metrics["r2"] > 0.8

    model = mlflow.spark.load_model(f"models:/{model_name}/{version.version}")
    test_rows = read_listings(spark, f"{stack['HDFS_URI']}{used_cars}/incoming-test")
    scored = model.transform(test_rows.drop("price")).select("prediction").toPandas()
    assert len(scored) == test_rows.count() > 0
    assert scored["prediction"].notna().all()

    exported = spark.read.parquet(export_uri)
    assert (
        exported.count()
        == stack_metrics["rows_train"]
        + stack_metrics["rows_holdout"]
        - (stack_metrics["rows_holdout"])
    )


def test_a_batch_missing_columns_fails_the_run_and_registers_nothing(
    stack, hdfs_client, run_spark_application, mlflow_client, tmp_path: Path
):
    root = f"/test-bad-batch-{uuid.uuid4().hex[:8]}"
    header = ",".join(name for name in COLUMNS if name not in ("price", "year"))
    hdfs_client.write(f"{root}/batch-0001/part-00000.csv", data=f"{header}\n")
    hdfs_client.write(f"{root}/batch-0001/_SUCCESS", data="")
    model_name = f"used-cars-{uuid.uuid4().hex[:8]}"
    try:
        arguments = [
            *job_arguments(stack, f"{stack['HDFS_URI']}{root}", model_name, "train-bad"),
            "--batch", "batch-0001",
        ]  # fmt: skip
        app, seen = run_spark_application("train-bad", JOB, arguments, timeout=600)
    finally:
        hdfs_client.delete(root, recursive=True)
    assert seen[-1] == "FAILED"
    message = app["status"]["applicationState"]["errorMessage"]
    assert message == (
        "driver failed with exit code 1: training failed: input lacks required columns: price, year"
    )
    experiment = mlflow_client.get_experiment_by_name(f"tests-{model_name}")
    [run] = mlflow_client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["failure_reason"] == "input lacks required columns: price, year"
    assert mlflow_client.search_model_versions(f"name='{model_name}'") == []
