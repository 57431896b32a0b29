"""Benchmark: the model version changes under a steady stream of requests, two ways side by
side, each counted: lost and duplicated answers (read with read_committed), version switches,
the largest latency and the p99 over the run. Writes bench/results/serving_handoff.json.

- `handoff` (Continuum's): the old scorer stops between two micro-batches; the new one, its
  model already loaded and warm and its query planned, takes the transactional ids over and
  goes on from the same checkpoint, exactly once (`serving.scorer`).
- `naive` (what a plain `kubectl rollout restart` of a Spark scorer gives): the new scorer
  starts with a checkpoint of its own at the latest offsets while the old one still runs, both
  writing with Spark's Kafka sink; once the new one has answered, the old one is stopped.

Both scorers run in this process, one `local[2]` SparkSession, as in bench/serving.py: what the
pods add (the Lease polled each second, a second JVM) is not part of it. The pods themselves
are measured by the handoff tests in tests/integration/workloads/test_serving.py.
Needs the local stack running (`make stack-up`).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from itertools import pairwise
from typing import Any

import mlflow
from bench_harness import load_average, machine, stack_env, write_result
from pyspark.sql.streaming import StreamingQuery
from serving import (
    WARM_UP_REQUESTS,
    Reader,
    checkpoints,
    listings_and_model,
    load_producer,
    percentile,
    request_values,
    scratch_run,
    session,
    start_baseline,
    warm_up,
)

from continuum_workloads.contract import ServingConfig
from continuum_workloads.serving.command import stop_between_batches
from continuum_workloads.serving.model import ListingModel
from continuum_workloads.serving.records import ModelIdentity
from continuum_workloads.serving.scorer import BatchScorer, scoring_stream, start_scoring
from demo.reckoning import reckon

RATE = 200
BEFORE_S = 20
AFTER_S = 20
DRAIN_S = 120


class SteadyStream:
    """Offers requests at a steady rate from the caller's thread, a slice at a time."""

    def __init__(self, bootstrap: str, topic: str, rows: list[dict[str, str]], rate: int) -> None:
        self.producer = load_producer(bootstrap)
        self.topic, self.rate = topic, rate
        self.values = request_values(rows, rate * (BEFORE_S + AFTER_S + 120), "h")
        self.sent: list[str] = []
        self.started: float | None = None  # the first `run_for`

    def run_for(self, seconds: float, until: Any = None) -> None:
        """Offers for `seconds`, or until `until()` is true, whichever comes first."""
        if self.started is None:
            self.started = time.monotonic()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (until and until()):
            due = min(len(self.values), int((time.monotonic() - self.started) * self.rate))
            for request_id, value in self.values[len(self.sent) : due]:
                self.producer.produce(self.topic, key=request_id.encode(), value=value)
                self.sent.append(request_id)
            self.producer.poll(0)
            time.sleep(0.005)

    def flush(self) -> None:
        assert self.producer.flush(60) == 0


def change_versions(
    how: str, spark: Any, config: ServingConfig, old: ListingModel, new: ListingModel,
    stream: SteadyStream, reader: Reader, rows: list[dict[str, str]],
) -> tuple[float, list[StreamingQuery]]:  # fmt: skip
    """Runs the old scorer, changes to the new one `how`; the seconds the change took (from the
    old scorer told to stop, or the new one started, until the new one runs) and the queries
    left running."""
    client = {"bootstrap.servers": config.kafka_bootstrap_servers}
    if how == "handoff":
        query = start_scoring(spark, config, client, BatchScorer(old, config, client))
        warm_up(query, reader, stream.producer, config.requests_topic, rows)
        # Planned while the old one runs, as a pod plans it while it waits for the Lease.
        new_scorer = BatchScorer(new, config, client)
        planned = scoring_stream(spark, config, client, new_scorer)
        stream.run_for(BEFORE_S)
        started = time.monotonic()
        stop_between_batches(query, config.stop_wait_s)
        new_scorer.output.take_over(spark)
        query = planned.start()
        return time.monotonic() - started, [query]
    first = start_baseline(spark, config, old, "kafka-sink", config.trigger_interval)
    warm_up(first, reader, stream.producer, config.requests_topic, rows)
    stream.run_for(BEFORE_S)
    started = time.monotonic()
    second_config = replace(config, checkpoint_uri=config.checkpoint_uri + "-new")
    second = start_baseline(spark, second_config, new, "kafka-sink", "0s", "latest")
    new_answered = lambda: any(v == new.identity.version for _, v, _ in reader.answered)  # noqa: E731
    stream.run_for(120, until=new_answered)
    first.stop()
    return time.monotonic() - started, [second]


def run_case(
    how: str, spark: Any, env: dict[str, str], models: tuple[ListingModel, ListingModel],
    rows: list[dict[str, str]], root: str,
) -> dict[str, Any]:  # fmt: skip
    old, new = models
    with scratch_run(env, old, root) as (config, reader):
        stream = SteadyStream(env["KAFKA_BOOTSTRAP_SERVERS"], config.requests_topic, rows, RATE)
        queries: list[StreamingQuery] = []
        try:
            change_s, queries = change_versions(how, spark, config, old, new, stream, reader, rows)
            stream.run_for(AFTER_S)
            stream.flush()
            deadline = time.monotonic() + DRAIN_S
            expected = WARM_UP_REQUESTS + len(stream.sent)  # the warm-up's are answered too
            while len(reader.latency_ms) < expected and time.monotonic() < deadline:
                assert all(q.isActive for q in queries), [q.exception() for q in queries]
                time.sleep(0.5)
            time.sleep(3)  # late duplicates, if any, arrive after the last first answer
            first_batches = [
                {"records": p["numInputRows"], **p["durationMs"]}
                for p in queries[0].recentProgress[:3]
            ]
        finally:
            for query in queries:
                query.stop()
    measured = set(stream.sent)  # not the warm-up requests
    answered = [answer for answer in reader.answered if answer[0] in measured]
    counted = reckon(stream.sent, [rid for rid, _, _ in answered], ())
    first_version = {}
    for request_id, version, _ in answered:
        first_version.setdefault(request_id, version)
    versions = [first_version[rid] for rid in stream.sent if rid in first_version]
    latencies = [latency for _, _, latency in answered]
    return {
        "how": how,
        "offered_per_s": RATE,
        "requests": len(stream.sent),
        "answered_once": counted.predicted,
        "lost": len(counted.lost),
        "duplicated": len(counted.duplicated),
        "version_switches": sum(1 for a, b in pairwise(versions) if a != b),
        "change_seconds": round(change_s, 2),
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p99_ms": round(percentile(latencies, 99), 1),
        "largest_latency_ms": round(max(latencies), 1),
        "new_scorer_first_batches": first_batches,
        "loadavg_1m": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="handoff,naive")
    args = parser.parse_args()
    env = stack_env()
    spark = session()
    spark.sparkContext.setLogLevel("ERROR")
    rows, v1 = listings_and_model(spark, env)
    registry = mlflow.MlflowClient()
    first = registry.get_model_version(v1.name, v1.version)
    second = registry.create_model_version(v1.name, first.source, run_id=first.run_id)
    v2 = ModelIdentity(v1.name, second.version)
    models = (ListingModel.load(spark, v1), ListingModel.load(spark, v2))
    for model in models:
        model.warm_up()
    result: dict[str, Any] = {"machine": machine(), "runs": []}
    with checkpoints(env, "hdfs") as root:
        for how in args.cases.split(","):
            run = run_case(how, spark, env, models, rows, root)
            print(json.dumps(run), flush=True)
            result["runs"].append(run)
    spark.stop()
    print(write_result("serving_handoff", result))


if __name__ == "__main__":
    main()
