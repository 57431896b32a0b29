"""Experiment: the streaming notes' question 5 (`shared/reference/streaming-serving-notes.md`),
slot contention. A `realtime` scoring query and the live-metrics query share one pod's Spark; a
real-time batch holds a task slot per partition of the requests topic for its whole length. How
often does the live-metrics query get to run, and what does it cost the answers, with as many
slots as partitions (`local[2]`, two partitions) and with two more (`local[4]`, what
`serving/session.py: realtime_master` gives such a pod)? Writes
bench/results/realtime_slots.json.

Each case streams requests at RATE for SECONDS (after bench/serving.py's warm-up) into a new
requests topic of two partitions, answered by bench/serving.py's `realtime` query (5 s real-time
batches), and feeds back a price for every answer read, once a second, to the live-metrics
query (a 1 min window sliding by 10 s). Needs the local stack running (`make stack-up`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

import mlflow
from bench_harness import machine, stack_env, write_result
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pyspark.sql import SparkSession
from serving import (
    REALTIME_BATCH,
    WARM_UP_REQUESTS,
    Reader,
    checkpoints,
    listings_and_model,
    load_producer,
    offer,
    percentile,
    request_values,
    scratch_run,
    session,
    start_baseline,
    warm_up,
)

from continuum_workloads.serving.live_metrics import MetricsSink, start_live_metrics
from continuum_workloads.serving.model import ListingModel
from continuum_workloads.serving.records import ModelIdentity
from continuum_workloads.serving.session import SESSION_DEFAULTS

MASTERS = ("local[2]", "local[4]")
RATE = 500
SECONDS = 40
DRAIN_S = 60


def feed_back(reader: Reader, producer: Producer, topic: str, until: threading.Event) -> None:
    """A price for every answer `reader` has read, once a second, until `until` is set."""
    fed = 0
    while not until.wait(1):
        answered = reader.answered[fed:]
        for request_id, _, _ in answered:
            value = json.dumps({"request_id": request_id, "price": 20_000.0}).encode()
            producer.produce(topic, key=request_id.encode(), value=value)
        fed += len(answered)
        producer.poll(0)


def run_case(
    spark: SparkSession, env: dict[str, str], rows: list[dict[str, str]], identity: ModelIdentity
) -> dict[str, Any]:
    model = ListingModel.load(spark, identity)
    model.warm_up()
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    client = {"bootstrap.servers": bootstrap}
    admin = AdminClient(client)
    feedback, metrics = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    for future in admin.create_topics([NewTopic(feedback, 1, 1), NewTopic(metrics, 1, 1)]).values():
        future.result(30)
    try:
        with checkpoints(env, "hdfs") as root, scratch_run(env, model, root) as (config, reader):
            config = replace(
                config, feedback_topic=feedback, metrics_topic=metrics,
                metrics_window="1m", metrics_slide="10s", feedback_delay="30s",
            )  # fmt: skip
            scoring = start_baseline(spark, config, model, "realtime", REALTIME_BATCH)
            producer = load_producer(bootstrap)
            warm_up(scoring, reader, producer, config.requests_topic, rows)
            sink = MetricsSink(client, metrics, lambda _window: None)
            live = start_live_metrics(spark, config, client, sink)
            values = request_values(rows, RATE * SECONDS, "r")
            done = threading.Event()
            feeder = threading.Thread(target=feed_back, args=(reader, producer, feedback, done))
            feeder.start()
            started_ms = offer(producer, config.requests_topic, values, RATE)
            ended_ms = time.time() * 1000
            deadline = time.monotonic() + DRAIN_S
            while len(reader.latency_ms) < WARM_UP_REQUESTS + len(values):
                assert scoring.isActive and time.monotonic() < deadline, scoring.exception()
                time.sleep(0.2)
            done.set()
            feeder.join()
            producer.flush(30)
            # The live-metrics batches that read something while the requests were offered.
            batches = [
                (datetime.fromisoformat(p["timestamp"]).timestamp() * 1000, p["batchDuration"])
                for p in live.recentProgress
                if p["numInputRows"] > 0
            ]
            during = [(at, ms) for at, ms in batches if started_ms <= at <= ended_ms]
            live.stop()
            scoring.stop()
    finally:
        admin.delete_topics([feedback, metrics])
    latencies = [reader.latency_ms[rid] for rid, _ in values if rid in reader.latency_ms]
    starts = [at for at, _ in during]
    return {
        "spark_master": spark.sparkContext.master,
        "requests": len(values),
        "answered": len(latencies),
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p99_ms": round(percentile(latencies, 99), 1),
        "live_metrics_batches": len(during),
        "live_metrics_batch_ms": [ms for _, ms in during],
        "live_metrics_gaps_s": [round((b - a) / 1000, 1) for a, b in itertools.pairwise(starts)],
    }


def main() -> None:
    env = stack_env()
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    result: dict[str, Any] = {
        "machine": machine(), "rate": RATE, "seconds": SECONDS, "realtime_batch": REALTIME_BATCH,
        "cases": [],
    }  # fmt: skip
    listings: tuple[list[dict[str, str]], ModelIdentity] | None = None
    for master in MASTERS:
        SESSION_DEFAULTS["spark.master"] = master  # read by `session()`, once per SparkContext
        spark = session()
        spark.sparkContext.setLogLevel("ERROR")
        try:
            listings = listings or listings_and_model(spark, env)  # one model for both cases
            case = run_case(spark, env, *listings)
        finally:
            spark.stop()
        print(json.dumps(case), flush=True)
        result["cases"].append(case)
    print(write_result("realtime_slots", result))


if __name__ == "__main__":
    main()
