"""The ServingDeployment spec: its defaults (the CRD's), what it refuses naming the field, and
which version a model policy names in a registry snapshot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from operator_samples import SERVING_SPEC, merged, serving_spec_with
from test_crds import enum_at, schema_of, with_defaults

from continuum_operator.adapters.registry import ModelSnapshot
from continuum_operator.core import api
from continuum_operator.core.spec import InvalidSpecError
from continuum_operator.serving.rollout import Phase, Result
from continuum_operator.serving.spec import ModelPolicy, parse_serving_deployment_spec
from continuum_operator.serving.target import resolve
from continuum_workloads.contract import ServingMode


def test_defaults() -> None:
    spec = serving_spec_with()

    assert spec.model.policy is ModelPolicy.ALIAS and spec.model.alias == "champion"
    assert spec.mlflow.poll_interval == timedelta(seconds=15)
    assert spec.replicas == 1
    assert spec.mode is ServingMode.EXACTLY_ONCE
    assert spec.effective_trigger_interval == timedelta(0)
    assert (spec.metrics.window, spec.metrics.slide) == (
        timedelta(minutes=10),
        timedelta(minutes=1),
    )
    assert spec.rollout.progress_deadline == timedelta(minutes=10)
    assert spec.rollout.auto_rollback is True
    assert spec.termination_grace_period_seconds == 60
    assert spec.stop_wait_seconds == 50


@pytest.mark.parametrize(("grace", "wait"), [(60, 50), (300, 290), (11, 1), (5, 1)])
def test_a_stopped_pod_waits_for_its_batch_all_its_grace_period_but_ten_seconds(
    grace: int, wait: int
) -> None:
    spec = serving_spec_with(mode="realtime", triggerInterval="2m",
                             terminationGracePeriodSeconds=grace)  # fmt: skip
    assert spec.stop_wait_seconds == wait


def test_realtime_mode_runs_batches_of_at_least_five_seconds() -> None:
    assert serving_spec_with(mode="realtime").effective_trigger_interval == timedelta(seconds=5)
    assert serving_spec_with(mode="realtime", triggerInterval="30s").effective_trigger_interval == (
        timedelta(seconds=30)
    )


def test_the_crd_defaults_give_the_same_spec_as_the_operator_defaults() -> None:
    schema = schema_of(api.SERVING_DEPLOYMENTS)["properties"]["spec"]

    assert parse_serving_deployment_spec(with_defaults(SERVING_SPEC, schema)) == (
        serving_spec_with()
    )


def test_the_crd_enums_match_the_operator() -> None:
    schema = schema_of(api.SERVING_DEPLOYMENTS)

    assert enum_at(schema, "spec", "model", "policy") == set(ModelPolicy)
    assert enum_at(schema, "spec", "mode") == set(ServingMode)
    assert enum_at(schema, "status", "phase") == set(Phase)
    assert enum_at(schema, "status", "rollouts", "[]", "result") == set(Result)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"model": {"policy": "Pinned"}}, "spec.model"),
        ({"model": {"alias": "latest"}}, "spec.model.alias"),
        ({"replicas": 0}, "spec.replicas"),
        ({"kafka": {"topics": {"requests": "bad topic"}}}, "spec.kafka.topics.requests"),
        ({"kafka": {"topics": {"metrics": "m"}}}, "spec.kafka.topics"),
        ({"rollout": {"progressDeadline": "0s"}}, "spec.rollout.progressDeadline"),
        ({"mode": "realtime", "triggerInterval": "1s"}, "spec"),
        ({"metrics": {"window": "1m", "slide": "5m"}}, "spec.metrics"),
        ({"mlflow": {"trackingUri": "file:///mlruns"}}, "spec.mlflow.trackingUri"),
    ],
)
def test_what_the_schema_cannot_express_is_refused_naming_the_field(
    overrides: dict, field: str
) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse_serving_deployment_spec(merged(SERVING_SPEC, overrides))
    assert field in caught.value.problems, caught.value.problems


SNAPSHOT = ModelSnapshot("m", aliases={"champion": "3", "challenger": "5"}, latest_version="6")


@pytest.mark.parametrize(
    ("model", "version", "reason"),
    [
        ({}, "3", "Alias"),
        ({"alias": "challenger"}, "5", "Alias"),
        ({"alias": "shadow"}, None, "AliasNotSet"),
        ({"policy": "Latest"}, "6", "Latest"),
        ({"policy": "Pinned", "version": "2"}, "2", "Pinned"),
        ({"policy": "Pinned", "version": "7"}, None, "VersionNotFound"),
    ],
)
def test_the_target_is_what_the_policy_names_in_the_snapshot(
    model: dict, version: str | None, reason: str
) -> None:
    target = resolve(serving_spec_with(model=model).model, SNAPSHOT)

    assert (target.version, target.reason) == (version, reason)


def test_a_model_without_versions_has_no_latest_target() -> None:
    target = resolve(serving_spec_with(model={"policy": "Latest"}).model, ModelSnapshot("m"))

    assert target.version is None and target.reason == "NoVersion"
