"""Benchmark: the scorer's request validation (`serving.requests.validation`, the JVM validator)
alone, in a local SparkSession, over generated listings as the serving benchmark sends them
(every published field in the dataset's text form, ~1.9 KB each). Writes
bench/results/request_validation.json.

Validation runs for every request in the scorer's tasks, so its time per request bounds the
scorer's throughput per core. The requests are cached in one partition (one task, one core);
each repeat judges them all into Spark's `noop` sink, and the same pass that only reads each
request's length is timed beside it, so the difference is the validator's own cost. Needs no
stack (only the jars `make stack-fetch` builds).
"""

from __future__ import annotations

import argparse
import json
import time

from bench_harness import distribution, machine, write_result
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from serving import session

from continuum_workloads.dataset.generator import generate_chunks
from continuum_workloads.serving.requests import LISTING_FIELDS, register_validation, validation

REQUESTS = 20_000
REPEATS = 7


def timed_us_per_request(frame: DataFrame, count: int) -> float:
    started = time.perf_counter()
    frame.write.format("noop").mode("overwrite").save()
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    rows = next(generate_chunks(2_000, seed=31)).to_dict("records")
    listings = [{k: v for k, v in row.items() if k in LISTING_FIELDS} for row in rows]
    requests = [
        json.dumps({"request_id": f"r-{i}", **listings[i % len(listings)]}).encode()
        for i in range(args.requests)
    ]
    spark = session()
    register_validation(spark)
    cached = spark.createDataFrame([(raw,) for raw in requests], "value binary").coalesce(1)
    cached = cached.cache()
    cached.count()
    judged = cached.select(validation(F.col("value")).alias("verdict")).select("verdict.*")
    valid = judged.where(F.col("reason").isNull()).count()
    read_only = cached.select(F.length("value").alias("bytes"))
    validating, reading = [], []
    for _ in range(args.repeats):  # side by side, alternating
        validating.append(timed_us_per_request(judged, len(requests)))
        reading.append(timed_us_per_request(read_only, len(requests)))
    spark.stop()
    result = {
        "machine": machine(),
        "requests": len(requests),
        "valid": valid,
        "mean_request_bytes": round(sum(map(len, requests)) / len(requests)),
        "microseconds_per_request": distribution(validating),
        "microseconds_per_request_reading_only": distribution(reading),
    }
    print(json.dumps(result["microseconds_per_request"]))
    print(write_result("request_validation", result))


if __name__ == "__main__":
    main()
