"""Benchmark: the exactly-once scorer's sustained requests/s and end-to-end latency (request
produced → its prediction readable with read_committed), at several offered rates and trigger
intervals. Writes bench/results/serving.json.

Needs the local stack running (`make stack-up`): Kafka, MLflow (a model of the benchmark's own,
trained here on generated listings: the training job's feature stages and a linear regression)
and HDFS (the checkpoint). The scorer runs in this process, as `continuum serve` runs it:
a local[2] SparkSession, the scoring query, one transactional producer per partition of the
requests topic (two here) in its tasks.

Latency is the consumer's receipt time minus the request's Kafka timestamp (set by the producer
when it sends), both on this machine's clock. Sustained rate: answers per second from the first
request sent to the last prediction read, over the requests offered in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from typing import Any

import mlflow
import pandas as pd
from bench_harness import hdfs_scratch, load_average, machine, stack_env, write_result
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from listing_model import register_listing_model
from pyspark.sql import SparkSession

from continuum_workloads.contract import ServingConfig
from continuum_workloads.dataset.generator import generate_chunks
from continuum_workloads.serving.model import ListingModel
from continuum_workloads.serving.requests import LISTING_FIELDS
from continuum_workloads.serving.scorer import BatchOutcome, BatchScorer, start_scoring
from localstack.config import StackConfig

RATES = (500, 2_000, 5_000)
TRIGGERS = ("0s", "500ms")
SECONDS = 20
DRAIN_S = 120


def session() -> SparkSession:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the scorer's Python workers
    jars = ",".join(str(jar) for jar in StackConfig.from_env().spark_jars)
    return (
        SparkSession.builder.master("local[2]").appName("continuum-bench-serving")
        .config("spark.jars", jars).config("spark.driver.memory", "2g")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2").getOrCreate()
    )  # fmt: skip


def request_values(rows: list[dict[str, str]], count: int, prefix: str) -> list[tuple[str, bytes]]:
    out = []
    for i in range(count):
        listing = {k: v for k, v in rows[i % len(rows)].items() if k in LISTING_FIELDS}
        out.append(
            (f"{prefix}-{i}", json.dumps({"request_id": f"{prefix}-{i}", **listing}).encode())
        )
    return out


class Reader(threading.Thread):
    """Reads predictions (read_committed) and notes each one's latency."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": uuid.uuid4().hex,
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.consumer.subscribe([topic])
        self.latency_ms: dict[str, float] = {}
        self.last_ms = 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for message in self.consumer.consume(1000, 0.2):
                if message.error():
                    continue
                now = time.time() * 1000
                answer = json.loads(message.value())
                self.latency_ms[answer["request_id"]] = now - answer["request_time_ms"]
                self.last_ms = now
        self.consumer.close()


def offer(bootstrap: str, topic: str, values: list[tuple[str, bytes]], rate: float) -> float:
    """Produces at `rate` per second; returns when the first was sent (ms)."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 5})  # fmt: skip
    started = time.monotonic()
    first_ms = time.time() * 1000
    sent = 0
    while sent < len(values):
        due = min(len(values), int((time.monotonic() - started) * rate) + 1)
        for request_id, value in values[sent:due]:
            producer.produce(topic, key=request_id.encode(), value=value)
        sent = due
        producer.poll(0)
        time.sleep(0.002)
    producer.flush(60)
    return first_ms


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[int(q) - 1]


def run_one(
    spark: SparkSession,
    env: dict[str, str],
    model: ListingModel,
    rows: list[dict[str, str]],
    rate: int,
    trigger: str,
    checkpoint_root: str,
) -> dict[str, Any]:
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for future in admin.create_topics([NewTopic(topics[0], 2, 1), NewTopic(topics[1], 1, 1),
                                        NewTopic(topics[2], 1, 1)]).values():  # fmt: skip
        future.result(30)
    requests, predictions, dead = topics
    config = ServingConfig(
        model_name=model.identity.name, model_version=model.identity.version,
        mlflow_tracking_uri=env["MLFLOW_TRACKING_URI"], kafka_bootstrap_servers=bootstrap,
        requests_topic=requests, predictions_topic=predictions, dead_letter_topic=dead,
        checkpoint_uri=f"{env['HDFS_URI']}{checkpoint_root}/{requests}",
        transactional_id=f"bench-{requests}", lease_name="unused", trigger_interval=trigger,
    )  # fmt: skip
    outcomes: list[BatchOutcome] = []
    scorer = BatchScorer(model, config, {"bootstrap.servers": bootstrap}, outcomes.append)
    reader = Reader(bootstrap, predictions)
    reader.start()
    query = start_scoring(spark, config, {"bootstrap.servers": bootstrap}, scorer)
    try:
        warm = request_values(rows, 100, "warm")
        offer(bootstrap, requests, warm, 1000)
        deadline = time.monotonic() + DRAIN_S
        while len(reader.latency_ms) < len(warm) and time.monotonic() < deadline:
            time.sleep(0.2)
        load = load_average()
        values = request_values(rows, rate * SECONDS, "r")
        first_ms = offer(bootstrap, requests, values, rate)
        deadline = time.monotonic() + DRAIN_S
        while len(reader.latency_ms) < len(warm) + len(values) and time.monotonic() < deadline:
            assert query.isActive, query.exception()
            time.sleep(0.2)
    finally:
        query.stop()
        reader.halt.set()
        reader.join(30)
        admin.delete_topics(topics)
    latencies = [reader.latency_ms[rid] for rid, _ in values if rid in reader.latency_ms]
    batches = [o for o in outcomes if o.records and o.predictions > 0]
    return {
        "offered_per_s": rate,
        "trigger": trigger,
        "requests": len(values),
        "answered": len(latencies),
        "sustained_per_s": round(len(latencies) / ((reader.last_ms - first_ms) / 1000), 1),
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p99_ms": round(percentile(latencies, 99), 1),
        "batches": len(batches),
        "median_batch_records": statistics.median(o.records for o in batches),
        "median_batch_seconds": round(statistics.median(o.seconds for o in batches), 3),
        "loadavg_1m": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument("--triggers", default=",".join(TRIGGERS))
    args = parser.parse_args()
    env = stack_env()
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    result: dict[str, Any] = {"machine": machine(), "seconds_per_run": SECONDS, "runs": []}
    spark = session()
    spark.sparkContext.setLogLevel("ERROR")
    rows = next(generate_chunks(2_000, seed=31)).to_dict("records")
    rows = [r for r in rows if r["mileage"] == "" or float(r["mileage"]) < 1_000_000]
    identity = register_listing_model(spark, pd.DataFrame(rows[:1_500]), env["MLFLOW_TRACKING_URI"])
    model = ListingModel.load(spark, identity)
    model.warm_up()
    with hdfs_scratch(env) as (_, root):
        for rate in map(int, args.rates.split(",")):
            for trigger in args.triggers.split(","):
                run = run_one(spark, env, model, rows, rate, trigger, root)
                print(json.dumps(run), flush=True)
                result["runs"].append(run)
    spark.stop()
    print(write_result("serving", result))


if __name__ == "__main__":
    main()
