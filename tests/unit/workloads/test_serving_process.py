"""The serving process's pure parts: who may take the Lease, the Kafka client properties from a
mounted Secret, the probes' answers, what a sink-written batch answered, the lag, and a clear
refusal of an incomplete environment, a realtime pod's Spark slots."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql.streaming.listener import StreamingQueryProgress

from continuum_workloads.contract import ServingConfig
from continuum_workloads.serving.command import kafka_client_config, serve_from_env
from continuum_workloads.serving.lag import records_behind
from continuum_workloads.serving.lease import may_take
from continuum_workloads.serving.probes import Readiness, serve_probes
from continuum_workloads.serving.records import ModelIdentity
from continuum_workloads.serving.scorer import ANSWERS_OBSERVED, BatchOutcome, sink_outcome
from continuum_workloads.serving.session import realtime_master
from continuum_workloads.serving.telemetry import ServingMetrics

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
CONFIG = ServingConfig(
    model_name="used-cars", model_version="3", mlflow_tracking_uri="http://mlflow:5000",
    kafka_bootstrap_servers="kafka:9092", requests_topic="requests",
    predictions_topic="predictions", dead_letter_topic="dead", checkpoint_uri="hdfs://nn/ckpt",
    transactional_id="continuum-ns-cars", lease_name="cars-scorer",
)  # fmt: skip


@pytest.mark.parametrize(
    ("holder", "renewed", "expected"),
    [
        (None, None, True),
        ("", NOW, True),
        ("pod-a", NOW - timedelta(seconds=5), True),  # already mine
        ("pod-b", NOW - timedelta(seconds=5), False),  # held and fresh
        ("pod-b", NOW - timedelta(seconds=16), True),  # expired
        ("pod-b", None, True),
    ],
)
def test_who_may_take_the_lease(
    holder: str | None, renewed: datetime | None, expected: bool
) -> None:
    assert may_take(holder, renewed, 15, "pod-a", NOW) is expected


def test_kafka_properties_come_from_the_mounted_secret(tmp_path) -> None:
    (tmp_path / "security.protocol").write_text("SASL_SSL\n")
    (tmp_path / "sasl.mechanism").write_text("PLAIN")
    (tmp_path / "..data").mkdir()  # what a Secret volume holds beside its keys
    config = ServingConfig(**{**CONFIG.__dict__, "kafka_properties_dir": str(tmp_path)})
    assert kafka_client_config(config) == {
        "bootstrap.servers": "kafka:9092",
        "sasl.mechanism": "PLAIN",
        "security.protocol": "SASL_SSL",
    }
    assert kafka_client_config(CONFIG) == {"bootstrap.servers": "kafka:9092"}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_probes_say_alive_ready_and_report_metrics() -> None:
    metrics = ServingMetrics(ModelIdentity("used-cars", "3"))
    readiness = Readiness("loading the model")
    server = serve_probes(0, readiness, metrics.registry)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/readyz") == (503, "not ready: loading the model\n")
        readiness.set(None)
        assert get(base + "/readyz")[0] == 200
        metrics.observe(BatchOutcome(0, 10, 2, 5, {"not_json": 3}, 0.2))
        status, text = get(base + "/metrics")
        assert status == 200
        assert "continuum_serving_requests_total 8.0" in text
        assert 'continuum_serving_dead_letters_total{reason="not_json"} 3.0' in text
        assert "continuum_serving_replayed_records_total 2.0" in text
        assert 'continuum_serving_model_info{model_name="used-cars",model_version="3"} 1.0' in text
        assert get(base + "/other")[0] == 404
    finally:
        server.shutdown()


def progress(batch_id: int, observed: dict[str, dict[str, int]]) -> StreamingQueryProgress:
    """A query's progress report as Spark writes it, trimmed to what a report must hold."""
    return StreamingQueryProgress.fromJson(
        {
            "id": "8c7a2d3e-0000-4000-8000-000000000001",
            "runId": "8c7a2d3e-0000-4000-8000-000000000002",
            "name": "continuum-scoring",
            "timestamp": "2026-12-03T15:00:00.000Z",
            "batchId": batch_id,
            "batchDuration": 5012,
            "numInputRows": 120,
            "durationMs": {"triggerExecution": 5012},
            "stateOperators": [],
            "sources": [],
            "sink": {"description": "kafka", "numOutputRows": 120},
            "observedMetrics": observed,
        }
    )


def test_a_sink_written_batch_is_counted_from_its_progress_report() -> None:
    counts = {"predictions": 112, "not_json": 5, "out_of_range": 3, "mistyped": 0}
    outcome = sink_outcome(progress(7, {ANSWERS_OBSERVED: counts}))
    assert outcome == BatchOutcome(7, 120, 0, 112, {"not_json": 5, "out_of_range": 3}, 5.012)
    # A report without the counts (a batch that ran no task) counts nothing.
    assert sink_outcome(progress(8, {})) == BatchOutcome(8, 120, 0, 0, {}, 5.012)


def test_the_lag_counts_from_the_committed_offset_or_the_log_start() -> None:
    watermarks = {0: (0, 100), 1: (40, 90), 2: (0, 10)}
    # 0: answered up to 70; 1: never committed, retention left 40..90; 2: all answered.
    assert records_behind(watermarks, {0: 70, 1: -2, 2: 10}) == 30 + 50 + 0
    # An offset retention has passed counts from the log's start.
    assert records_behind(watermarks, {0: 70, 1: 12, 2: 10}) == 30 + 50
    assert records_behind({}, {}) == 0


@pytest.mark.parametrize(
    ("partitions", "master"), [(1, "local[3]"), (2, "local[4]"), (8, "local[10]")]
)
def test_a_realtime_pod_has_a_slot_per_requests_partition_and_two_for_live_metrics(
    partitions: int, master: str
) -> None:
    assert realtime_master(partitions) == master


def test_an_incomplete_environment_is_refused_naming_what_is_missing(capsys) -> None:
    env = {k: v for k, v in CONFIG.to_env().items() if k != "CONTINUUM_REQUESTS_TOPIC"}
    assert serve_from_env({**env, "CONTINUUM_POD_NAME": "p", "CONTINUUM_POD_NAMESPACE": "n"}) == 2
    assert "CONTINUUM_REQUESTS_TOPIC is not set" in capsys.readouterr().err
    assert serve_from_env(CONFIG.to_env()) == 2
    assert "CONTINUUM_POD_NAME" in capsys.readouterr().err
