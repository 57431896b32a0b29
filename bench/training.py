"""Benchmark: the training job's wall time and driver peak memory at 10k, 50k and 200k rows, and
its members trained one after another against all at once. Writes bench/results/training.json.

Needs the local stack running (`make stack-up`): the data is read from its HDFS and the models are
registered in its MLflow (a registered model of the benchmark's own, deleted afterwards).

Each run is the job exactly as the local stack runs a SparkApplication: the operator builds the
SparkApplication from a TrainingPipeline spec, and the spark-operator stand-in's command line runs
it with spark-submit in local mode (`local[<driver cores>]`, driver memory from the spec). On this
machine the driver is the whole job, so its memory is:
- driver JVM peak RSS: VmHWM of the Java process, the kernel's own high-water mark;
- process tree peak RSS: the JVM, the job's Python and Spark's Python workers together, sampled
  every 0.2 s (a spike shorter than that can be missed).

Wall time is from spark-submit to its exit; `train_seconds` is the job's own measure of fitting
(features, every member's cross-validation, stacker), read back from the MLflow run.

Sequential: `--member-parallelism 1 --cv-parallelism 1` (one model fitted at a time); parallel:
the defaults (three members at once in FAIR pools, two CV models at once per member). The two
alternate run by run so that drift in the machine's load falls on both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_harness import (
    hdfs_scratch,
    load_average,
    machine,
    memory_mb,
    stack_env,
    workdir,
    write_result,
)
from mlflow import MlflowClient
from rich.console import Console

from continuum_operator.training.runs import RunRequest, RunTrigger
from continuum_operator.training.sparkapp import build_spark_application
from continuum_operator.training.spec import parse_training_pipeline_spec
from continuum_workloads.dataset.batches import Batch
from continuum_workloads.dataset.generator import write_csv
from continuum_workloads.dataset.split import split_csv
from localstack.config import REPO_DIR
from localstack.spark_standin import spark_submit_command

DRIVER_CORES = 2  # every core of this machine
DRIVER_MEMORY = "6g"
SEQUENTIAL_ARGUMENTS = ("--member-parallelism", "1", "--cv-parallelism", "1")
SAMPLE_SECONDS = 0.2
NAMESPACE = "continuum-bench"


@dataclass
class Measurement:
    rows: int
    mode: str
    wall_seconds: float
    train_seconds: float
    driver_jvm_peak_rss_mb: float
    process_tree_peak_rss_mb: float
    stack_rmse: float
    loadavg_1m_at_start: float

    def as_dict(self) -> dict[str, Any]:
        return {key: round(value, 2) if isinstance(value, float) else value
                for key, value in vars(self).items()}  # fmt: skip


def _process_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command name) of every process."""
    table = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                name, rest = (proc / "stat").read_text().rsplit(")", 1)
                table[int(proc.name)] = (int(rest.split()[1]), name.split("(", 1)[1])
            except (OSError, IndexError, ValueError):
                continue
    return table


def _memory_mb(pid: int, field: str) -> float:
    """As `memory_mb`, 0 for a process that exited since it was listed (or a zombie)."""
    try:
        return memory_mb(pid, field)
    except (OSError, KeyError):
        return 0.0


class TreeMemory:
    """Peak memory of a process and its descendants, sampled on a thread of its own."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.tree_peak_mb = 0.0
        self.jvm_peak_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            table = _process_table()
            tree, frontier = set(), {self.root}
            while frontier:
                tree |= frontier
                frontier = {pid for pid, (parent, _) in table.items() if parent in frontier} - tree
            self.tree_peak_mb = max(self.tree_peak_mb, sum(_memory_mb(p, "VmRSS") for p in tree))
            jvm = [pid for pid in tree if table.get(pid, (0, ""))[1] == "java"]
            self.jvm_peak_mb = max([self.jvm_peak_mb, *(_memory_mb(p, "VmHWM") for p in jvm)])
            self._done.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def publish_batches(env: dict[str, str], root: str, rows: int, scratch_dir: Path) -> str:
    """`rows` generated listings as one complete batch under <root>/rows-<rows>; its data URI."""
    csv = scratch_dir / f"cars-{rows}.csv"
    write_csv(csv, rows, seed=rows)
    data_uri = f"{env['HDFS_URI']}{root}/rows-{rows}"
    split_csv(
        csv, data_uri, batches=1, test_fraction=0.0, webhdfs_url=env["WEBHDFS_URI"],
        console=Console(quiet=True),
    )  # fmt: skip
    csv.unlink()
    return data_uri


def spark_submit(
    env: dict[str, str], data_uri: str, model: str, pipeline: str
) -> tuple[list[str], dict[str, str]]:
    """The stand-in's command line for the SparkApplication the operator builds for `pipeline`."""
    spec = parse_training_pipeline_spec(
        {
            "data": {"uri": data_uri, "batchPattern": "batch-*"},
            "training": {
                "image": "continuum/training:bench",
                "sparkVersion": "4.2.0",
                "driver": {"cores": DRIVER_CORES, "memory": DRIVER_MEMORY},
            },
            "mlflow": {
                "trackingUri": env["MLFLOW_TRACKING_URI"],
                "experiment": model,
                "registeredModel": model,
            },
        }
    )
    request = RunRequest(triggers=(RunTrigger.NEW_DATA,), batches=(Batch("batch-0001", 0),))
    app = build_spark_application(spec, pipeline=pipeline, namespace=NAMESPACE, request=request)
    return spark_submit_command({**app["spec"], "_name": app["metadata"]["name"]}, [])


def run_once(env: dict[str, str], mlflow: MlflowClient, data_uri: str, model: str, rows: int,
             mode: str, log: Path) -> Measurement:  # fmt: skip
    pipeline = f"rows-{rows}-{mode}-{uuid.uuid4().hex[:6]}"
    command, extra_env = spark_submit(env, data_uri, model, pipeline)
    if mode == "sequential":
        command += SEQUENTIAL_ARGUMENTS
    load = load_average()
    began = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_DIR,
            env={**os.environ, **env, **extra_env},
        )  # fmt: skip
        memory = TreeMemory(process.pid)
        code = process.wait()
        memory.stop()
    wall = time.monotonic() - began
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"the training job exited with {code}:\n{tail}")
    [run] = mlflow.search_runs(
        [mlflow.get_experiment_by_name(model).experiment_id],
        f"tags.continuum_pipeline = '{NAMESPACE}/{pipeline}'",
    )
    return Measurement(
        rows=rows,
        mode=mode,
        wall_seconds=wall,
        train_seconds=run.data.metrics["train_seconds"],
        driver_jvm_peak_rss_mb=memory.jvm_peak_mb,
        process_tree_peak_rss_mb=memory.tree_peak_mb,
        stack_rmse=run.data.metrics["rmse"],
        loadavg_1m_at_start=load,
    )


def summary(runs: list[Measurement]) -> dict[str, Any]:
    def median(field: str) -> float:
        return round(statistics.median(getattr(run, field) for run in runs), 2)

    return {
        "runs": len(runs),
        "wall_seconds_median": median("wall_seconds"),
        "train_seconds_median": median("train_seconds"),
        "driver_jvm_peak_rss_mb_median": median("driver_jvm_peak_rss_mb"),
        "process_tree_peak_rss_mb_median": median("process_tree_peak_rss_mb"),
    }


def plan(rows: int, args: argparse.Namespace) -> list[str]:
    """The modes to run at `rows`, in order: sequential and parallel alternate at the ratio's row
    count (parallel runs there also count for the row series)."""
    series = ["parallel"] * (args.repeats if rows in args.rows else 0)
    if rows != args.ratio_rows:
        return series
    alternating = ["sequential", "parallel"] * args.ratio_repeats
    return alternating + series[args.ratio_repeats :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--repeats", type=int, default=1, help="parallel runs per row count")
    parser.add_argument("--ratio-rows", type=int, default=50_000)
    parser.add_argument("--ratio-repeats", type=int, default=2, help="runs per mode")
    args = parser.parse_args(argv)

    env = stack_env()
    mlflow = MlflowClient(env["MLFLOW_TRACKING_URI"])
    model = f"continuum-bench-{uuid.uuid4().hex[:8]}"
    started_on = machine()
    runs: list[Measurement] = []
    with workdir() as scratch_dir, hdfs_scratch(env) as (_, root):
        try:
            for rows in sorted({*args.rows, args.ratio_rows}):
                print(f"== {rows:,} rows: generating and publishing", flush=True)
                data_uri = publish_batches(env, root, rows, scratch_dir)
                for index, mode in enumerate(plan(rows, args)):
                    log = scratch_dir / f"job-{rows}-{index}.log"
                    runs.append(run_once(env, mlflow, data_uri, model, rows, mode, log))
                    print(f"   {runs[-1].as_dict()}", flush=True)
        finally:
            if mlflow.search_registered_models(f"name = '{model}'"):
                mlflow.delete_registered_model(model)
            experiment = mlflow.get_experiment_by_name(model)
            if experiment is not None:
                mlflow.delete_experiment(experiment.experiment_id)

    def selected(rows: int, mode: str) -> list[Measurement]:
        return [run for run in runs if run.rows == rows and run.mode == mode]

    sequential = summary(selected(args.ratio_rows, "sequential"))
    parallel = summary(selected(args.ratio_rows, "parallel"))
    result = {
        "benchmark": "training",
        "machine": started_on,
        "loadavg_1m_at_end": load_average(),
        "driver": {"cores": DRIVER_CORES, "memory": DRIVER_MEMORY, "master": "local"},
        "by_rows": {str(rows): summary(selected(rows, "parallel")) for rows in sorted(args.rows)},
        "members_sequential_vs_parallel": {
            "rows": args.ratio_rows,
            "sequential": sequential,
            "parallel": parallel,
            "wall_ratio_sequential_over_parallel": round(
                sequential["wall_seconds_median"] / parallel["wall_seconds_median"], 3
            ),
            "train_ratio_sequential_over_parallel": round(
                sequential["train_seconds_median"] / parallel["train_seconds_median"], 3
            ),
        },
        "runs": [run.as_dict() for run in runs],
    }
    out = write_result("training", result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
