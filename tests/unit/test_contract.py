"""The serving pod's contract: what the operator writes is what `continuum serve` reads."""

from __future__ import annotations

import pytest

from continuum_workloads.contract import ServingConfig, ServingMode

REQUIRED = {
    "model_name": "used-car-price",
    "model_version": "3",
    "mlflow_tracking_uri": "http://mlflow:5000",
    "kafka_bootstrap_servers": "kafka:9092",
    "requests_topic": "requests",
    "predictions_topic": "predictions",
    "dead_letter_topic": "requests.dead-letter",
    "checkpoint_uri": "hdfs://nn:8020/checkpoints/used-cars",
    "transactional_id": "continuum-ml-used-cars",
    "lease_name": "used-cars-scorer",
}


def test_a_config_survives_the_environment_unchanged():
    config = ServingConfig(
        **REQUIRED,
        feedback_topic="feedback",
        mode=ServingMode.REALTIME,
        http_port=8081,
        stop_wait_s=290,
        spark_conf={"spark.sql.shuffle.partitions": "2"},
    )
    env = config.to_env()
    assert env["CONTINUUM_MODEL_VERSION"] == "3"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["CONTINUUM_MODE"] == "realtime"
    assert "CONTINUUM_METRICS_TOPIC" not in env  # unset optional fields are left out
    assert ServingConfig.from_env(env) == config
    assert config.model_uri == "models:/used-car-price/3"


def test_missing_and_malformed_variables_are_all_named():
    env = ServingConfig(**REQUIRED).to_env()
    del env["CONTINUUM_CHECKPOINT_URI"]
    env["CONTINUUM_HTTP_PORT"] = "70000"
    env["CONTINUUM_MODE"] = "fast"
    env["CONTINUUM_STOP_WAIT_S"] = "0"
    with pytest.raises(ValueError) as error:
        ServingConfig.from_env(env)
    message = str(error.value)
    assert "CONTINUUM_CHECKPOINT_URI is not set" in message
    assert "CONTINUUM_HTTP_PORT='70000'" in message
    assert "CONTINUUM_MODE='fast'" in message
    assert "CONTINUUM_STOP_WAIT_S='0'" in message
