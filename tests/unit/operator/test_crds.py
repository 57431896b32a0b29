"""The CRDs are the API's source of truth; these checks keep them loadable by an API server and
in step with the operator's own models."""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
import yaml
from operator_samples import MINIMAL_SPEC

from continuum_operator.core import api
from continuum_operator.training.history import Decision, Phase
from continuum_operator.training.runs import RunState, RunTrigger
from continuum_operator.training.spec import ConcurrencyPolicy, parse_training_pipeline_spec

CRDS = Path(__file__).resolve().parents[3] / "crds"
# Keywords that only validate a value; inside anyOf/allOf/oneOf/not nothing else is allowed.
_VALUE_VALIDATIONS = {
    "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "enum",
    "format", "multipleOf", "exclusiveMinimum", "exclusiveMaximum", "uniqueItems",
}  # fmt: skip


def load(plural: str) -> dict[str, Any]:
    return yaml.safe_load((CRDS / f"{plural}.{api.GROUP}.yaml").read_text())


def schema_of(plural: str) -> dict[str, Any]:
    (version,) = load(plural)["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


def structural_problems(node: dict[str, Any], path: str = "") -> Iterator[str]:
    """Violations of the structural schema rules a v1 CRD must follow."""
    if not ("type" in node or node.get("x-kubernetes-int-or-string")) and not node.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        yield f"{path or '<root>'}: no type"
    if "properties" in node and "additionalProperties" in node:
        yield f"{path}: both properties and additionalProperties"
    # Only int-or-string may name types in its anyOf branches, as Kubernetes' own quantities do.
    allowed = _VALUE_VALIDATIONS | ({"type"} if node.get("x-kubernetes-int-or-string") else set())
    for keyword in ("anyOf", "allOf", "oneOf"):
        for branch in node.get(keyword, []):
            if set(branch) - allowed:
                yield f"{path}.{keyword}: {sorted(set(branch) - allowed)} not allowed"
    for name, child in node.get("properties", {}).items():
        yield from structural_problems(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from structural_problems(node["additionalProperties"], f"{path}.*")
    if "items" in node:
        yield from structural_problems(node["items"], f"{path}[]")


def with_defaults(value: Any, node: dict[str, Any]) -> Any:
    """`value` defaulted as the API server does it: absent fields with a default get it."""
    if not isinstance(value, dict):
        return value
    result = deepcopy(value)
    for name, child in node.get("properties", {}).items():
        if name not in result and "default" in child:
            result[name] = deepcopy(child["default"])
        if name in result:
            result[name] = with_defaults(result[name], child)
    return result


def enum_at(schema: dict[str, Any], *path: str) -> set[str]:
    node = schema
    for step in path:
        node = node["items"] if step == "[]" else node["properties"][step]
    return set(node["enum"])


@pytest.mark.parametrize(
    ("plural", "kind", "short_name", "columns"),
    [
        (
            api.TRAINING_PIPELINES,
            "TrainingPipeline",
            "tp",
            {"PHASE", "LAST-BATCH", "MODEL-VERSION", "AGE"},
        ),
        (
            api.SERVING_DEPLOYMENTS,
            "ServingDeployment",
            "sd",
            {"MODEL", "SERVING", "TARGET", "PHASE", "AVAILABLE", "READY", "AGE"},
        ),
    ],
)
def test_names_status_and_columns(plural: str, kind: str, short_name: str, columns: set) -> None:
    crd = load(plural)
    names = crd["spec"]["names"]
    (version,) = crd["spec"]["versions"]
    shown = {
        column["name"].upper()
        for column in version["additionalPrinterColumns"]
        if column.get("priority", 0) == 0
    }

    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == f"{plural}.{api.GROUP}"
    assert crd["spec"]["group"] == api.GROUP
    assert crd["spec"]["scope"] == "Namespaced"
    assert (names["kind"], names["plural"]) == (kind, plural)
    assert names["shortNames"] == [short_name]
    assert names["categories"] == ["continuum"]
    assert version["name"] == api.VERSION
    assert version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    assert columns <= shown


@pytest.mark.parametrize("plural", [api.TRAINING_PIPELINES, api.SERVING_DEPLOYMENTS])
def test_schema_is_structural_and_status_explicit(plural: str) -> None:
    schema = schema_of(plural)
    status = schema["properties"]["status"]

    assert list(structural_problems(schema)) == []
    assert not status.get("x-kubernetes-preserve-unknown-fields")
    assert "conditions" in status["properties"]
    assert "observedGeneration" in status["properties"]


def test_structural_check_catches_what_an_api_server_refuses() -> None:
    bad = {
        "type": "object",
        "properties": {
            "untyped": {"properties": {}},
            "both": {
                "type": "object",
                "properties": {},
                "additionalProperties": {"type": "string"},
            },
            "typed-branch": {"type": "string", "anyOf": [{"type": "string", "pattern": "x"}]},
            "list": {"type": "array", "items": {"description": "no type"}},
        },
    }

    assert len(list(structural_problems(bad))) == 4


def test_conditions_follow_the_api_conventions_in_both_kinds() -> None:
    conditions = [
        schema_of(plural)["properties"]["status"]["properties"]["conditions"]
        for plural in (api.TRAINING_PIPELINES, api.SERVING_DEPLOYMENTS)
    ]

    assert conditions[0] == conditions[1]
    item = conditions[0]["items"]
    assert set(item["properties"]) == {
        "type", "status", "reason", "message", "lastTransitionTime", "observedGeneration",
    }  # fmt: skip
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert conditions[0]["x-kubernetes-list-map-keys"] == ["type"]


def test_crd_defaults_give_the_same_spec_as_the_operator_defaults() -> None:
    schema = schema_of(api.TRAINING_PIPELINES)["properties"]["spec"]

    assert parse_training_pipeline_spec(
        with_defaults(MINIMAL_SPEC, schema)
    ) == parse_training_pipeline_spec(MINIMAL_SPEC)


def test_crd_enums_match_the_operator() -> None:
    schema = schema_of(api.TRAINING_PIPELINES)

    assert enum_at(schema, "spec", "concurrencyPolicy") == set(ConcurrencyPolicy)
    assert enum_at(schema, "status", "phase") == set(Phase)
    assert enum_at(schema, "status", "runs", "[]", "state") == set(RunState)
    assert enum_at(schema, "status", "runs", "[]", "triggers", "[]") == set(RunTrigger)
    assert enum_at(schema, "status", "runs", "[]", "promotion", "decision") == set(Decision)
