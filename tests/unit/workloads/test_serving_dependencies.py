"""The outage watch's logic: what /readyz says while a service does not answer, and that the log
reports each outage once when it starts and once when it ends (probes are plain functions here:
the real ones run against the stack in tests/integration/workloads/test_serving.py)."""

from __future__ import annotations

import logging

import pytest

from continuum_workloads.serving.dependencies import (
    READINESS_PART,
    DependencyWatch,
    changes,
    readiness_reason,
    summary,
)
from continuum_workloads.serving.probes import Readiness


def test_readiness_names_every_unreachable_service_and_why() -> None:
    assert readiness_reason({}) is None
    assert readiness_reason({"Kafka (k:9092)": "timed out", "HDFS": "refused"}) == (
        "HDFS unreachable (refused); Kafka (k:9092) unreachable (timed out)"
    )


def test_changes_are_the_services_that_went_down_and_came_back() -> None:
    assert changes({}, {}) == ([], [])
    assert changes({"a": "x"}, {"a": "y", "b": "z"}) == (["b"], [])
    assert changes({"a": "x", "b": "z"}, {}) == ([], ["a", "b"])


def test_a_ready_pod_is_unready_while_any_part_has_a_reason() -> None:
    readiness = Readiness("loading the model")
    readiness.set("Kafka unreachable", READINESS_PART)
    assert readiness.reason == "loading the model; Kafka unreachable"
    readiness.set(None)
    assert readiness.reason == "Kafka unreachable"
    readiness.set(None, READINESS_PART)
    assert readiness.reason is None


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog) -> None:
    answering = {"kafka": True}

    def kafka() -> None:
        if not answering["kafka"]:
            raise ConnectionError("Connection refused\nmore detail")

    readiness = Readiness("loading the model")
    readiness.set(None)
    watch = DependencyWatch({"Kafka": kafka, "HDFS": lambda: None}, readiness)
    caplog.set_level(logging.INFO, "continuum_workloads.serving.dependencies")
    assert watch.check() == {}
    assert readiness.reason is None
    answering["kafka"] = False
    assert watch.check() == {"Kafka": "Connection refused"}
    assert watch.check() == {"Kafka": "Connection refused"}
    assert readiness.reason == "Kafka unreachable (Connection refused)"
    answering["kafka"] = True
    assert watch.check() == {}
    assert readiness.reason is None
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka is unreachable (Connection refused); not ready until it answers",
        "Kafka answers again",
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [(RuntimeError("first\nsecond"), "first"), (RuntimeError(""), "RuntimeError")],
)
def test_an_error_is_summed_up_in_one_line(error: Exception, expected: str) -> None:
    assert summary(error) == expected
