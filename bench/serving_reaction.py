"""Benchmark: a model's `champion` alias moves in MLflow → the ServingDeployment's scorer
Deployment is patched to the new version: median and p95, told by MLflow's webhook against found
by polling (default interval, 15 s). Goal (issue 12): webhook median ≤ 1 s. Writes
bench/results/serving_reaction.json.

Needs the local stack running (`make stack-up`); it is neither started nor stopped here.

One ServingDeployment per case, each following a model of its own: the webhook case polls only
hourly, so only the webhook can explain a quick patch; the operator's endpoint is registered with
the stack's MLflow by `continuum webhook register` after the polling case (MLflow calls a
webhook for every model). A sample runs from the return of the MLflow
call that moves the alias to the arrival, on a watch opened beforehand, of the Deployment event
whose pod template names the new version. Between samples the rollout completes (the stack's kwok
nodes make pods Ready at once) and, in the polling case, a random pause puts the next move at a
random phase of the poll cycle.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from typing import Any

from bench_harness import distribution, load_average, machine, stack_env, workdir, write_result
from kubernetes import client
from operator_harness import (
    ResourceWatch,
    bench_namespace,
    create_objects,
    delete_objects,
    ensure_running,
    kube_objects,
    metric_sum,
    registered_models,
    running_operator,
    serving_body,
    wait_until_ready,
)

from continuum_operator.core.api import Kind
from continuum_operator.serving import webhook
from localstack.harness import free_port

VERSION_ANNOTATION = "continuum.ml/model-version"
WEBHOOK_GOAL_SECONDS = 1.0
POLL_SECONDS = 15


def deployment_watch(namespace: str, seen: dict[tuple[str, str], float]) -> ResourceWatch:
    """Records in `seen[(name, version)]` when a Deployment's pod template came to name that
    version."""
    current: dict[str, str] = {}

    def changed(_: str, body: dict[str, Any], arrived: float) -> None:
        template = body["spec"]["template"]["metadata"]
        served = (template.get("annotations") or {}).get(VERSION_ANNOTATION)
        name = body["metadata"]["name"]
        if served and current.get(name) != served:
            current[name] = served
            seen[(name, served)] = arrived

    apps = client.AppsV1Api(kube_objects().api_client)
    return ResourceWatch(apps.list_namespaced_deployment, namespace, on_event=changed)


def serving_version(objects: client.CustomObjectsApi, namespace: str, name: str) -> str | None:
    body = objects.get_namespaced_custom_object(
        "continuum.ml", "v1alpha1", namespace, Kind.SERVING_DEPLOYMENT.plural, name
    )
    status = body.get("status") or {}
    ready = any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or ()
    )
    return status.get("servingVersion") if ready else None


def settle(objects: client.CustomObjectsApi, namespace: str, name: str, version: str) -> None:
    deadline = time.monotonic() + 120
    while serving_version(objects, namespace, name) != version:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not come to serve version {version}")
        time.sleep(0.2)


def measure(
    case: str,
    samples: int,
    mlflow: Any,
    model: str,
    namespace: str,
    operator: Any,
    pause: float,
    rng: random.Random,
) -> list[float]:
    objects = kube_objects()
    scorer = f"{case}-scorer"
    latencies: list[float] = []
    seen: dict[tuple[str, str], float] = {}
    with deployment_watch(namespace, seen):
        for index in range(samples):
            version = "2" if index % 2 == 0 else "1"
            time.sleep(rng.uniform(0, pause))
            seen.pop((scorer, version), None)
            mlflow.set_registered_model_alias(model, "champion", version)
            moved = time.monotonic()
            deadline = moved + POLL_SECONDS * 4 + 30
            while (scorer, version) not in seen:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{case}: version {version} never reached the Deployment")
                ensure_running(operator)
                time.sleep(0.02)
            latencies.append(seen.pop((scorer, version)) - moved)
            settle(objects, namespace, case, version)
    return latencies


def register_webhook(url: str, secret: str) -> str:
    name = f"continuum-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(
        [sys.executable, "-m", "continuum_operator.cli", "webhook", "register",
         "--url", url, "--name", name],
        check=True, capture_output=True, text=True,
        env={**os.environ, "CONTINUUM_WEBHOOK_SECRET": secret},
    )  # fmt: skip
    return name


def warm_up(mlflow: Any, model: str, namespace: str, operator: Any) -> None:
    """MLflow's server keeps its list of webhooks for up to a minute: alias moves until the
    operator accepts a delivery; the case then starts from version 1 serving."""
    objects = kube_objects()
    deadline = time.monotonic() + 150
    version = "1"
    while metric_sum(operator.metrics(), "continuum_webhook_deliveries_total") < 1:
        if time.monotonic() > deadline:
            raise RuntimeError("MLflow delivered no webhook call in 150 s")
        version = "2" if version == "1" else "1"
        mlflow.set_registered_model_alias(model, "champion", version)
        time.sleep(3)
    mlflow.set_registered_model_alias(model, "champion", "1")
    settle(objects, namespace, "webhook", "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=12, help="alias moves per case")
    parser.add_argument("--seed", type=int, default=12, help="seed of the pauses")
    args = parser.parse_args()
    context = machine()
    env = stack_env()
    rng = random.Random(args.seed)
    secret, port = uuid.uuid4().hex, free_port()
    operator_env = {
        **env,
        "CONTINUUM_WEBHOOK_SECRET": secret,
        "CONTINUUM_WEBHOOK_PORT": str(port),
    }
    objects = kube_objects()
    with (
        workdir() as scratch,
        bench_namespace(env, scratch) as namespace,
        registered_models(env["MLFLOW_TRACKING_URI"], 2, versions=2) as (mlflow, models),
        running_operator(operator_env, namespace, scratch) as operator,
    ):
        bodies = [
            serving_body(case, model, env["MLFLOW_TRACKING_URI"],
                         env["KAFKA_BOOTSTRAP_SERVERS"], {})
            for case, model in (("webhook", models[0]), ("polling", models[1]))
        ]  # fmt: skip
        bodies[0]["spec"]["mlflow"]["pollInterval"] = "1h"
        create_objects(objects, namespace.name, bodies, Kind.SERVING_DEPLOYMENT)
        wait_until_ready(objects, namespace.name, 2, 120, operator, kind=Kind.SERVING_DEPLOYMENT)
        # Polling first: once registered, MLflow calls the webhook for every model.
        cases = {
            "polling": measure(
                "polling", args.samples, mlflow, models[1], namespace.name, operator,
                POLL_SECONDS, rng,
            )
        }  # fmt: skip
        hook = register_webhook(f"http://127.0.0.1:{port}{webhook.PATH}", secret)
        try:
            warm_up(mlflow, models[0], namespace.name, operator)
            cases["webhook"] = measure(
                "webhook", args.samples, mlflow, models[0], namespace.name, operator, 1.0, rng
            )
            delete_objects(objects, namespace.name, kind=Kind.SERVING_DEPLOYMENT)
        finally:
            for registered in mlflow.list_webhooks():
                if registered.name == hook:
                    mlflow.delete_webhook(registered.webhook_id)
    webhook_figures = distribution(cases["webhook"])
    polling_figures = distribution(cases["polling"])
    result = {
        "benchmark": "serving_reaction",
        "measures": "from the return of the MLflow call moving a model's champion alias to the "
        "watch event of the ServingDeployment's Deployment whose pod template names the new "
        "version",
        "method": f"one ServingDeployment per case, {args.samples} alias moves each, alternating "
        "between two versions, each after the previous rollout completed; the webhook case polls "
        f"hourly, the polling case every {POLL_SECONDS} s with a random pause of up to one "
        "interval before each move; p95 interpolates linearly between order statistics",
        "operator": "continuum operator -n <namespace> --standalone, its MLflow webhook endpoint "
        "registered with the stack's MLflow by `continuum webhook register`",
        "webhook_seconds": webhook_figures,
        f"polling_{POLL_SECONDS}s_seconds": polling_figures,
        "median_ratio_polling_to_webhook": round(
            polling_figures["median"] / max(webhook_figures["median"], 1e-6), 1
        ),
        "goals": {
            "webhook_median_seconds_max": WEBHOOK_GOAL_SECONDS,
            "webhook_median_met": webhook_figures["median"] <= WEBHOOK_GOAL_SECONDS,
        },
        **context,
        "loadavg_1m_at_end": load_average(),
    }
    out = write_result("serving_reaction", result)
    print(
        f"alias moved → Deployment patched: webhook median {webhook_figures['median']:.2f} s, "
        f"p95 {webhook_figures['p95']:.2f} s (goal ≤ {WEBHOOK_GOAL_SECONDS} s: "
        f"{'met' if result['goals']['webhook_median_met'] else 'MISSED'}); polling every "
        f"{POLL_SECONDS} s median {polling_figures['median']:.2f} s, "
        f"p95 {polling_figures['p95']:.2f} s"
    )
    print(f"cpu_count {context['cpu_count']}, shared machine: {context['shared_machine']}; {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
