from __future__ import annotations

from datetime import timedelta

import pytest
from operator_samples import MINIMAL_SPEC, merged

from continuum_operator.core.spec import InvalidSpecError, parse_duration
from continuum_operator.training.spec import (
    ConcurrencyPolicy,
    DataFormat,
    Direction,
    EnsembleMember,
    parse_training_pipeline_spec,
)


def test_defaults_match_the_crd_defaults() -> None:
    spec = parse_training_pipeline_spec(MINIMAL_SPEC)

    assert spec.data.poll_interval == timedelta(seconds=30)
    assert spec.data.completion_marker == "_SUCCESS"
    assert spec.data.format is DataFormat.CSV
    assert spec.trigger.on_new_data is True
    assert spec.trigger.schedule is None
    assert spec.concurrency_policy is ConcurrencyPolicy.FORBID
    assert spec.history_limit == 5
    assert spec.promotion.alias == "champion"
    assert spec.promotion.direction is Direction.MINIMIZE
    assert spec.training.ensemble == (
        EnsembleMember.RANDOM_FOREST,
        EnsembleMember.LINEAR_REGRESSION,
    )


def test_camel_case_fields_are_read() -> None:
    spec = parse_training_pipeline_spec(
        merged(
            MINIMAL_SPEC,
            {
                "data": {"pollInterval": "5m", "batchPattern": "batch-*"},
                "trigger": {"schedule": "0 3 * * MON-FRI", "onNewData": False},
                "mlflow": {"credentialsSecretRef": {"name": "mlflow-auth"}},
                "concurrencyPolicy": "Replace",
                "trainSetExportUri": "hdfs://namenode:8020/exports",
            },
        )
    )

    assert spec.data.poll_interval == timedelta(minutes=5)
    assert spec.data.batch_pattern == "batch-*"
    assert spec.trigger.schedule == "0 3 * * MON-FRI"
    assert spec.trigger.on_new_data is False
    assert spec.mlflow.credentials_secret_ref is not None
    assert spec.mlflow.credentials_secret_ref.name == "mlflow-auth"
    assert spec.concurrency_policy is ConcurrencyPolicy.REPLACE
    assert spec.train_set_export_uri == "hdfs://namenode:8020/exports"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"data": {"uri": "s3://bucket/in"}}, "spec.data.uri"),
        ({"data": {"pollInterval": "-5s"}}, "spec.data.pollInterval"),
        ({"data": {"pollInterval": "0s"}}, "spec.data.pollInterval"),
        ({"trigger": {"schedule": "61 * * * *"}}, "spec.trigger.schedule"),
        ({"trigger": {"schedule": "* * * *"}}, "spec.trigger.schedule"),
        ({"concurrencyPolicy": "Sometimes"}, "spec.concurrencyPolicy"),
        ({"historyLimit": 0}, "spec.historyLimit"),
        ({"promotion": {"alias": "latest"}}, "spec.promotion.alias"),
        ({"promotion": {"alias": "v3"}}, "spec.promotion.alias"),
        ({"promotion": {"minImprovement": -0.1}}, "spec.promotion.minImprovement"),
        ({"training": {"executor": {"memory": "lots"}}}, "spec.training.executor.memory"),
        ({"training": {"ensemble": ["gbt", "svm"]}}, "spec.training.ensemble[1]"),
        ({"training": {"history": {"mode": "Latest"}}}, "spec.training.history"),
    ],
)
def test_invalid_field_is_named(overrides: dict, field: str) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse_training_pipeline_spec(merged(MINIMAL_SPEC, overrides))

    assert list(caught.value.problems) == [field]
    assert str(caught.value).startswith(f"{field}: ")


def test_missing_required_fields_are_all_named() -> None:
    spec = merged(MINIMAL_SPEC, {})
    del spec["mlflow"]["registeredModel"]
    del spec["training"]["image"]

    with pytest.raises(InvalidSpecError) as caught:
        parse_training_pipeline_spec(spec)

    assert set(caught.value.problems) == {
        "spec.mlflow.registeredModel",
        "spec.training.image",
    }


def test_unknown_fields_are_ignored() -> None:
    spec = parse_training_pipeline_spec(merged(MINIMAL_SPEC, {"futureField": {"x": 1}}))

    assert spec.history_limit == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("2h", timedelta(hours=2))],
)
def test_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "1.5h", "1d", "-1s", "0m", "5 m", 30])
def test_bad_duration(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
