"""The serving workload against the stack's real Kafka, MLflow, HDFS, Spark and Kubernetes API:
predictions equal the model's batch `transform`, malformed requests land in the dead-letter topic
with their reasons, and every request is answered exactly once across a replayed batch, a zombie
writer and a scorer killed with SIGKILL mid-stream."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import mlflow
import pandas as pd
import pytest
from confluent_kafka import Producer
from listing_model import register_listing_model
from scoring_harness import (
    WAIT_S,
    SteadyRequests,
    by_request_id,
    read_committed,
    reckon,
    request_bytes,
)

from continuum_workloads.contract import (
    POD_NAME_ENV,
    POD_NAMESPACE_ENV,
    ServingConfig,
    ServingMode,
)
from continuum_workloads.dataset.generator import generate_chunks
from continuum_workloads.serving.answers import REASON_HEADER
from continuum_workloads.serving.model import ListingModel
from continuum_workloads.serving.records import ModelIdentity
from continuum_workloads.serving.requests import LISTING_FIELDS
from continuum_workloads.serving.scorer import (
    BatchOutcome,
    BatchScorer,
    realtime_stream,
    sink_outcome,
    start_scoring,
)
from continuum_workloads.serving.transactions import FENCED_ERROR

TRAINING_ROWS = 300
LAG = "continuum_serving_lag_records"


@pytest.fixture(scope="module")
def listings() -> pd.DataFrame:
    """Generated listings as the dataset writes them (every value text), all valid requests."""
    frame = next(generate_chunks(TRAINING_ROWS + 200, seed=21))
    return frame[frame["mileage"].map(lambda m: m == "" or float(m) < 1_000_000)]


@pytest.fixture(scope="module")
def model_identity(stack, spark, listings) -> ModelIdentity:
    return register_listing_model(
        spark, listings.iloc[:TRAINING_ROWS], stack["MLFLOW_TRACKING_URI"]
    )


@pytest.fixture(scope="module")
def listing_model(spark, model_identity) -> ListingModel:
    model = ListingModel.load(spark, model_identity)
    model.warm_up()
    return model


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def config_for(
    stack: dict[str, str], model: ModelIdentity, requests: str, predictions: str, dead: str,
    checkpoint: str, transactional_id: str, lease: str = "unused",
) -> ServingConfig:  # fmt: skip
    return ServingConfig(
        model_name=model.name, model_version=model.version,
        mlflow_tracking_uri=stack["MLFLOW_TRACKING_URI"],
        kafka_bootstrap_servers=stack["KAFKA_BOOTSTRAP_SERVERS"], requests_topic=requests,
        predictions_topic=predictions, dead_letter_topic=dead, checkpoint_uri=checkpoint,
        transactional_id=transactional_id, lease_name=lease,
    )  # fmt: skip


class ScoringRun(NamedTuple):
    """A test's scoring query with its config, scorer and the outcome of each micro-batch."""

    config: ServingConfig
    scorer: BatchScorer
    outcomes: list[BatchOutcome]
    query: Any


def start_scoring_run(
    stack: dict[str, str], spark: Any, model: ListingModel, topics: tuple[str, str, str],
    checkpoint: str,
) -> ScoringRun:  # fmt: skip
    """Starts scoring `topics` (requests, predictions, dead letters) with a transactional id of
    its own."""
    requests, predictions, dead = topics
    client = {"bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"]}
    config = config_for(stack, model.identity, requests, predictions, dead, checkpoint,
                        f"test-{uuid.uuid4().hex[:8]}")  # fmt: skip
    outcomes: list[BatchOutcome] = []
    scorer = BatchScorer(model, config, client, on_batch=outcomes.append)
    return ScoringRun(config, scorer, outcomes, start_scoring(spark, config, client, scorer))


def run_until(query: Any, done: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    try:
        while not done():
            assert query.isActive, query.exception()
            assert time.monotonic() < deadline, "the scoring query did not finish in time"
            time.sleep(0.2)
    finally:
        query.stop()


MALFORMED: list[tuple[bytes, str]] = [
    (b"not json at all", "not_json"),
    (b"[1, 2, 3]", "not_an_object"),
    (b'{"year": 2019, "make_name": "Ford"}', "missing_field"),
    (b'{"request_id": "m-4", "year": 2019, "make_name": "Ford", "mileage": -5}', "out_of_range"),
    (b'{"request_id": "m-5", "year": 1850, "make_name": "Ford"}', "out_of_range"),
    (b'{"request_id": "m-6", "year": 2019, "make_name": "Ford", "fleet": "maybe"}',
     "invalid_value"),
    (b'{"request_id": "m-7", "year": 2019, "make_name": "Ford", "dealer_zip": 2134}', "mistyped"),
    (b'{"request_id": "m-8", "year": 2019, "make_name": "Ford", "colour": "red"}',
     "unknown_field"),
    (b"{" + b'"x": "' + b"a" * 70_000 + b'"}', "too_large"),
]  # fmt: skip


def valid_and_malformed(
    listings: pd.DataFrame,
) -> tuple[list[dict], list[tuple[bytes | None, bytes]]]:
    """60 valid listings as requests `v-<i>`, the MALFORMED ones among them."""
    valid_rows = listings.iloc[TRAINING_ROWS : TRAINING_ROWS + 60].to_dict("records")
    records: list[tuple[bytes | None, bytes]] = []
    for index, row in enumerate(valid_rows):
        records.append((f"v-{index}".encode(), request_bytes(f"v-{index}", row)))
        if index % 6 == 0 and index // 6 < len(MALFORMED):
            records.append((None, MALFORMED[index // 6][0]))
    return valid_rows, records


def assert_answered(
    spark: Any, bootstrap: str, predictions: str, dead: str, valid_rows: list[dict],
    model: ListingModel,
) -> None:  # fmt: skip
    """Each valid request has the price the model's batch transform gives the same listing, each
    malformed one a dead letter with its original bytes and reason; nothing else is written."""
    scored = read_committed(bootstrap, predictions, len(valid_rows))
    letters = read_committed(bootstrap, dead, len(MALFORMED))
    prices = {json.loads(m.value())["request_id"]: json.loads(m.value()) for m in scored}
    assert by_request_id(scored) == Counter(f"v-{i}" for i in range(len(valid_rows)))
    # The model's batch transform of the same listings, as the dataset writes them.
    frame = spark.createDataFrame(pd.DataFrame(valid_rows).drop(columns=["price"]))
    batch = model.model.transform(frame).select("vin", "prediction").collect()
    by_vin = {row["vin"]: row["prediction"] for row in batch}
    for index, row in enumerate(valid_rows):
        answer = prices[f"v-{index}"]
        assert answer["predicted_price"] == pytest.approx(by_vin[row["vin"]], rel=1e-9)
        assert (answer["model_name"], answer["model_version"]) == (
            model.identity.name,
            model.identity.version,
        )
        assert answer["prediction_time_ms"] >= answer["request_time_ms"] > 0
    assert sorted(m.value() for m in letters) == sorted(raw for raw, _ in MALFORMED)
    reasons = Counter(dict(m.headers())[REASON_HEADER].decode() for m in letters)
    assert reasons == Counter(reason for _, reason in MALFORMED)
    print(f"\n{len(scored)} predictions, {len(letters)} dead letters {dict(reasons)}")


def test_predictions_equal_the_models_transform_and_malformed_requests_are_dead_letters(
    stack, spark, new_topic, tmp_path, listings, listing_model
) -> None:
    """Valid requests around malformed ones, as one stream, scored exactly once."""
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    requests, predictions, dead = new_topic(2), new_topic(1), new_topic(1)
    valid_rows, records = valid_and_malformed(listings)
    produce(bootstrap, requests, records)
    _config, _scorer, outcomes, query = start_scoring_run(
        stack, spark, listing_model, (requests, predictions, dead), f"file://{tmp_path}/ckpt"
    )
    run_until(query, lambda: sum(o.records for o in outcomes) >= len(records))
    assert_answered(spark, bootstrap, predictions, dead, valid_rows, listing_model)


def test_in_real_time_mode_the_same_requests_get_the_same_answers(
    stack, spark, new_topic, tmp_path, listings, listing_model
) -> None:
    """`mode: realtime`: the same stream under Spark's Real-time Mode (validation, model and
    answer records all run by Spark itself: its operator allowlist accepts them), answered the
    same, with no transaction; each real-time batch's progress counts what it answered."""
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    requests, predictions, dead = new_topic(2), new_topic(1), new_topic(1)
    valid_rows, records = valid_and_malformed(listings)
    produce(bootstrap, requests, records)
    config = replace(
        config_for(stack, listing_model.identity, requests, predictions, dead,
                   f"file://{tmp_path}/ckpt", f"test-{uuid.uuid4().hex[:8]}"),
        mode=ServingMode.REALTIME, trigger_interval="5s",
    )  # fmt: skip
    client = {"bootstrap.servers": bootstrap}
    query = realtime_stream(spark, config, client, listing_model).start()
    try:
        assert_answered(spark, bootstrap, predictions, dead, valid_rows, listing_model)
        assert query.isActive, query.exception()
    except BaseException:
        query.stop()
        raise

    def counted() -> list[BatchOutcome]:
        return [sink_outcome(progress) for progress in query.recentProgress]

    # The answers are out before their real-time batch ends; its progress report comes then.
    run_until(query, lambda: sum(o.records for o in counted()) >= len(records))
    outcomes = counted()
    assert sum(o.predictions for o in outcomes) == len(valid_rows)
    dead_letters: Counter[str] = Counter()
    for outcome in outcomes:
        dead_letters.update(outcome.dead_letters)
    assert dead_letters == Counter(reason for _, reason in MALFORMED)


EVERY_TEXT_FORM = {
    "year": "2019", "make_name": "Ford", "model_name": "F-150", "body_type": "Pickup Truck",
    "mileage": "23141.0", "back_legroom": "43.6 in", "front_legroom": "--", "length": "",
    "fuel_tank_volume": "26.0 gal", "maximum_seating": "6 seats",
    "power": "375 hp @ 5,000 RPM", "torque": "470 lb-ft @ 3,500 RPM", "fleet": "True",
    "frame_damaged": "", "has_accidents": "False", "is_new": "--", "dealer_zip": "02134",
    "listed_date": "2019-04-06", "major_options": "['Bluetooth', 'Backup Camera']",
    "owner_count": "1.0", "horsepower": "375.0", "latitude": "42.3", "longitude": "-71.1",
}  # fmt: skip
THE_SAME_IN_PLAIN_JSON = {
    "year": 2019, "make_name": "Ford", "model_name": "F-150", "body_type": "Pickup Truck",
    "mileage": 23141, "back_legroom": 43.6, "front_legroom": None, "fuel_tank_volume": 26,
    "maximum_seating": 6, "power": "375 hp @ 5,000 RPM", "torque": "470 lb-ft @ 3,500 RPM",
    "fleet": True, "has_accidents": False, "dealer_zip": "02134", "listed_date": "2019-04-06",
    "major_options": ["Bluetooth", "Backup Camera"], "owner_count": 1, "horsepower": 375,
    "latitude": 42.3, "longitude": -71.1,
}  # fmt: skip


def test_a_listing_in_every_text_form_scores_alone_as_its_plain_json_twin_does(
    stack, spark, new_topic, tmp_path, listing_model
) -> None:
    """Two one-row micro-batches: the listing in the dataset's text forms ("--", blanks,
    units, a zip code with its leading zero, an option list), then the same listing in plain
    JSON values; both get the price the batch transform gives the text row."""
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    requests, predictions, dead = new_topic(1), new_topic(1), new_topic(1)
    _config, _scorer, outcomes, query = start_scoring_run(
        stack, spark, listing_model, (requests, predictions, dead), f"file://{tmp_path}/ckpt"
    )
    try:
        for request_id, listing in (("text", EVERY_TEXT_FORM), ("plain", THE_SAME_IN_PLAIN_JSON)):
            answered = sum(o.predictions for o in outcomes)
            produce(bootstrap, requests, [(None, json.dumps({"request_id": request_id,
                                                             **listing}).encode())])  # fmt: skip
            deadline = time.monotonic() + WAIT_S
            while sum(o.predictions for o in outcomes) == answered:
                assert query.isActive and time.monotonic() < deadline, query.exception()
                time.sleep(0.2)
    finally:
        query.stop()
    assert [o.records for o in outcomes if o.records] == [1, 1]
    answers = {json.loads(m.value())["request_id"]: json.loads(m.value())["predicted_price"]
               for m in read_committed(bootstrap, predictions, 2)}  # fmt: skip
    row = {name: EVERY_TEXT_FORM.get(name, "") for name in LISTING_FIELDS}
    (expected,) = listing_model.model.transform(spark.createDataFrame([row])).collect()
    assert answers["text"] == pytest.approx(expected["prediction"], rel=1e-9)
    assert answers["plain"] == pytest.approx(expected["prediction"], rel=1e-9)


def test_a_replayed_batch_is_recognised_and_skipped(
    stack, spark, new_topic, tmp_path, listings, listing_model
) -> None:
    """Spark stops after a batch's transaction committed but before its own commit log: the
    restarted query runs the batch again, and the committed offsets make it write nothing."""
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    requests, predictions, dead = new_topic(2), new_topic(1), new_topic(1)
    rows = listings.iloc[:40].to_dict("records")
    produce(bootstrap, requests, [(None, request_bytes(f"r-{i}", r)) for i, r in enumerate(rows)])
    checkpoint = tmp_path / "ckpt"
    config, scorer, outcomes, query = start_scoring_run(
        stack, spark, listing_model, (requests, predictions, dead), f"file://{checkpoint}"
    )
    run_until(query, lambda: sum(o.records for o in outcomes) >= len(rows))
    # The stop may land before Spark has logged the batch's commit; if not, its log is removed.
    last = max(o.batch_id for o in outcomes)
    for name in (str(last), f".{last}.crc"):  # as if the stop came before Spark's commit
        (checkpoint / "scoring" / "commits" / name).unlink(missing_ok=True)
    replayed: list[BatchOutcome] = []
    scorer.on_batch = replayed.append
    query = start_scoring(spark, config, {"bootstrap.servers": bootstrap}, scorer)
    run_until(query, lambda: any(o.batch_id == last for o in replayed))

    (replay,) = [o for o in replayed if o.batch_id == last]
    first = next(o for o in outcomes if o.batch_id == last)
    assert replay.records == first.records > 0
    assert (replay.skipped, replay.predictions) == (replay.records, 0)
    counts = by_request_id(read_committed(bootstrap, predictions, len(rows)))
    assert counts == Counter(f"r-{i}" for i in range(len(rows)))
    print(f"\nreplayed batch {last}: {replay.records} records, {replay.skipped} skipped; "
          f"{sum(counts.values())} predictions for {len(rows)} requests")  # fmt: skip


def test_a_fenced_scorer_fails_its_late_batch_and_the_new_holder_answers_it_once(
    stack, spark, listing_model, listings, new_topic, tmp_path
) -> None:
    """A scorer whose transactional ids a newer holder takes over while it runs (a zombie, its
    producers still open): its next batch fails fenced and writes nothing readers see; the new
    holder, from the same checkpoint, answers that batch and the rest, each request once."""
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    requests, predictions, dead = new_topic(2), new_topic(2), new_topic(1)
    rows = listings.iloc[TRAINING_ROWS : TRAINING_ROWS + 80].to_dict("records")
    first, late = rows[:40], rows[40:]
    produce(bootstrap, requests, [(f"r-{i}".encode(), request_bytes(f"r-{i}", r))
                                  for i, r in enumerate(first)])  # fmt: skip
    checkpoint = f"file://{tmp_path / 'ckpt'}"
    config, _, outcomes, query = start_scoring_run(
        stack, spark, listing_model, (requests, predictions, dead), checkpoint
    )
    client = {"bootstrap.servers": bootstrap}
    try:
        deadline = time.monotonic() + WAIT_S
        while sum(o.records for o in outcomes) < len(first):
            assert query.isActive, query.exception()
            assert time.monotonic() < deadline, "the first requests were not answered in time"
            time.sleep(0.2)
        holder = BatchScorer(listing_model, config, client)
        assert holder.output.take_over(spark) == 2
        produce(bootstrap, requests, [(f"r-{i}".encode(), request_bytes(f"r-{i}", r))
                                      for i, r in enumerate(late, len(first))])  # fmt: skip
        with pytest.raises(Exception, match=FENCED_ERROR):
            query.awaitTermination(WAIT_S)
            raise AssertionError("the fenced scorer is still running")
    finally:
        query.stop()
    assert by_request_id(read_committed(bootstrap, predictions, len(first))) == Counter(
        f"r-{i}" for i in range(len(first))
    )
    outcomes.clear()
    query = start_scoring(spark, config, client, holder)
    try:
        counts = by_request_id(read_committed(bootstrap, predictions, len(rows)))
    finally:
        query.stop()
    assert counts == Counter(f"r-{i}" for i in range(len(rows)))


class ServePod:
    """`continuum serve` as a subprocess with a pod's environment: one stand-in for a serving
    pod of the Deployment (same process and environment; no container)."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with socket.socket() as probe:  # a free port for its HTTP server
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        full_env = {**os.environ, **env, POD_NAME_ENV: name, "CONTINUUM_HTTP_PORT": str(self.port)}
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "continuum_operator.cli", "serve"],
                env=full_env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return 0, ""

    def metric(self, name: str) -> float:
        status, text = self.get("/metrics")
        for line in text.splitlines() if status == 200 else []:
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def wait_for(
        self, metric: str, at_least: float = -math.inf, at_most: float = math.inf,
        timeout_s: float = 600,
    ) -> None:  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while not at_least <= self.metric(metric) <= at_most:
            assert self.process.poll() is None, f"{self.name} exited:\n{self.tail()}"
            assert time.monotonic() < deadline, (
                f"{self.name}: {metric} not within [{at_least}, {at_most}]\n{self.tail()}"
            )
            time.sleep(0.5)

    def wait_until_ready(self, ready: bool, timeout_s: float = WAIT_S) -> str:
        """Polls /readyz until it answers 200 (ready) or 503 (not); the answer's text."""
        deadline = time.monotonic() + timeout_s
        while True:
            status, text = self.get("/readyz")
            if status == (200 if ready else 503):
                return text.strip()
            assert self.process.poll() is None, f"{self.name} exited:\n{self.tail()}"
            assert time.monotonic() < deadline, f"{self.name}: /readyz {status}\n{self.tail()}"
            time.sleep(0.2)

    def tail(self) -> str:
        return "\n".join(self.log.read_text().splitlines()[-30:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def create_lease(k8s_api: Any, namespace: str, name: str = "cars-scorer") -> str:
    from kubernetes import client

    client.CoordinationV1Api(k8s_api).create_namespaced_lease(
        namespace, client.V1Lease(metadata=client.V1ObjectMeta(name=name))
    )
    return name


def pod_env(
    stack: dict[str, str], model: ModelIdentity, topics: tuple[str, str, str], hdfs_dir: str,
    lease: str, namespace: str,
) -> dict[str, str]:  # fmt: skip
    """A serving pod's environment: `topics` (requests, predictions, dead letters), its
    checkpoint on HDFS, a transactional id of its own."""
    config = config_for(stack, model, *topics, f"{stack['HDFS_URI']}{hdfs_dir}/ckpt",
                        f"test-{uuid.uuid4().hex[:8]}", lease)  # fmt: skip
    spark_conf = {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1",
                  "spark.driver.memory": "768m"}  # fmt: skip
    return {**config.to_env(), "CONTINUUM_SPARK_CONF": json.dumps(spark_conf),
            POD_NAMESPACE_ENV: namespace}  # fmt: skip


class Handover(NamedTuple):
    sent: list[Any]
    """The requests the stream sent, in order."""
    messages: list[Any]
    """Every committed prediction."""
    signalled_ms: float
    """When pod A got its signal."""
    pod_a: ServePod


def hand_over(
    how: str, bootstrap: str, topics: tuple[str, str], listings: pd.DataFrame,
    env_a: dict[str, str], env_b: dict[str, str], logs: Path, answered: str,
) -> Handover:  # fmt: skip
    """Pod A (`env_a`) holds the Lease; pod B (`env_b`) warms up and waits for it; a steady
    stream of 100 requests/s (to `topics`: requests, predictions) starts, and once A has
    `answered` 200 (a counter of its /metrics), A is stopped gracefully (SIGTERM), killed
    (SIGKILL) or frozen (SIGSTOP, resumed once B has answered 200: it must exit 1)."""
    requests, predictions = topics
    pods: list[ServePod] = []
    stream = SteadyRequests(bootstrap, requests, listings.to_dict("records"), rate=100)
    try:
        pod_a = ServePod("pod-a", env_a, logs / "pod-a.log")
        pods.append(pod_a)
        pod_a.wait_for("continuum_serving_lease_held", 1)
        pod_b = ServePod("pod-b", env_b, logs / "pod-b.log")
        pods.append(pod_b)
        pod_b.wait_for("continuum_serving_ready", 1)  # warmed up, waiting for the Lease
        stream.start()
        pod_a.wait_for(answered, 200)
        signal_for = {"sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL,
                      "sigstop": signal.SIGSTOP}  # fmt: skip
        signalled_ms = time.time() * 1000
        pod_a.process.send_signal(signal_for[how])
        pod_b.wait_for(answered, 200)
        if how == "sigstop":
            pod_a.process.send_signal(signal.SIGCONT)
            assert pod_a.process.wait(WAIT_S) == 1, pod_a.tail()
        if how == "sigterm":
            assert pod_a.process.wait(WAIT_S) == 0, pod_a.tail()
        stream.halt.set()
        stream.join(60)
        messages = read_committed(bootstrap, predictions, len(stream.sent), settle_s=8)
        pod_b.process.send_signal(signal.SIGTERM)
        assert pod_b.process.wait(WAIT_S) == 0, pod_b.tail()
    finally:
        stream.halt.set()
        for pod in pods:
            if pod.process.poll() is None:
                pod.process.send_signal(signal.SIGCONT)
            pod.stop()
    return Handover(stream.sent, messages, signalled_ms, pod_a)


@pytest.mark.timeout(1800)  # three JVMs on a small machine: the pytest, pod A and pod B
@pytest.mark.parametrize("how", ["sigterm", "sigkill", "sigstop"])
def test_a_handoff_under_a_steady_stream_answers_every_request_once(
    how, stack, k8s_api, namespace, new_topic, hdfs_dir, listings, model_identity, tmp_path
) -> None:
    """Pod A (model v1) scores a steady stream; pod B (v2) takes over (`hand_over`). Every
    request has exactly one committed prediction, v1 then v2 in request order; a frozen A,
    woken up, is fenced and exits 1."""
    from kubernetes import client

    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    requests, predictions, dead = new_topic(1), new_topic(1), new_topic(1)
    lease = create_lease(k8s_api, namespace)
    mlflow.set_tracking_uri(stack["MLFLOW_TRACKING_URI"])
    v1 = model_identity
    registry = mlflow.MlflowClient()
    first = registry.get_model_version(v1.name, v1.version)
    second = registry.create_model_version(v1.name, first.source, run_id=first.run_id)
    v2 = ModelIdentity(v1.name, second.version)
    env = pod_env(stack, v1, (requests, predictions, dead), hdfs_dir, lease, namespace)
    handover = hand_over(
        how, bootstrap, (requests, predictions), listings, env,
        {**env, "CONTINUUM_MODEL_VERSION": v2.version}, tmp_path,
        "continuum_serving_predictions_total",
    )  # fmt: skip

    reckoning = reckon(handover.sent, handover.messages, since_ms=handover.signalled_ms)
    print(f"\n{how}: {reckoning}")
    assert (len(reckoning.lost), len(reckoning.duplicated)) == (0, 0), reckoning
    assert (reckoning.versions[0], reckoning.versions[-1], reckoning.switches) == (
        v1.version, v2.version, 1,
    )  # fmt: skip
    holder = client.CoordinationV1Api(k8s_api).read_namespaced_lease(lease, namespace)
    assert holder.spec.holder_identity is None  # B released it on SIGTERM


@pytest.mark.timeout(1800)
def test_a_realtime_pod_hands_over_on_sigterm_and_loses_nothing(
    stack, k8s_api, namespace, new_topic, hdfs_dir, listings, model_identity, tmp_path
) -> None:
    """`continuum serve` with `mode: realtime`: pod A scores a steady stream under Spark's
    Real-time Mode; on SIGTERM it stops once its running real-time batch has ended and pod B
    goes on from the shared checkpoint (`hand_over`). At least once: nothing is lost (how many
    answers a graceful stop writes twice is reported)."""
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    requests, predictions, dead = new_topic(1), new_topic(1), new_topic(1)
    lease = create_lease(k8s_api, namespace)
    env = {
        **pod_env(stack, model_identity, (requests, predictions, dead), hdfs_dir, lease, namespace),
        "CONTINUUM_MODE": ServingMode.REALTIME.value,
        "CONTINUUM_TRIGGER_INTERVAL": "5s",
    }
    handover = hand_over("sigterm", bootstrap, (requests, predictions), listings, env, env,
                         tmp_path, "continuum_serving_predictions_total")  # fmt: skip

    reckoning = reckon(handover.sent, handover.messages, since_ms=handover.signalled_ms)
    print(f"\nrealtime sigterm: {reckoning}")
    assert not reckoning.lost, reckoning
    # "scoring <topic> with <model> (realtime)": it ran in Real-time Mode, with a task slot for
    # the topic's one partition and two for the live metrics.
    log = handover.pod_a.log.read_text()
    assert "(realtime)" in log
    assert f"realtime: Spark local[3] (a task slot per partition of {requests}, 1," in log


def test_live_metrics_equal_a_direct_computation(stack, spark, new_topic, tmp_path) -> None:
    """Predictions of two versions and feedback for most of them, at known times: every final
    window's count, RMSE, MAE and MAPE per version equal the same sums done here."""
    import math

    from continuum_workloads.serving.live_metrics import MetricsSink, start_live_metrics

    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    predictions, feedback, metrics_topic = new_topic(1), new_topic(1), new_topic(1)
    base = (int(time.time()) // 10) * 10_000 - 120_000
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    pairs: list[tuple[str, float, float, int]] = []  # (version, predicted, actual, feedback ms)

    def predict(request_id: str, version: str, price: float, at_ms: int) -> None:
        value = {
            "request_id": request_id,
            "predicted_price": price,
            "model_name": "cars",
            "model_version": version,
            "request_time_ms": at_ms,
            "prediction_time_ms": at_ms,
        }
        producer.produce(predictions, key=request_id.encode(), value=json.dumps(value).encode(),
                         timestamp=at_ms)  # fmt: skip

    def answer(request_id: str, price: float, at_ms: int) -> None:
        producer.produce(feedback, value=json.dumps({"request_id": request_id, "price": price}),
                         timestamp=at_ms)  # fmt: skip

    for i in range(30):
        version, predicted, at = ("1" if i < 15 else "2"), 1000.0 + 10 * i, base + i * 1000
        predict(f"q-{i}", version, predicted, at)
        if i % 6 != 5:  # some predictions never get feedback
            actual = 1000.0 + 7 * i + (i % 3) * 50
            answer(f"q-{i}", actual, at + 2000)
            pairs.append((version, predicted, actual, at + 2000))
    answer("unknown", 5.0, base + 3000)  # feedback for no prediction is never counted
    # Far later data moves the watermark past every window above, so they are final.
    predict("later", "2", 1.0, base + 200_000)
    answer("later", 1.0, base + 201_000)
    assert producer.flush(30) == 0

    expected: dict[tuple[int, str], dict[str, float]] = {}
    for start in range(base - 10_000, base + 60_000, 5_000):
        for version in ("1", "2"):
            inside = [
                (p, a) for v, p, a, t in pairs if v == version and start <= t < start + 10_000
            ]
            if inside:
                errors = [p - a for p, a in inside]
                expected[(start, version)] = {
                    "count": len(inside),
                    "rmse": math.sqrt(sum(e * e for e in errors) / len(errors)),
                    "mae": sum(abs(e) for e in errors) / len(errors),
                    "mape": sum(abs(p - a) / a for p, a in inside) / len(inside),
                }
    config = ServingConfig(
        model_name="cars", model_version="1", mlflow_tracking_uri=stack["MLFLOW_TRACKING_URI"],
        kafka_bootstrap_servers=bootstrap, requests_topic="unused",
        predictions_topic=predictions, dead_letter_topic="unused",
        checkpoint_uri=f"file://{tmp_path}/ckpt", transactional_id="unused",
        lease_name="unused", feedback_topic=feedback, metrics_topic=metrics_topic,
        metrics_window="10s", metrics_slide="5s", feedback_delay="30s",
    )  # fmt: skip
    windows: list[dict[str, Any]] = []
    sink = MetricsSink({"bootstrap.servers": bootstrap}, metrics_topic, windows.append)
    query = start_live_metrics(spark, config, {"bootstrap.servers": bootstrap}, sink)

    def final_windows() -> dict[tuple[int, str], dict[str, Any]]:
        return {(w["window_start_ms"], w["model_version"]): w for w in windows
                if w["window_start_ms"] < base + 100_000}  # fmt: skip

    run_until(query, lambda: len(final_windows()) >= len(expected))
    got = final_windows()
    assert set(got) == set(expected)
    for key, values in expected.items():
        assert got[key]["count"] == values["count"], key
        for name in ("rmse", "mae", "mape"):
            assert got[key][name] == pytest.approx(values[name], rel=1e-9), (key, name)
    published = read_committed(bootstrap, metrics_topic, len(windows))
    assert {m.key() for m in published} >= {f"{v}/{s}".encode() for s, v in expected}
    print(f"\n{len(expected)} windows of live metrics, {len(pairs)} predictions with feedback")


@pytest.mark.timeout(1200)
def test_a_kafka_broker_restart_mid_stream_loses_and_doubles_nothing(
    stack, stack_config, k8s_api, namespace, new_topic, hdfs_dir, listings, model_identity,
    tmp_path,
) -> None:  # fmt: skip
    """A scoring pod under a steady stream; the stack's Kafka broker is stopped and started
    again. /readyz goes false while the broker is away (observed) and true once it is back, the
    stream resumes, and every request has exactly one committed prediction. The pod's lag gauge
    is above 0 under the stream and 0 once everything is answered."""
    from localstack.components import Kafka
    from localstack.process import wait_for

    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    requests, predictions, dead = new_topic(2), new_topic(1), new_topic(1)
    lease = create_lease(k8s_api, namespace)
    env = pod_env(stack, model_identity, (requests, predictions, dead), hdfs_dir, lease,
                  namespace)  # fmt: skip
    kafka = Kafka(stack_config)
    stream = SteadyRequests(bootstrap, requests, listings.to_dict("records"), rate=100)
    pod = ServePod("pod-a", env, tmp_path / "pod-a.log")
    answered = "continuum_serving_predictions_total"
    try:
        pod.wait_for("continuum_serving_lease_held", 1)
        assert pod.wait_until_ready(True) == "ready"
        stream.start()
        pod.wait_for(answered, 200)
        # Under the stream requests arrive while a batch runs: the lag sampled is above 0.
        pod.wait_for(LAG, at_least=1)
        kafka.stop()
        stopped = time.monotonic()
        unready = pod.wait_until_ready(False)
        kafka.start()
        assert wait_for(kafka.health, 120) is None, "the broker did not come back"
        pod.wait_until_ready(True)
        outage_s = time.monotonic() - stopped
        resumed_at = pod.metric(answered)
        pod.wait_for(answered, resumed_at + 200)
        stream.halt.set()
        stream.join(120)
        messages = read_committed(bootstrap, predictions, len(stream.sent), settle_s=5)
        pod.wait_for(LAG, at_most=0)  # everything answered
        pod.process.send_signal(signal.SIGTERM)
        assert pod.process.wait(WAIT_S) == 0, pod.tail()
    finally:
        stream.halt.set()
        if kafka.health() is not None:  # never leave the stack without its broker
            kafka.start()
            wait_for(kafka.health, 120)
        pod.stop()

    reckoning = reckon(stream.sent, messages)
    print(f"\nbroker restart: {reckoning}; ready again {outage_s:.0f} s after the broker stopped "
          f"(while away: {unready!r})")  # fmt: skip
    assert (len(reckoning.lost), len(reckoning.duplicated)) == (0, 0), reckoning
    assert unready.startswith("not ready: Kafka") and "unreachable" in unready


@pytest.mark.timeout(600)
def test_the_outage_watch_names_the_checkpoint_store_while_hdfs_is_down(
    stack, stack_config, spark, hdfs_dir
) -> None:
    """The pod's probes against the stack: both services answer; with HDFS stopped exactly the
    checkpoint store is unreachable and /readyz's reason names it; with HDFS back, none is."""
    from continuum_workloads.serving.dependencies import (
        DependencyWatch,
        checkpoint_probe,
        kafka_probe,
    )
    from continuum_workloads.serving.probes import Readiness
    from localstack.components import Hdfs
    from localstack.process import wait_for

    readiness = Readiness("loading the model")
    readiness.set(None)
    checkpoint = f"{stack['HDFS_URI']}{hdfs_dir}/ckpt"
    watch = DependencyWatch(
        {
            "Kafka": kafka_probe({"bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"]}),
            "the checkpoint store": checkpoint_probe(spark, checkpoint),
        },
        readiness,
    )
    assert watch.check() == {}
    hdfs = Hdfs(stack_config)
    try:
        hdfs.stop()
        failures = watch.check()
        assert list(failures) == ["the checkpoint store"]
        assert (
            readiness.reason
            == f"the checkpoint store unreachable ({failures['the checkpoint store']})"
        )
    finally:
        hdfs.start()
        assert wait_for(hdfs.health, 120) is None, "HDFS did not come back"
    assert watch.check() == {}
    assert readiness.reason is None
    print(f"\nwhile HDFS was down: {failures}")
