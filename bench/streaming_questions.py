"""Experiments: four of the streaming notes' open questions
(`shared/reference/streaming-serving-notes.md`), settled on the local stack with Spark's own
Kafka sink and counted. Writes bench/results/streaming_questions.json.

- 2: a Real-time Mode query stopped mid-stream and started again on its checkpoint, with a 5 s
  and a 5 min real-time batch: answers duplicated and lost at the output.
- 3: a micro-batch query stopped blindly or as a pod stops on SIGTERM (`stop_between_batches`:
  once the running batch has ended), at trigger intervals 0, 100 ms and 1 s, started again on
  its checkpoint: the same counts.
- 6: a checkpoint written by micro-batches taken over by a Real-time Mode run of the same
  query, and the reverse: does the second start, and what does it answer twice or never?
- 8: Spark's Kafka sink given `kafka.transactional.id`: an error, or silence?

Each case streams requests at RATE for SECONDS into a new requests topic, stops the first query
STOP_AFTER_S in, starts the second at once and reads every answer (read_committed) until all
requests are answered or DRAIN_S passes. Questions 2 and 6 run the `realtime` pipeline of
bench/serving.py, question 3 the `kafka-sink` one (both the scorer's validation and model).
Needs the local stack running (`make stack-up`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import mlflow
from bench_harness import machine, stack_env, write_result
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery
from serving import (
    checkpoints,
    listings_and_model,
    load_producer,
    offer,
    request_values,
    scratch_run,
    session,
    start_baseline,
)

from continuum_workloads.serving.command import stop_between_batches
from continuum_workloads.serving.model import ListingModel

RATE = 500
SECONDS = 12
STOP_AFTER_S = 6
DRAIN_S = 120


def first_line(error: BaseException | None) -> str | None:
    return None if error is None else str(error).strip().splitlines()[0][:300]


def stop_and_restart(
    spark: SparkSession, env: dict[str, str], model: ListingModel, rows: list[dict[str, str]],
    root: str, mode: str, trigger: str, stop: str, realtime: tuple[bool, bool],
    second_trigger: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Runs `mode` under `trigger` (Real-time Mode where `realtime[0]`), stops it `stop`
    (`blind` or `between-batches`) mid-stream, runs it again on the same checkpoint (Real-time
    Mode where `realtime[1]`, under `second_trigger` if given) and counts the answers."""
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    values = request_values(rows, RATE * SECONDS, "q")
    second: StreamingQuery | None = None
    restart_error: str | None = None
    with scratch_run(env, model, root) as (config, reader):
        sender = threading.Thread(
            target=offer, args=(load_producer(bootstrap), config.requests_topic, values, RATE)
        )
        first = start_baseline(spark, config, model, mode, trigger, realtime=realtime[0])
        sender.start()
        time.sleep(STOP_AFTER_S)  # a stimulus: the stop lands wherever the query is by then
        answered_before_stop = len(reader.answered)
        if stop == "blind":
            first.stop()
        else:
            stop_between_batches(first, config.stop_wait_s)
        try:
            second = start_baseline(spark, config, model, mode, second_trigger or trigger,
                                    realtime=realtime[1])  # fmt: skip
        except Exception as error:  # the question: does the other kind of query start?
            restart_error = first_line(error)
        sender.join()
        deadline = time.monotonic() + DRAIN_S
        while second is not None and time.monotonic() < deadline:
            if not second.isActive or len(reader.latency_ms) >= len(values):
                break
            time.sleep(0.5)
        if second is not None and not second.isActive:
            restart_error = first_line(second.exception())
        time.sleep(3)  # late duplicates, if any, arrive after the last first answer
        if second is not None and second.isActive:
            second.stop()
    answers = Counter(request_id for request_id, _, _ in reader.answered)
    return {
        "mode": mode,
        "trigger": trigger,
        "second_trigger": second_trigger or trigger,
        "stop": stop,
        "realtime": list(realtime),
        "requests": len(values),
        "answered_before_stop": answered_before_stop,
        "answered": len(answers),
        "lost": sum(1 for request_id, _ in values if request_id not in answers),
        "duplicated": sum(1 for count in answers.values() if count > 1),
        "restart_error": restart_error,
    }


def sink_with_transactional_id(
    spark: SparkSession, env: dict[str, str], model: ListingModel, rows: list[dict[str, str]],
    root: str,
) -> dict[str, Any]:  # fmt: skip
    """Question 8: the `kafka-sink` query with `kafka.transactional.id` set on its sink."""
    values = request_values(rows, 200, "t")
    with scratch_run(env, model, root) as (config, reader):
        options = {"kafka.transactional.id": f"bench-{config.requests_topic}"}
        query = start_baseline(spark, config, model, "kafka-sink", "0s", sink_options=options)
        try:
            producer = load_producer(env["KAFKA_BOOTSTRAP_SERVERS"])
            offer(producer, config.requests_topic, values, 1000)
            deadline = time.monotonic() + DRAIN_S
            while query.isActive and len(reader.latency_ms) < len(values):
                assert time.monotonic() < deadline, "neither answers nor an error"
                time.sleep(0.5)
            error = None if query.isActive else first_line(query.exception())
        finally:
            if query.isActive:
                query.stop()
    return {"requests": len(values), "answered_read_committed": len(reader.latency_ms),
            "query_error": error}  # fmt: skip


def main() -> None:
    env = stack_env()
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    spark = session()
    spark.sparkContext.setLogLevel("ERROR")
    rows, identity = listings_and_model(spark, env)
    model = ListingModel.load(spark, identity)
    model.warm_up()
    result: dict[str, Any] = {"machine": machine(), "rate": RATE, "seconds": SECONDS,
                              "stop_after_s": STOP_AFTER_S}  # fmt: skip
    with checkpoints(env, "hdfs") as root:

        def case(*args: Any, **kwargs: Any) -> dict[str, Any]:
            outcome = stop_and_restart(spark, env, model, rows, root, *args, **kwargs)
            print(json.dumps(outcome), flush=True)
            return outcome

        result["q2_realtime_stop_restart"] = [
            case("realtime", batch, "blind", (True, True)) for batch in ("5 seconds", "5 minutes")
        ]
        result["q3_micro_batch_stop_restart"] = [
            case("kafka-sink", interval, stop, (False, False))
            for interval in ("0s", "100ms", "1s")
            for stop in ("blind", "between-batches")
        ]
        result["q6_checkpoint_between_modes"] = [
            case("realtime", "0s", "between-batches", (False, True), second_trigger="5 seconds"),
            case("realtime", "5 seconds", "blind", (True, False), second_trigger="0s"),
        ]
        result["q8_sink_with_transactional_id"] = sink_with_transactional_id(
            spark, env, model, rows, root
        )
        print(json.dumps(result["q8_sink_with_transactional_id"]), flush=True)
    spark.stop()
    print(write_result("streaming_questions", result))


if __name__ == "__main__":
    main()
