"""Where a model is staged between Spark ML and MLflow: a filesystem every executor shares."""

import pytest

from continuum_workloads.training.tracking import model_staging_dir, shared_filesystem

pytestmark = pytest.mark.unit


def test_a_model_is_staged_on_the_data_s_distributed_filesystem() -> None:
    staged = model_staging_dir("hdfs://10.0.2.15:19000/shop/incoming", "used-cars-batch-0001-ab")
    assert staged == "hdfs://10.0.2.15:19000/tmp/continuum/models/used-cars-batch-0001-ab"


@pytest.mark.parametrize("local", ["/data/incoming", "file:///data/incoming", "local:///data"])
def test_local_data_keeps_mlflow_s_default(local: str) -> None:
    assert model_staging_dir(local, "r") is None


def test_the_shared_filesystem_is_the_data_s() -> None:
    assert shared_filesystem("hdfs://namenode:8020/data/incoming") == "hdfs://namenode:8020"
    assert shared_filesystem("/data/incoming") is None
