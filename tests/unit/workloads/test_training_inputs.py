"""The training job's arguments and its choice of batches."""

from __future__ import annotations

import pytest

from continuum_operator.training.runs import RunRequest, RunTrigger
from continuum_operator.training.sparkapp import build_spark_application
from continuum_operator.training.spec import parse_training_pipeline_spec
from continuum_workloads.dataset.batches import Batch
from continuum_workloads.training.job import parse_args
from continuum_workloads.training.sources import NoInputError, batches_to_read

AVAILABLE = [("batch-0001", 100), ("batch-0002", 200), ("batch-0003", 300)]
REQUIRED = [
    "--run-id", "train-7", "--pipeline", "ns/cars", "--data-uri", "hdfs://nn/cars",
    "--mlflow-tracking-uri", "http://mlflow", "--mlflow-experiment", "cars",
    "--registered-model", "cars",
]  # fmt: skip


def test_history_all_reads_every_complete_batch_oldest_first():
    assert batches_to_read(AVAILABLE, ["batch-0003"], latest=None) == [
        "batch-0001",
        "batch-0002",
        "batch-0003",
    ]


def test_history_latest_reads_the_newest_and_always_the_requested():
    assert batches_to_read(AVAILABLE, ["batch-0003"], latest=2) == ["batch-0002", "batch-0003"]
    assert batches_to_read(AVAILABLE, ["batch-0001"], latest=1) == ["batch-0001", "batch-0003"]


def test_a_requested_batch_that_is_not_complete_is_no_input_naming_it():
    with pytest.raises(NoInputError, match="batch-0009"):
        batches_to_read(AVAILABLE, ["batch-0009"], latest=None)


def test_an_empty_source_is_no_input():
    with pytest.raises(NoInputError, match="no complete batch"):
        batches_to_read([], [], latest=None)


def test_arguments_as_the_operator_writes_them():
    args = parse_args(
        [*REQUIRED, "--batch", "b1", "--batch", "b2", "--ensemble", "gbt, linearRegression"]
    )
    assert args.batch == ["b1", "b2"]
    assert args.ensemble == ["gbt", "linearRegression"]
    assert (args.cv_folds, args.history_mode, args.champion_alias) == (3, "All", "champion")


def test_the_job_reads_every_argument_of_the_operators_spark_application():
    spec = parse_training_pipeline_spec(
        {
            "data": {"uri": "hdfs://nn:8020/cars", "batchPattern": "batch-*"},
            "training": {
                "image": "continuum/training:0.1.0",
                "sparkVersion": "4.2.0",
                "ensemble": ["gbt", "linearRegression"],
                "crossValidation": {"folds": 4, "parallelism": 3},
                "history": {"mode": "Latest", "batches": 2},
            },
            "mlflow": {"trackingUri": "http://mlflow:5000", "registeredModel": "cars"},
            "promotion": {"metric": "mae", "alias": "prod"},
            "trainSetExportUri": "hdfs://nn:8020/train-sets",
        }
    )
    request = RunRequest((RunTrigger.NEW_DATA,), (Batch("batch-0002", 2), Batch("batch-0001", 1)))
    app = build_spark_application(spec, pipeline="cars", namespace="ml", request=request)

    args = parse_args(app["spec"]["arguments"])

    assert args.run_id == app["metadata"]["name"]
    assert args.pipeline == "ml/cars"
    assert (args.data_uri, args.batch_pattern) == ("hdfs://nn:8020/cars", "batch-*")
    assert args.batch == ["batch-0001", "batch-0002"]
    assert (args.history_mode, args.history_batches) == ("Latest", 2)
    assert args.ensemble == ["gbt", "linearRegression"]
    assert (args.cv_folds, args.cv_parallelism) == (4, 3)
    assert (args.mlflow_experiment, args.registered_model) == ("ml/cars", "cars")
    assert (args.promotion_metric, args.champion_alias) == ("mae", "prod")
    assert args.train_set_export_uri == "hdfs://nn:8020/train-sets"


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        (["--ensemble", "gbt,svm"], "unknown ensemble member 'svm'"),
        (["--history-mode", "Latest"], "--history-mode Latest needs --history-batches"),
    ],
)
def test_bad_arguments_are_rejected_naming_the_problem(
    extra: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
):
    with pytest.raises(SystemExit):
        parse_args([*REQUIRED, *extra])
    assert complaint in capsys.readouterr().err
