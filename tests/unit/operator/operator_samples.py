"""Sample pipeline specs and times shared by the operator's unit tests."""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, datetime
from typing import Any

from continuum_operator.serving.spec import ServingDeploymentSpec, parse_serving_deployment_spec
from continuum_operator.training.spec import TrainingPipelineSpec, parse_training_pipeline_spec

MINIMAL_SPEC: dict[str, Any] = {
    "data": {"uri": "hdfs://namenode:8020/data/used-cars/incoming"},
    "training": {"image": "continuum/training:0.1.0", "sparkVersion": "4.2.0"},
    "mlflow": {"trackingUri": "http://mlflow:5000", "registeredModel": "used-car-price"},
}

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def spec_with(**overrides: Any) -> TrainingPipelineSpec:
    """The minimal spec with `overrides` merged in (camelCase, as written in the CR)."""
    return parse_training_pipeline_spec(merged(MINIMAL_SPEC, overrides))


SERVING_SPEC: dict[str, Any] = {
    "model": {"name": "used-car-price"},
    "mlflow": {"trackingUri": "http://mlflow:5000"},
    "kafka": {
        "bootstrapServers": "kafka:9092",
        "topics": {"requests": "requests", "predictions": "predictions", "deadLetter": "dead"},
    },
    "image": "continuum/serving:0.1.0",
    "checkpointUri": "hdfs://namenode:8020/checkpoints/used-cars",
}


def serving_spec_with(**overrides: Any) -> ServingDeploymentSpec:
    """The minimal ServingDeployment spec with `overrides` merged in (camelCase)."""
    return parse_serving_deployment_spec(merged(SERVING_SPEC, overrides))
