"""The training job end to end on the local stack: HDFS batches in, a TrainingPipeline whose runs
the operator starts and the spark-operator stand-in executes, an ensemble with stacking recorded in
the real MLflow, the promotion gate applied to the champion's score on the same holdout, a
registered PipelineModel that loads and scores, the cleaned train set exported to HDFS.

Before that, the training pieces on a local Spark: batches with empty columns, what blank flags
become, and a saved model that loads and scores without this package."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pyspark
import pytest
from kubernetes import client
from pipeline_harness import Pipelines
from pyspark.sql import functions as F
from rich.console import Console

from continuum_workloads.contract import (
    DATA_ERROR,
    MLFLOW_BATCHES_TAG,
    MLFLOW_FAILURE_TAG,
    MLFLOW_RUN_ID_TAG,
)
from continuum_workloads.dataset.generator import write_csv
from continuum_workloads.dataset.loader import read_listings
from continuum_workloads.dataset.schema import COLUMNS
from continuum_workloads.dataset.split import split_csv
from continuum_workloads.training.ensemble import (
    FOLD,
    compose,
    cross_fit,
    fit_stacker,
    training_rows,
)
from continuum_workloads.training.features import (
    REQUIRED_COLUMNS,
    clean,
    count_values_per_fold,
    input_stage,
    usable_inputs,
)
from continuum_workloads.training.members import build_member
from localstack.harness import Operator, kubectl, wait_for

JOB = "workloads/continuum_workloads/training/job.py"
ROWS = 20_000
MEMBERS = ("randomForest", "linearRegression")  # the default ensemble
# The stack may lose a little to its best member on one holdout; it must not lose more.
STACK_TOLERANCE = 0.05
RUN_TIMEOUT = 900


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


EMPTIED = ("torque", "length", "owner_count", "exterior_color")


def listings_with_empty_columns(spark: Any, directory: Path, rows: int) -> Any:
    """Generated listings with every value of `EMPTIED` blank, as read from the file."""
    generated = directory / "generated.csv"
    write_csv(generated, rows, seed=5)
    with generated.open(newline="", encoding="utf-8") as source:
        listings = list(csv.DictReader(source))
    emptied = directory / "emptied.csv"
    with emptied.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({**listing, **dict.fromkeys(EMPTIED, "")} for listing in listings)
    return read_listings(spark, str(emptied), required=REQUIRED_COLUMNS)


def fit_model(spark: Any, raw: Any, folds: int = 2) -> tuple[Any, Any]:
    """The job's training steps on `raw`, with small members: (inputs, PipelineModel)."""
    kept, _ = clean(raw)
    rows = training_rows(kept, folds, seed=7).cache()
    inputs = usable_inputs(count_values_per_fold(rows, FOLD, folds))
    members = [build_member(name, seed=7) for name in ("gbt", "linearRegression")]
    crossed = cross_fit(spark, members, inputs, rows, folds, 1, 1)
    assembler, stacker = fit_stacker(crossed.members, crossed.out_of_fold)
    rows.unpersist()
    return inputs, compose(crossed.features, crossed.members, assembler, stacker)


def test_a_batch_with_entirely_empty_columns_trains_without_them(spark, tmp_path: Path):
    raw = listings_with_empty_columns(spark, tmp_path, rows=400)

    inputs, model = fit_model(spark, raw)

    assert set(inputs.dropped) == set(EMPTIED)
    assert not set(EMPTIED) & {*inputs.numeric, *inputs.categorical}
    scored = model.transform(raw.drop("price")).select("prediction").toPandas()
    assert len(scored) == 400
    assert scored["prediction"].notna().all() and (scored["prediction"] > 0).all()


def test_blank_flags_become_false_or_unknown_as_the_dataset_means(spark):
    header = ("is_cpo", "is_oemcpo", "has_accidents", "salvage")
    raw = spark.createDataFrame(
        [("True", None, "True", "False"), (None, "True", None, None)], list(header)
    )
    # Only the flags matter here; every other published input is absent (null).
    absent = [c for c in REQUIRED_COLUMNS if c not in header]
    raw = raw.select("*", *(F.lit(None).cast("string").alias(c) for c in absent))

    first, second = input_stage().transform(raw).collect()

    assert (first["is_cpo_flag"], second["is_cpo_flag"]) == (1.0, 0.0)
    assert (first["is_oemcpo_flag"], second["is_oemcpo_flag"]) == (0.0, 1.0)
    assert (first["has_accidents_flag"], first["has_accidents_stated"]) == (1.0, 1.0)
    assert (first["salvage_flag"], first["salvage_stated"]) == (0.0, 1.0)
    # Not reported: neither true nor a stated "no".
    assert (second["has_accidents_flag"], second["has_accidents_stated"]) == (0.0, 0.0)
    assert "is_cpo_stated" not in input_stage().transform(raw).columns


LOAD_WITHOUT_THE_PACKAGE = textwrap.dedent(
    """
    import sys
    sys.modules["continuum_workloads"] = None  # any import of it now fails
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false") \
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1") \
        .getOrCreate()
    model, listings = sys.argv[1], sys.argv[2]
    raw = spark.read.options(header="true", multiLine="true", escape='"').csv(listings)
    for row in PipelineModel.load(model).transform(raw).select("prediction").collect():
        print(row["prediction"])
    """
)


def test_the_model_loads_and_scores_raw_listings_without_this_package(spark, tmp_path: Path):
    source = tmp_path / "listings.csv"
    write_csv(source, 300, seed=9)
    raw = read_listings(spark, str(source))
    _, model = fit_model(spark, raw)
    model.write().overwrite().save(str(tmp_path / "model"))
    expected = [row["prediction"] for row in model.transform(raw).select("prediction").collect()]

    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_THE_PACKAGE, str(tmp_path / "model"), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert [float(line) for line in loaded.stdout.split()] == pytest.approx(expected)


def job_arguments(stack: dict[str, str], data_uri: str, model: str, run_id: str) -> list[str]:
    return [
        "--run-id", run_id, "--pipeline", "tests/used-cars", "--data-uri", data_uri,
        "--mlflow-tracking-uri", stack["MLFLOW_TRACKING_URI"],
        "--mlflow-experiment", f"tests-{model}", "--registered-model", model,
        "--cv-folds", "3", "--cv-parallelism", "1",
    ]  # fmt: skip


def finished_run(pipelines: Pipelines, name: str, run: str) -> dict[str, Any] | None:
    """The run's history record once it is settled: failed, or succeeded with a decision."""
    record = pipelines.runs(name).get(run)
    if record and (record["state"] in ("Failed", "Aborted") or record.get("promotion")):
        return record
    return None


def newest_app(pipelines: Pipelines, after: set[str]) -> str | None:
    names = [app["metadata"]["name"] for app in pipelines.spark_applications()]
    return next((name for name in names if name not in after), None)


@pytest.mark.timeout(2 * RUN_TIMEOUT + 300)  # two runs, each up to RUN_TIMEOUT
def test_runs_started_by_the_operator_train_register_and_face_the_champion(
    stack: dict[str, str],
    hdfs_client: Any,
    used_cars: str,
    namespace: str,
    crds: None,
    k8s_api: client.ApiClient,
    start_operator: Callable[..., Operator],
    mlflow_client: Any,
    spark: Any,
) -> None:
    model_name = f"used-cars-{uuid.uuid4().hex[:8]}"
    export_uri = f"{stack['HDFS_URI']}{used_cars}/train-sets"
    pipelines = Pipelines(k8s_api, namespace)
    start_operator(namespace)
    spec = {
        "data": {
            "uri": f"{stack['HDFS_URI']}{used_cars}/incoming",
            "batchPattern": "batch-*",
            "pollInterval": "2s",
        },
        "training": {
            "image": "continuum/training:test",
            "sparkVersion": "4.2.0",
            "driver": {"cores": 2, "memory": "2g"},
            "crossValidation": {"folds": 3, "parallelism": 1},
        },
        "mlflow": {
            "trackingUri": stack["MLFLOW_TRACKING_URI"],
            "experiment": f"tests-{model_name}",
            "registeredModel": model_name,
        },
        "trainSetExportUri": export_uri,
    }
    try:
        pipelines.apply("used-cars", spec)

        # Both batches are complete: one run for both, trained, registered, promoted.
        first = wait_for(lambda: newest_app(pipelines, set()), what="the first run")
        record = wait_for(
            lambda: finished_run(pipelines, "used-cars", first), timeout=RUN_TIMEOUT, what=first
        )
        assert record["state"] == "Succeeded", record
        assert record["promotion"]["decision"] == "Promoted"
        assert record["modelVersion"] == "1"
        champion = mlflow_client.get_registered_model(model_name).aliases["champion"]
        assert champion == "1"

        [version] = mlflow_client.search_model_versions(f"name='{model_name}'")
        assert version.tags[MLFLOW_RUN_ID_TAG] == first
        assert version.tags[MLFLOW_BATCHES_TAG] == "batch-0001,batch-0002"
        assert version.tags["continuum_promotion"] == "Promoted"
        run = mlflow_client.get_run(version.run_id)
        assert run.info.status == "FINISHED"
        assert record["mlflowRunId"] == run.info.run_id
        stack_metrics = run.data.metrics
        assert {"rmse", "mae", "r2", "rows_read", "rows_kept", "rows_train"} <= set(stack_metrics)
        assert record["metrics"]["rmse"] == pytest.approx(stack_metrics["rmse"])
        assert sum(v for k, v in stack_metrics.items() if k.startswith("rows_rejected.")) > 0
        assert "champion_rmse" not in stack_metrics  # the first model has no champion to face
        assert run.data.tags["dropped_inputs"] == ""  # generated listings fill every input

        children = mlflow_client.search_runs(
            [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
        )
        members = {child.data.params["member"]: child.data for child in children}
        assert set(members) == set(MEMBERS)
        for member in members.values():
            # Fitting time per round: each of the 3 folds, then all training rows.
            rounds = {f"train_seconds.round_{i}" for i in range(4)}
            assert {"rmse", "mae", "r2", "cv_rmse", "train_seconds", *rounds} <= set(member.metrics)
        best_member_rmse = min(member.metrics["rmse"] for member in members.values())
        assert stack_metrics["rmse"] <= best_member_rmse * (1 + STACK_TOLERANCE)
        assert stack_metrics["r2"] > 0.8

        model = mlflow.spark.load_model(f"models:/{model_name}@champion")
        # The stated environment: Spark's own stages need pyspark, nothing of this project.
        requirements = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{model_name}/1"))
        pins = requirements.read_text().split()
        assert f"pyspark=={pyspark.__version__}" in pins
        assert not [pin for pin in pins if "continuum" in pin]
        test_rows = read_listings(spark, f"{stack['HDFS_URI']}{used_cars}/incoming-test")
        scored = model.transform(test_rows.drop("price")).select("prediction").toPandas()
        assert len(scored) == test_rows.count() > 0
        assert scored["prediction"].notna().all()

        assert run.data.params["train_set_uri"] == f"{export_uri}/{first}"
        exported = spark.read.parquet(f"{export_uri}/{first}")
        assert exported.count() == stack_metrics["rows_train"]

        # A manual retrain of a linear model alone: the job scores the champion on the same
        # holdout, and the gate compares the two.
        pipelines.apply(
            "used-cars",
            {**spec, "training": {**spec["training"], "ensemble": ["linearRegression"]}},
        )
        kubectl("annotate", "tp", "used-cars", "-n", namespace, "continuum.ml/retrain=1")
        second = wait_for(lambda: newest_app(pipelines, {first}), what="the manual run")
        record = wait_for(
            lambda: finished_run(pipelines, "used-cars", second), timeout=RUN_TIMEOUT, what=second
        )
        assert record["state"] == "Succeeded", record
        assert record["triggers"] == ["Manual"]
        candidate = mlflow_client.get_run(record["mlflowRunId"]).data
        assert candidate.tags["champion_version"] == "1"
        # The same holdout rows and the same model: the champion scores what it scored last run.
        assert candidate.metrics["champion_rmse"] == pytest.approx(stack_metrics["rmse"], rel=1e-6)
        better = candidate.metrics["rmse"] < candidate.metrics["champion_rmse"]
        assert record["promotion"]["decision"] == ("Promoted" if better else "Rejected")
        expected_champion = "2" if better else "1"
        assert mlflow_client.get_registered_model(model_name).aliases["champion"] == (
            expected_champion
        )
        status = pipelines.status("used-cars")
        assert (status["lastModelVersion"], status["championVersion"]) == ("2", expected_champion)
        # Each run removed the copies it staged on HDFS (its model, the champion it faced).
        for run_name in (first, second):
            assert hdfs_client.status(f"/tmp/continuum/models/{run_name}", strict=False) is None
    finally:
        pipelines.delete_all()
        if mlflow_client.search_registered_models(f"name = '{model_name}'"):
            mlflow_client.delete_registered_model(model_name)


def batch_without_prices(directory: Path, rows: int) -> str:
    """Generated listings in the published format, every price "--"."""
    generated = directory / "generated.csv"
    write_csv(generated, rows, seed=3)
    with generated.open(newline="", encoding="utf-8") as source:
        listings = list(csv.DictReader(source))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({**listing, "price": "--"} for listing in listings)
    return out.getvalue()


@pytest.mark.parametrize(
    ("batch", "reason"),
    [
        (
            lambda _: ",".join(name for name in COLUMNS if name not in ("price", "year")) + "\n",
            "input lacks required columns: price, year",
        ),
        (
            lambda directory: batch_without_prices(directory, 20),
            "every row was rejected (20 price_missing)",
        ),
    ],
    ids=["missing-columns", "every-row-rejected"],
)
def test_a_bad_batch_fails_the_run_with_the_reason_and_registers_nothing(
    stack, hdfs_client, run_spark_application, mlflow_client, tmp_path: Path, batch, reason
):
    root = f"/test-bad-batch-{uuid.uuid4().hex[:8]}"
    hdfs_client.write(f"{root}/batch-0001/part-00000.csv", data=batch(tmp_path))
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
    assert message == f"driver failed with exit code 1: training failed: {reason}"
    experiment = mlflow_client.get_experiment_by_name(f"tests-{model_name}")
    [run] = mlflow_client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["failure_reason"] == reason
    # What tells the operator not to retry: a data error, unlike a transient failure.
    assert run.data.tags[MLFLOW_FAILURE_TAG] == DATA_ERROR
    assert mlflow_client.search_model_versions(f"name='{model_name}'") == []
