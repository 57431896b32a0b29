"""How the spark-operator stand-in turns a SparkApplication spec into a local spark-submit."""

from __future__ import annotations

from pathlib import Path

from localstack.config import REPO_DIR
from localstack.spark_standin import application_path, driver_reason, spark_submit_command

SPEC = {
    "_name": "train-used-cars-0007",
    "mainApplicationFile": "local:///opt/continuum/workloads/train.py",
    "arguments": ["--batches", "batch-0007"],
    "sparkConf": {"spark.scheduler.mode": "FAIR"},
    "hadoopConf": {"dfs.client.use.datanode.hostname": "true"},
    "deps": {"jars": ["local:///opt/extra.jar"]},
    "driver": {
        "cores": 1,
        "memory": "2g",
        "env": [
            {"name": "MLFLOW_TRACKING_URI", "value": "http://127.0.0.1:15000"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ],
    },
    "executor": {"cores": 2, "instances": 1, "memory": "1g"},
}


def test_image_paths_map_into_the_checkout_and_other_uris_pass_through():
    assert application_path("local:///opt/continuum/a/b.py") == str(REPO_DIR / "a" / "b.py")
    assert application_path("local:///srv/job.py") == "/srv/job.py"
    assert application_path("hdfs://nn:9000/jobs/x.py") == "hdfs://nn:9000/jobs/x.py"


def test_spark_submit_command_carries_the_spec():
    command, env = spark_submit_command(SPEC, ["/cache/kafka.jar"], python="/venv/bin/python")
    assert command[:5] == [
        "/venv/bin/spark-submit",
        "--master",
        "local[2]",
        "--driver-memory",
        "2g",
    ]
    assert command[command.index("--jars") + 1] == "/cache/kafka.jar,/opt/extra.jar"
    confs = [command[i + 1] for i, arg in enumerate(command) if arg == "--conf"]
    assert "spark.scheduler.mode=FAIR" in confs
    assert "spark.hadoop.dfs.client.use.datanode.hostname=true" in confs
    assert "spark.app.name=train-used-cars-0007" in confs
    assert command[-3:] == [str(REPO_DIR / "workloads/train.py"), "--batches", "batch-0007"]
    assert env == {
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:15000",
        "PYSPARK_PYTHON": "/venv/bin/python",
        "PYSPARK_DRIVER_PYTHON": "/venv/bin/python",
    }


def test_the_reason_is_the_last_line_that_spark_itself_did_not_log(tmp_path: Path):
    log = tmp_path / "driver.log"
    log.write_text(
        "26/11/22 04:51:40 INFO SparkContext: Running Spark version 4.0.0\n"
        "no input: hdfs://nn/data/used-cars has no complete batch\n"
        "26/11/22 04:51:41 INFO ShutdownHookManager: Shutdown hook called\n\n"
    )
    assert driver_reason(log) == "no input: hdfs://nn/data/used-cars has no complete batch"
    log.write_text("")
    assert driver_reason(log) == "no output"
