"""Benchmark: the scorer's request validation (`serving.requests.validate`) alone, in this
process, over generated listings as the serving benchmark sends them (every published field in
the dataset's text form, ~1.9 KB each). Writes bench/results/request_validation.json.

Validation is pure Python and runs for every request in the scorer's tasks, so its time per
request bounds the exactly-once scorer's throughput per core. Needs no stack.
"""

from __future__ import annotations

import argparse
import json
import time

from bench_harness import distribution, machine, write_result

from continuum_workloads.dataset.generator import generate_chunks
from continuum_workloads.serving.requests import LISTING_FIELDS, ValidRequest, validate

REQUESTS = 2_000
REPEATS = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    rows = next(generate_chunks(args.requests, seed=31)).to_dict("records")
    listings = [{k: v for k, v in row.items() if k in LISTING_FIELDS} for row in rows]
    requests = [
        json.dumps({"request_id": f"r-{i}", **listing}).encode()
        for i, listing in enumerate(listings)
    ]
    valid = sum(isinstance(validate(raw), ValidRequest) for raw in requests)
    per_request_us = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for raw in requests:
            validate(raw)
        per_request_us.append((time.perf_counter() - started) / len(requests) * 1e6)
    result = {
        "machine": machine(),
        "requests": len(requests),
        "valid": valid,
        "mean_request_bytes": round(sum(map(len, requests)) / len(requests)),
        "microseconds_per_request": distribution(per_request_us),
    }
    print(json.dumps(result["microseconds_per_request"]))
    print(write_result("request_validation", result))


if __name__ == "__main__":
    main()
