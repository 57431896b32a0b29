"""Benchmark: a batch's `_SUCCESS` marker lands on HDFS → its SparkApplication exists: median and
p95 at the default poll interval (30 s) and at 2 s. Writes bench/results/operator_reaction.json.

Needs the local stack running (`make stack-up`); it is neither started nor stopped here.

Each sample is one pipeline with one incomplete batch on HDFS. Once every pipeline of a case has
had its first pass (Ready), the markers are written at random moments spread over at least one
poll interval, so each lands at a random phase of its pipeline's poll cycle, as real batches do.
A sample runs from the return of the WebHDFS write of the marker to the arrival of the
SparkApplication's ADDED event on a watch opened beforehand; no polling sleep is in between.
Running a case's samples side by side, rather than one after the other, keeps the 30 s case to
about a minute with the same number of samples as the 2 s case.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from typing import Any

from bench_harness import (
    distribution,
    hdfs_scratch,
    load_average,
    machine,
    stack_env,
    workdir,
    write_result,
)
from hdfs import InsecureClient
from operator_harness import (
    BenchNamespace,
    Operator,
    ResourceWatch,
    bench_namespace,
    create_objects,
    delete_objects,
    ensure_running,
    kube_objects,
    metric_delta,
    pipeline_body,
    running_operator,
    wait_until_ready,
)

from continuum_operator.core import api

CASE_LABEL = "continuum.ml/bench-case"
MARKER_SPACING = 1.0
"""Seconds between markers on average when a case has more samples than its interval has seconds:
the 2 s case's markers then do not all land in the same two seconds."""
MARKER_HISTOGRAM = "continuum_batch_marker_to_run_seconds"


def application_watch(namespace: str, seen: dict[str, float]) -> ResourceWatch:
    """Records in `seen` when each pipeline's first SparkApplication's ADDED event arrived."""

    def added(kind: str, body: dict[str, Any], arrived: float) -> None:
        pipeline = (body["metadata"].get("labels") or {}).get(api.PIPELINE_LABEL)
        if kind == "ADDED" and pipeline:
            seen.setdefault(pipeline, arrived)

    objects = kube_objects()
    where = (api.SPARK_GROUP, api.SPARK_VERSION, namespace, api.SPARK_APPLICATIONS)
    return ResourceWatch(objects.list_namespaced_custom_object, *where, on_event=added)


def measure(
    interval: int,
    samples: int,
    env: dict[str, str],
    namespace: BenchNamespace,
    operator: Operator,
    hdfs: InsecureClient,
    root: str,
    rng: random.Random,
) -> dict[str, Any]:
    """One case: `samples` pipelines polling every `interval` seconds, one marker each."""
    objects = kube_objects()
    case = f"every-{interval}s"
    selector = f"{CASE_LABEL}={case}"
    names = [f"r{interval}s-{index:02d}" for index in range(samples)]
    batch_dirs = {name: f"{root}/{name}/batch-0001" for name in names}
    for name in names:
        hdfs.write(f"{batch_dirs[name]}/part-0000.csv", data="price\n1\n")
    create_objects(
        objects,
        namespace.name,
        (
            pipeline_body(
                name,
                f"{env['HDFS_URI']}{root}/{name}",
                f"{interval}s",
                env["MLFLOW_TRACKING_URI"],
                {CASE_LABEL: case},
            )
            for name in names
        ),
    )
    try:
        wait_until_ready(objects, namespace.name, samples, 120, operator, selector)
        before = operator.metrics()
        window = max(float(interval), samples * MARKER_SPACING)
        schedule = sorted((rng.uniform(0, window), name) for name in names)
        written: dict[str, float] = {}
        write_seconds: list[float] = []
        seen: dict[str, float] = {}
        with application_watch(namespace.name, seen):
            began = time.monotonic()
            for offset, name in schedule:
                time.sleep(max(0.0, began + offset - time.monotonic()))
                writing = time.monotonic()
                hdfs.write(f"{batch_dirs[name]}/_SUCCESS", data="")
                written[name] = time.monotonic()
                write_seconds.append(written[name] - writing)
            deadline = time.monotonic() + interval + 60
            while set(names) - seen.keys() and time.monotonic() < deadline:
                ensure_running(operator)
                time.sleep(0.2)
        after = operator.metrics()
    finally:
        delete_objects(objects, namespace.name, selector)
    missing = sorted(set(names) - seen.keys())
    if missing:
        raise RuntimeError(f"no SparkApplication for {missing} within {interval + 60} s")
    count = metric_delta(before, after, f"{MARKER_HISTOGRAM}_count")
    total = metric_delta(before, after, f"{MARKER_HISTOGRAM}_sum")
    return {
        "poll_interval_seconds": interval,
        "samples": samples,
        "marker_window_seconds": round(window, 1),
        "marker_to_spark_application_seconds": distribution(
            [seen[name] - written[name] for name in names]
        ),
        "marker_write_seconds_median": round(statistics.median(write_seconds), 3),
        # The operator's own figure, from the batch directory's modification time on the NameNode
        # to the start of the pass that created the run: a cross-check of the watch's figure.
        "operator_histogram_mean_seconds": round(total / count, 3) if count else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=15, help="samples per poll interval")
    parser.add_argument(
        "--intervals", default="2,30", help="poll intervals in seconds, comma-separated"
    )
    parser.add_argument("--seed", type=int, default=4, help="seed of the markers' moments")
    args = parser.parse_args()
    intervals = [int(value) for value in args.intervals.split(",")]
    context = machine()
    env = stack_env()
    rng = random.Random(args.seed)
    cases = []
    with (
        workdir() as scratch,
        bench_namespace(env, scratch) as namespace,
        hdfs_scratch(env) as (hdfs, root),
        running_operator(env, namespace, scratch) as operator,
    ):
        for interval in intervals:
            cases.append(measure(interval, args.samples, env, namespace, operator, hdfs, root, rng))
    result = {
        "benchmark": "operator_reaction",
        "measures": "from the return of the WebHDFS write of a batch's _SUCCESS marker to the "
        "ADDED event of its SparkApplication on a watch of the namespace",
        "method": "one pipeline per sample, each with one incomplete batch directory on HDFS; "
        "the samples of a case run side by side in one operator; after every pipeline's first "
        "pass, markers are written at uniformly random moments over max(interval, samples x "
        f"{MARKER_SPACING} s); p95 interpolates linearly between order statistics",
        "operator": "continuum operator -n <namespace> --standalone --webhdfs-url <WebHDFS>, "
        "as a ServiceAccount bound to manifests/base/rbac.yaml's ClusterRole",
        "data": "hdfs:// (local stack NameNode, listed through WebHDFS)",
        "cases": cases,
        **context,
        "loadavg_1m_at_end": load_average(),
    }
    out = write_result("operator_reaction", result)
    for case in cases:
        figures = case["marker_to_spark_application_seconds"]
        print(
            f"poll {case['poll_interval_seconds']:>3} s: marker → SparkApplication median "
            f"{figures['median']:.2f} s, p95 {figures['p95']:.2f} s "
            f"(n={figures['count']}, max {figures['max']:.2f} s)"
        )
    print(f"cpu_count {context['cpu_count']}, shared machine: {context['shared_machine']}; {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
