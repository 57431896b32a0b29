"""Benchmark: the exactly-once scorer's sustained requests/s and end-to-end latency (request
produced → its prediction readable with read_committed), at several offered rates and trigger
intervals, beside two baselines that give up exactly-once. Writes bench/results/serving.json
(`--result` names another file).

Modes, one run each per offered rate, side by side:
- `exactly-once`: the scorer as `continuum serve` runs it (validation, the model, a Kafka
  transaction per partition of the requests topic), at each trigger interval of `--triggers`;
- `kafka-sink`: the same validation, model and answers, written by Spark's own Kafka sink
  (at-least-once: a replayed batch is written again), micro-batches at the first trigger
  interval;
- `realtime`: the same query under Spark's Real-time Mode (`trigger(realTime=...)`), as
  `continuum serve` runs it in `mode: realtime`: at least once.

Needs the local stack running (`make stack-up`): Kafka, MLflow (a model of the benchmark's own,
trained here on generated listings: the training job's feature stages and a linear regression)
and HDFS (the checkpoint; `--checkpoint-stores hdfs,local` runs each case a second time, beside,
with its checkpoint on local disk). The scorer runs in this process, as `continuum serve` runs it:
a local[2] SparkSession, the scoring query, one transactional producer per partition of the
requests topic (two here) in its tasks.

Latency is the consumer's receipt time minus the request's Kafka timestamp (set by the producer
when it sends), both on this machine's clock. The producer and the reader are connected before
the measured requests are sent, and the reader takes each answer as soon as it is readable.
Sustained rate: answers per second from the first request sent to the last prediction read, over
the requests offered in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import mlflow
import pandas as pd
from bench_harness import (
    hdfs_scratch,
    load_average,
    machine,
    memory_mb,
    process_tree,
    stack_env,
    workdir,
    write_result,
)
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from listing_model import register_listing_model
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from continuum_workloads.contract import ServingConfig
from continuum_workloads.dataset.generator import generate_chunks
from continuum_workloads.serving.model import ListingModel
from continuum_workloads.serving.records import ModelIdentity
from continuum_workloads.serving.requests import LISTING_FIELDS
from continuum_workloads.serving.scorer import BatchScorer, answers_to_kafka, start_scoring
from continuum_workloads.serving.session import SESSION_DEFAULTS, spark_interval
from localstack.config import StackConfig

RATES = (500, 2_000, 5_000)
TRIGGERS = ("0s", "500ms")
MODES = ("exactly-once", "kafka-sink", "realtime")
REALTIME_BATCH = "5 seconds"  # the shortest Spark allows (realTimeMode.minBatchDuration)
SECONDS = 20
WARM_UP_REQUESTS = 100
DRAIN_S = 120
PHASES = ("latestOffset", "walCommit", "queryPlanning", "addBatch", "commitOffsets")
CHECKPOINT_STORES = ("hdfs", "local")


def session() -> SparkSession:
    """A SparkSession as a serving pod's (`serving/session.py`), on this machine's loopback."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # any Python worker Spark starts
    jars = ",".join(str(jar) for jar in StackConfig.from_env().spark_jars)
    settings = {
        **SESSION_DEFAULTS, "spark.jars": jars, "spark.driver.memory": "2g",
        "spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1",
    }  # fmt: skip
    builder = SparkSession.builder.appName("continuum-bench-serving")
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


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
        self.answered: list[tuple[str, str | None, float]] = []
        """Every answer read, duplicates included: (request id, model version, latency ms)."""
        self.last_ms = 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            # poll returns as soon as one answer is readable; consume(n, timeout) would wait
            # out its timeout for n of them and add that wait to every latency.
            first = self.consumer.poll(0.2)
            if first is None:
                continue
            now = time.time() * 1000
            for message in [first, *self.consumer.consume(1000, 0)]:
                if message.error():
                    continue
                answer = json.loads(message.value())
                latency = now - answer["request_time_ms"]
                self.latency_ms[answer["request_id"]] = latency
                self.answered.append((answer["request_id"], answer.get("model_version"), latency))
                self.last_ms = now
        self.consumer.close()


def load_producer(bootstrap: str) -> Producer:
    """The load generator's producer. A run offers all its requests, the warm-up's included,
    through one: a new producer sends its first requests late while it connects and sets up its
    producer id (up to half a second here), which the latency would count as the scorer's."""
    return Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})


def offer(producer: Producer, topic: str, values: list[tuple[str, bytes]], rate: float) -> float:
    """Produces at `rate` per second; returns when the first was sent (ms)."""
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


def listings_and_model(
    spark: SparkSession, env: dict[str, str]
) -> tuple[list[dict[str, str]], ModelIdentity]:
    """The serving benchmarks' generated listings (impossible mileages left out) and a model
    registered from the first 1,500 of them."""
    rows = next(generate_chunks(2_000, seed=31)).to_dict("records")
    rows = [r for r in rows if r["mileage"] == "" or float(r["mileage"]) < 1_000_000]
    return rows, register_listing_model(
        spark, pd.DataFrame(rows[:1_500]), env["MLFLOW_TRACKING_URI"]
    )


@contextlib.contextmanager
def scratch_run(
    env: dict[str, str], model: ListingModel, checkpoint_root: str, trigger: str = "0s"
) -> Iterator[tuple[ServingConfig, Reader]]:
    """New topics and a scorer's configuration over them, with a Reader of its predictions;
    the topics are deleted afterwards."""
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    config = scratch_scorer(admin, env, model.identity, checkpoint_root, trigger)
    reader = Reader(bootstrap, config.predictions_topic)
    reader.start()
    try:
        yield config, reader
    finally:
        reader.halt.set()
        reader.join(30)
        admin.delete_topics(
            [config.requests_topic, config.predictions_topic, config.dead_letter_topic]
        )


def warm_up(
    query: StreamingQuery, reader: Reader, producer: Producer, topic: str,
    rows: list[dict[str, str]],
) -> None:  # fmt: skip
    """Has a fresh query answer WARM_UP_REQUESTS, offered by the run's `producer`, before
    anything is measured: its first batches (code being generated, producers opened) take
    seconds, once per query."""
    warm = request_values(rows, WARM_UP_REQUESTS, "warm")
    offer(producer, topic, warm, 1000)
    deadline = time.monotonic() + DRAIN_S
    while len(reader.latency_ms) < len(warm) and time.monotonic() < deadline:
        assert query.isActive, query.exception()
        time.sleep(0.2)
    assert len(reader.latency_ms) >= len(warm), "the warm-up requests were not all answered"


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[int(q) - 1]


def start_baseline(
    spark: SparkSession,
    config: ServingConfig,
    model: ListingModel,
    mode: str,
    trigger: str,
    starting_offsets: str = "earliest",
    realtime: bool | None = None,
    sink_options: dict[str, str] | None = None,
) -> StreamingQuery:
    """A query of `mode` (`kafka-sink`, `realtime`): the scorer's `answers_to_kafka`, as
    `continuum serve` runs it in `realtime` mode; `trigger` is the micro-batch interval or the
    real-time batch's duration. `realtime` runs the mode's query under the other kind of
    trigger (same checkpoint); `sink_options` are added to the Kafka sink's."""
    realtime = mode == "realtime" if realtime is None else realtime
    client = {"bootstrap.servers": config.kafka_bootstrap_servers}
    writer = (
        answers_to_kafka(spark, config, client, model, starting_offsets)
        .option("checkpointLocation", f"{config.checkpoint_uri}/{mode}")
        .options(**(sink_options or {}))
    )
    if realtime:
        return writer.outputMode("update").trigger(realTime=trigger).start()
    return writer.trigger(processingTime=spark_interval(trigger)).start()


def scorer_memory_mb(spark: SparkSession) -> float:
    """Resident memory of the scorer's processes: Spark's JVM and any Python worker (this
    benchmark's producer and reader live in the driver's Python and are left out)."""
    jvm = int(spark.sparkContext._jvm.ProcessHandle.current().pid())  # type: ignore[union-attr]
    total = 0.0
    for pid in process_tree(jvm):
        with contextlib.suppress(OSError, KeyError):  # ended meanwhile, or a zombie
            total += memory_mb(pid, "VmRSS")
    return round(total, 1)


def scratch_scorer(
    admin: AdminClient,
    env: dict[str, str],
    model: ModelIdentity,
    checkpoint_root: str,
    trigger: str,
) -> ServingConfig:
    """A scorer's configuration over new topics (requests: two partitions; predictions, dead
    letters), its checkpoint under `checkpoint_root` (a URI)."""
    topics = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for future in admin.create_topics([NewTopic(topics[0], 2, 1), NewTopic(topics[1], 1, 1),
                                        NewTopic(topics[2], 1, 1)]).values():  # fmt: skip
        future.result(30)
    requests, predictions, dead = topics
    return ServingConfig(
        model_name=model.name, model_version=model.version,
        mlflow_tracking_uri=env["MLFLOW_TRACKING_URI"],
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        requests_topic=requests, predictions_topic=predictions, dead_letter_topic=dead,
        checkpoint_uri=f"{checkpoint_root}/{requests}",
        transactional_id=f"bench-{requests}", lease_name="unused", trigger_interval=trigger,
    )  # fmt: skip


def run_one(
    spark: SparkSession,
    env: dict[str, str],
    model: ListingModel,
    rows: list[dict[str, str]],
    rate: int,
    mode: str,
    trigger: str,
    checkpoint_root: str,
    seconds: int,
) -> dict[str, Any]:
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    with scratch_run(env, model, checkpoint_root, trigger) as (config, reader):
        requests = config.requests_topic
        if mode == "exactly-once":
            scorer = BatchScorer(model, config, {"bootstrap.servers": bootstrap})
            query = start_scoring(spark, config, {"bootstrap.servers": bootstrap}, scorer)
        else:
            query = start_baseline(spark, config, model, mode, trigger)
        try:
            producer = load_producer(bootstrap)
            warm_up(query, reader, producer, requests, rows)
            load = load_average()
            values = request_values(rows, rate * seconds, "r")
            first_ms = offer(producer, requests, values, rate)
            deadline, expected = time.monotonic() + DRAIN_S, WARM_UP_REQUESTS + len(values)
            while len(reader.latency_ms) < expected and time.monotonic() < deadline:
                assert query.isActive, query.exception()
                time.sleep(0.2)
            memory = scorer_memory_mb(spark)
            progress = [p for p in query.recentProgress if p["numInputRows"] > 0]
        finally:
            query.stop()
    latencies = [reader.latency_ms[rid] for rid, _ in values if rid in reader.latency_ms]
    return {
        "mode": mode,
        "offered_per_s": rate,
        "trigger": trigger,
        "requests": len(values),
        "answered": len(latencies),
        "sustained_per_s": round(len(latencies) / ((reader.last_ms - first_ms) / 1000), 1),
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p99_ms": round(percentile(latencies, 99), 1),
        "latency_max_ms": round(max(latencies), 1),
        "batches": len(progress),
        # None when no batch ended within the run (a real-time batch longer than the run)
        "median_batch_records": median([p["numInputRows"] for p in progress]),
        "median_batch_seconds": median(
            [p["durationMs"]["triggerExecution"] / 1000 for p in progress]
        ),
        # Where a batch's time goes, as Spark reports it: the offset log written (walCommit),
        # the batch run (addBatch), the commit log written (commitOffsets), Kafka's offsets
        # asked for (latestOffset), planning.
        "median_phase_ms": {
            phase: median([p["durationMs"].get(phase, 0) for p in progress]) for phase in PHASES
        },
        "scorer_rss_mb": memory,
        "loadavg_1m": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument(
        "--triggers",
        default=",".join(TRIGGERS),
        help="trigger intervals of exactly-once; the kafka-sink baseline runs at the first",
    )
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--checkpoint-stores",
        default="hdfs",
        help="where the checkpoints live, each store a run of its own beside the others: `hdfs`"
        " (the stack's, as in a pod) and/or `local` (this machine's disk)",
    )
    parser.add_argument(
        "--realtime-batch",
        default=REALTIME_BATCH,
        help="duration of a real-time batch (its checkpoint interval, not a latency target)",
    )
    parser.add_argument(
        "--seconds",
        type=int,
        default=SECONDS,
        help="how long each run offers requests; a run should span several real-time batches",
    )
    parser.add_argument(
        "--result", default="serving", help="the results' name: bench/results/<result>.json"
    )
    args = parser.parse_args()
    env = stack_env()
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    stores = args.checkpoint_stores.split(",")
    if unknown := set(stores) - set(CHECKPOINT_STORES):
        parser.error(f"--checkpoint-stores: {', '.join(sorted(unknown))} is not one of hdfs, local")
    result: dict[str, Any] = {"machine": machine(), "seconds_per_run": args.seconds, "runs": []}
    spark = session()
    spark.sparkContext.setLogLevel("ERROR")
    rows, identity = listings_and_model(spark, env)
    model = ListingModel.load(spark, identity)
    model.warm_up()
    triggers = args.triggers.split(",")
    with contextlib.ExitStack() as scratch:
        roots = {store: scratch.enter_context(checkpoints(env, store)) for store in stores}
        for rate in map(int, args.rates.split(",")):
            for mode in args.modes.split(","):
                by_mode = triggers if mode == "exactly-once" else triggers[:1]
                for trigger in [args.realtime_batch] if mode == "realtime" else by_mode:
                    for store, root in roots.items():
                        run = run_one(
                            spark, env, model, rows, rate, mode, trigger, root, args.seconds
                        )
                        run = {**run, "checkpoint_store": store}
                        print(json.dumps(run), flush=True)
                        result["runs"].append(run)
    spark.stop()
    print(write_result(args.result, result))


@contextlib.contextmanager
def checkpoints(env: dict[str, str], store: str) -> Iterator[str]:
    """A scratch directory for the runs' checkpoints, as a URI, deleted afterwards."""
    if store == "local":
        with workdir() as path:
            yield f"file://{path}"
        return
    with hdfs_scratch(env) as (_, root):
        yield f"{env['HDFS_URI']}{root}"


if __name__ == "__main__":
    main()
