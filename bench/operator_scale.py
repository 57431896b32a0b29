"""Benchmark: many TrainingPipelines (300 by default) and ServingDeployments (100, following 10
distinct models) in one namespace at steady state, no new data and no new model version: the
operator's CPU, peak RSS, Kubernetes API requests, HDFS listings and MLflow requests per minute.
Goals (issues 4 and 12): at most 0.2 core and 250 MB; MLflow requests grow with the distinct
models, not with the ServingDeployments. Writes bench/results/operator_scale.json.

Needs the local stack running (`make stack-up`); it is neither started nor stopped here.

Each pipeline watches an empty directory of its own on HDFS, so every poll is one WebHDFS listing.
Once every pipeline is Ready and one more poll interval has passed (the startup's status writes
and registry probes are over), the figures are taken over a window:
- CPU: utime + stime of the operator process (/proc/<pid>/stat) over the window, in cores;
- peak RSS: VmHWM of /proc/<pid>/status at the end (the whole run's peak, startup included);
- API requests: the API server's `apiserver_flowcontrol_dispatched_requests_total` for a
  FlowSchema that matches only the operator's ServiceAccount (see operator_harness);
- listings: the operator's `continuum_data_listings_total`;
- MLflow requests: the operator's `continuum_registry_requests_total` (every call it makes).

The ServingDeployments' scorer pods run on the stack's kwok nodes (Ready at once, nothing runs).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from bench_harness import (
    cpu_seconds,
    hdfs_scratch,
    load_average,
    machine,
    machine_busy_seconds,
    memory_mb,
    stack_env,
    workdir,
    write_result,
)
from operator_harness import (
    apiserver_metrics,
    bench_namespace,
    create_objects,
    delete_objects,
    ensure_running,
    is_ready,
    kube_objects,
    list_objects,
    metric_delta,
    pipeline_body,
    registered_models,
    running_operator,
    serving_body,
    wait_until_ready,
)

from continuum_operator.core.api import Kind

SERVING = Kind.SERVING_DEPLOYMENT
CPU_GOAL_CORES = 0.2
RSS_GOAL_MB = 250
RSS_SAMPLE_SECONDS = 5.0


class Snapshot:
    """The counters a window is measured between."""

    def __init__(self, pid: int, operator_text: str) -> None:
        self.at = time.monotonic()
        self.cpu = cpu_seconds(pid)
        self.busy = machine_busy_seconds()
        self.operator = operator_text
        self.apiserver = apiserver_metrics()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=300, help="TrainingPipelines to run")
    parser.add_argument("--poll-interval", type=int, default=30, help="their poll interval, s")
    parser.add_argument(
        "--serving-deployments", type=int, default=100, help="ServingDeployments to run"
    )
    parser.add_argument("--models", type=int, default=10, help="distinct models they follow")
    parser.add_argument("--window", type=int, default=180, help="measured window, s")
    args = parser.parse_args()
    context = machine()
    env = stack_env()
    objects = kube_objects()
    with (
        workdir() as scratch,
        bench_namespace(env, scratch) as namespace,
        hdfs_scratch(env) as (hdfs, root),
        registered_models(env["MLFLOW_TRACKING_URI"], args.models) as (_, models),
        running_operator(env, namespace, scratch) as operator,
    ):
        assert operator.process is not None
        pid = operator.process.pid
        names = [f"p-{index:04d}" for index in range(args.pipelines)]
        for name in names:
            hdfs.makedirs(f"{root}/{name}")
        interval = f"{args.poll_interval}s"
        bodies = (
            pipeline_body(name, f"{env['HDFS_URI']}{root}/{name}", interval,
                          env["MLFLOW_TRACKING_URI"], {})
            for name in names
        )  # fmt: skip
        servings = (
            serving_body(f"s-{index:04d}", models[index % len(models)],
                         env["MLFLOW_TRACKING_URI"], env["KAFKA_BOOTSTRAP_SERVERS"], {})
            for index in range(args.serving_deployments)
        )  # fmt: skip
        try:
            create_objects(objects, namespace.name, bodies)
            create_objects(objects, namespace.name, servings, SERVING)
            ready_seconds = max(
                wait_until_ready(objects, namespace.name, args.pipelines, 600, operator),
                wait_until_ready(
                    objects, namespace.name, args.serving_deployments, 600, operator, kind=SERVING
                ),
            )
            startup_cpu = cpu_seconds(pid)
            time.sleep(args.poll_interval)
            start = Snapshot(pid, operator.metrics())
            rss_samples = []
            while time.monotonic() < start.at + args.window:
                ensure_running(operator)
                rss_samples.append(memory_mb(pid, "VmRSS"))
                time.sleep(
                    min(RSS_SAMPLE_SECONDS, max(0.0, start.at + args.window - time.monotonic()))
                )
            end = Snapshot(pid, operator.metrics())
            peak_rss = memory_mb(pid, "VmHWM")
            still_ready = sum(map(is_ready, list_objects(objects, namespace.name)))
            servings_ready = sum(map(is_ready, list_objects(objects, namespace.name, kind=SERVING)))
        finally:
            delete_objects(objects, namespace.name, kind=SERVING, timeout=300)
            delete_objects(objects, namespace.name, timeout=300)
    minutes = (end.at - start.at) / 60

    def per_minute(text_of: str, name: str, **labels: str) -> float:
        before, after = getattr(start, text_of), getattr(end, text_of)
        return round(metric_delta(before, after, name, **labels) / minutes, 1)

    requests = per_minute(
        "apiserver",
        "apiserver_flowcontrol_dispatched_requests_total",
        flow_schema=namespace.flow_schema,
    )
    reconciles = per_minute("operator", "continuum_reconciles_total")
    mlflow_requests = per_minute("operator", "continuum_registry_requests_total")
    serving_poll_seconds = 15  # the CRD's default mlflow.pollInterval
    cores = (end.cpu - start.cpu) / (end.at - start.at)
    others = (end.busy - start.busy) / (end.at - start.at) - cores
    result: dict[str, Any] = {
        "benchmark": "operator_scale",
        "parameters": {
            "pipelines": args.pipelines,
            "poll_interval_seconds": args.poll_interval,
            "serving_deployments": args.serving_deployments,
            "distinct_models": args.models,
            "serving_registry_poll_seconds": serving_poll_seconds,
            "window_seconds": round(end.at - start.at, 1),
            "data": "hdfs://: one empty directory per pipeline on the local stack's NameNode, "
            "listed through WebHDFS",
        },
        "seconds_until_all_ready": round(ready_seconds, 1),
        "operator_cpu_seconds_until_all_ready": round(startup_cpu, 1),
        "operator_cpu_cores": round(cores, 4),
        "operator_peak_rss_mb": round(peak_rss, 1),
        "operator_rss_mb_in_window_max": round(max(rss_samples), 1),
        "kubernetes_api_requests_per_minute": requests,
        "kubernetes_api_requests_rejected_per_minute": per_minute(
            "apiserver",
            "apiserver_flowcontrol_rejected_requests_total",
            flow_schema=namespace.flow_schema,
        ),
        "hdfs_listings_per_minute": per_minute(
            "operator", "continuum_data_listings_total", transport="webhdfs"
        ),
        "hdfs_listing_errors_per_minute": per_minute(
            "operator", "continuum_data_listings_total", transport="webhdfs", result="error"
        ),
        "hdfs_listings_per_minute_expected": round(args.pipelines * 60 / args.poll_interval, 1),
        "mlflow_requests_per_minute": mlflow_requests,
        "mlflow_requests_per_minute_expected": round(args.models * 60 / serving_poll_seconds, 1),
        "mlflow_requests_per_minute_if_each_serving_deployment_polled": round(
            args.serving_deployments * 60 / serving_poll_seconds, 1
        ),
        "reconciles_per_minute": reconciles,
        "reconciles_per_minute_by_kind": {
            str(kind): per_minute("operator", "continuum_reconciles_total", kind=str(kind))
            for kind in Kind
        },
        "kubernetes_api_requests_per_reconcile": round(requests / max(reconciles, 1.0), 2),
        "reconcile_errors_per_minute": per_minute("operator", "continuum_reconcile_errors_total"),
        "pipelines_ready_at_end": still_ready,
        "serving_deployments_ready_at_end": servings_ready,
        "goals": {
            "cpu_cores_max": CPU_GOAL_CORES,
            "rss_mb_max": RSS_GOAL_MB,
            "cpu_met": cores <= CPU_GOAL_CORES,
            "rss_met": peak_rss <= RSS_GOAL_MB,
        },
        "notes": [
            "a steady-state pass reads the pipeline (GET) and lists its SparkApplications (LIST); "
            "it writes status only when something changed",
            "ServingDeployments make no MLflow request in their passes: one task polls each "
            "distinct model and wakes its followers only when what the registry says changes; a "
            "ServingDeployment's own pass runs every 5 minutes at steady state (GET of itself, "
            "its Deployment)",
            "the operator runs as its ServiceAccount, under the ClusterRole of "
            "manifests/base/rbac.yaml",
        ],
        "methods": {
            "cpu": "utime+stime delta of /proc/<pid>/stat over the window",
            "peak_rss": "VmHWM of /proc/<pid>/status at the end of the window, in MiB",
            "kubernetes_api_requests": "delta of the API server's "
            "apiserver_flowcontrol_dispatched_requests_total for a FlowSchema matching only the "
            "operator's ServiceAccount (the API server's request counters carry no user agent); "
            "a watch counts once, when it is opened",
            "hdfs_listings": "delta of the operator's continuum_data_listings_total "
            "(transport=webhdfs)",
            "mlflow_requests": "delta of the operator's continuum_registry_requests_total",
        },
        **context,
        "other_processes_cpu_cores_in_window": round(max(others, 0.0), 2),
        "loadavg_1m_at_end": load_average(),
    }
    out = write_result("operator_scale", result)
    verdict = {True: "met", False: "MISSED"}
    goals = result["goals"]
    print(
        f"{args.pipelines} pipelines polling every {args.poll_interval} s and "
        f"{args.serving_deployments} ServingDeployments following {args.models} models, "
        f"{result['parameters']['window_seconds']:.0f} s window: "
        f"CPU {cores:.3f} core (goal ≤ {CPU_GOAL_CORES}: {verdict[goals['cpu_met']]}), "
        f"peak RSS {peak_rss:.0f} MB (goal ≤ {RSS_GOAL_MB}: {verdict[goals['rss_met']]}), "
        f"{result['kubernetes_api_requests_per_minute']:.0f} API requests/min, "
        f"{result['hdfs_listings_per_minute']:.0f} HDFS listings/min, "
        f"{mlflow_requests:.0f} MLflow requests/min; "
        f"all Ready after {ready_seconds:.0f} s"
    )
    print(f"cpu_count {context['cpu_count']}, shared machine: {context['shared_machine']}; {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
