"""Benchmark: how long a training run takes through the Kubeflow spark-operator on the real node,
step by step: SparkApplication created (by Continuum's operator, when a batch lands) → submitted
(the spark-operator's `spark-submit`) → driver pod created → driver running → executor pod
created → finished. Writes bench/results/spark_operator_runs.json.

Needs the local stack running with its real node (`make stack-up`). Deploys
`manifests/overlays/local/` (Continuum's operator and the spark-operator as pods, watching only
the namespace `continuum-bench-spark`) as `make demo` does, applies the used-cars
TrainingPipeline alone (no scorer), lands `--runs` batches of `--rows` generated listings one
after another, each once the previous run has settled, and reads the times back from the
SparkApplication and its pods. Everything it deployed is removed at the end. Kubernetes keeps
timestamps to the second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from bench_harness import load_average, machine, stack_env, write_result

from continuum_operator.core.times import parse_time
from demo import batches, render
from demo.cluster import Cluster, kubectl
from demo.play import OPERATOR_TIMEOUT_S, RUN_TIMEOUT_S, settled_run
from demo.scenario import BatchPlan, Names
from localstack.config import StackConfig
from localstack.harness import wait_for
from localstack.images import build_and_load

NAMES = Names("continuum-bench-spark")
APP_LABEL = "sparkoperator.k8s.io/app-name"
STEPS = ("submitted", "driver_pod_created", "driver_running", "executor_pod_created", "finished")


def _started(pod: dict[str, Any]) -> str | None:
    """When the pod's first container started running (it may have finished since)."""
    for status in pod.get("status", {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        for phase in ("running", "terminated"):
            if state.get(phase, {}).get("startedAt"):
                return state[phase]["startedAt"]
    return None


def first(pods: list[dict[str, Any]], role: str) -> dict[str, Any] | None:
    """The first pod of `role` (driver, executor) created."""
    of_role = [pod for pod in pods if pod["metadata"]["labels"].get("spark-role") == role]
    return min(of_role, key=lambda pod: pod["metadata"]["creationTimestamp"], default=None)


def steps(
    application: dict[str, Any], driver: dict[str, Any] | None, executor: dict[str, Any] | None
) -> dict[str, float | None]:
    """Seconds from the SparkApplication's creation to each step of its run."""
    status = application.get("status") or {}
    moments = {
        "submitted": status.get("lastSubmissionAttemptTime"),
        "driver_pod_created": driver and driver["metadata"]["creationTimestamp"],
        "driver_running": driver and _started(driver),
        "executor_pod_created": executor and executor["metadata"]["creationTimestamp"],
        "finished": status.get("terminationTime"),
    }
    created = parse_time(application["metadata"]["creationTimestamp"])
    assert created is not None
    return {
        step: (
            None if (at := parse_time(moments[step])) is None else (at - created).total_seconds()
        )
        for step in STEPS
    }


def _median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def measure(cluster: Cluster, plans: list[BatchPlan]) -> list[dict[str, Any]]:
    documents = cluster.manifests(NAMES.experiment(time.strftime("%Y%m%d-%H%M%S")))
    cluster.deploy(documents)
    wait_for(cluster.operators_ready, timeout=OPERATOR_TIMEOUT_S, what="the operator pods Ready")
    pipeline = render.by_kind(documents, "TrainingPipeline")
    kubectl("apply", "-f", "-", stdin=render.dump(pipeline))
    results = []
    # Spark deletes its executor pods when the application ends: every pod is kept as last seen.
    seen: dict[str, dict[str, Any]] = {}

    def look() -> None:
        seen.update((pod["metadata"]["name"], pod) for pod in cluster.pods("spark-role"))

    for plan in plans:
        batches.land(plan, cluster.store, NAMES.incoming)
        print(f"== landed {plan.name} ({plan.rows:,} listings)", flush=True)

        def settled(batch: str = plan.name) -> Any:
            look()
            return settled_run(cluster.pipeline(), batch)

        run = wait_for(settled, timeout=RUN_TIMEOUT_S, what=f"the run of {plan.name}", every=1.0)
        look()  # the driver as it finished
        name = run["name"]
        application = json.loads(
            kubectl("get", "sparkapplication", name, "-n", NAMES.namespace, "-o", "json")
        )
        pods = [pod for pod in seen.values() if pod["metadata"]["labels"].get(APP_LABEL) == name]
        measured = {
            "batch": plan.name,
            "rows": plan.rows,
            "state": run["state"],
            "seconds_from_created": steps(
                application, first(pods, "driver"), first(pods, "executor")
            ),
        }
        print(f"   {measured}", flush=True)
        results.append(measured)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="listings per batch")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)

    env = stack_env()
    config = StackConfig.from_env()
    if not config.real_node:
        raise SystemExit("this benchmark needs the real node: unset CONTINUUM_REAL_NODE=0")
    build_and_load(config)  # building is not what this measures
    started_on = machine()
    cluster = Cluster(NAMES, env)
    cluster.reset()
    try:
        runs = measure(cluster, [BatchPlan(n, rows=args.rows) for n in range(1, args.runs + 1)])
    finally:
        cluster.reset()
    medians = {step: _median([r["seconds_from_created"][step] for r in runs]) for step in STEPS}
    write_result(
        "spark_operator_runs",
        {
            "benchmark": "spark_operator_runs",
            "machine": started_on,
            "loadavg_1m_at_end": load_average(),
            "rows_per_batch": args.rows,
            "seconds_from_created_median": medians,
            "runs": runs,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
