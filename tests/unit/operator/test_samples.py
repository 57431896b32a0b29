"""The sample manifests are what the operator accepts: each object's spec parses with the
operator's own models."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from continuum_operator.serving.spec import parse_serving_deployment_spec
from continuum_operator.training.spec import parse_training_pipeline_spec

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"
PARSERS = {
    "TrainingPipeline": parse_training_pipeline_spec,
    "ServingDeployment": parse_serving_deployment_spec,
}


def documents() -> list[tuple[str, dict]]:
    return [
        (f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc)
        for path in sorted(SAMPLES.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def test_the_samples_show_both_kinds() -> None:
    assert {doc["kind"] for _, doc in documents()} == set(PARSERS)


@pytest.mark.parametrize(
    "document", [doc for _, doc in documents()], ids=[i for i, _ in documents()]
)
def test_every_sample_spec_is_valid(document: dict) -> None:
    PARSERS[document["kind"]](document["spec"])
