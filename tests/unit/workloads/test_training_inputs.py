"""The training job's arguments and its choice of batches."""

from __future__ import annotations

import pytest
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
