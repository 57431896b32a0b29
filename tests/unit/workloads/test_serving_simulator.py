"""`continuum simulate`'s requests: valid ones pass the scorer's validation with their price
kept for feedback, and each way of spoiling one is refused for the reason it names."""

from __future__ import annotations

import itertools
import json

import pytest

from continuum_workloads.serving.requests import Rejection, ValidRequest, validate
from continuum_workloads.simulators.traffic import SPOILERS, requests, spoil


@pytest.mark.parametrize(("reason", "how"), SPOILERS)
def test_each_spoiler_is_refused_for_its_reason(reason: str, how: str) -> None:
    body = {"request_id": "r-1", "year": "2019", "make_name": "Ford", "mileage": "100.0"}
    assert isinstance(validate(json.dumps(body).encode()), ValidRequest)
    verdict = validate(spoil(body, how))
    assert isinstance(verdict, Rejection) and verdict.reason == reason


def test_requests_are_valid_but_for_the_malformed_share() -> None:
    sample = list(itertools.islice(requests(seed=4, malformed_share=0.1), 2_000))
    verdicts = [validate(r.value) for r in sample]
    refused = [r for r, v in zip(sample, verdicts, strict=True) if isinstance(v, Rejection)]
    spoilt = [r for r in sample if r.spoilt is not None]
    # The generator itself writes a few impossible mileages: refused too.
    assert set(r.request_id for r in spoilt) <= set(r.request_id for r in refused)
    assert 150 <= len(spoilt) <= 250
    assert len(refused) - len(spoilt) < 20
    assert len({r.request_id for r in sample}) == len(sample)
    assert all(r.price is None for r in spoilt)
    assert all("price" not in json.loads(r.value) for r in sample if r.spoilt != "truncate")
