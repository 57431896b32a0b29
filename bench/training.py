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
`--member-parallelism 3 --cv-parallelism 2`; default: the job's own defaults with the CRD's
`crossValidation.parallelism` (1). With `--compare-with <git revision>`, the job of that revision
(its `workloads/` tree from `git archive`) runs too, at its own defaults, on the same data: the
before and after of a change, measured side by side. The modes alternate run by run so that drift
in the machine's load falls on all alike.

The yardstick: scikit-learn's HistGradientBoostingRegressor (default settings, 600 iterations, the
log price, categories as categories) on the very rows the job trains and is scored on (the job's
own cleaning, holdout split and typed inputs, computed by a local Spark session in this process).
Its holdout RMSE and fitting time are reported next to the stack's and every member's.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field
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
from continuum_workloads.training.ensemble import ROW_ID
from continuum_workloads.training.features import (
    CATEGORICAL,
    DERIVED,
    LOG_LABEL,
    NUMERIC,
    REQUIRED_COLUMNS,
    category,
    clean,
    flag_columns,
    input_stage,
    log_label,
    number,
)
from localstack.config import REPO_DIR
from localstack.spark_standin import spark_submit_command

DRIVER_CORES = 2  # every core of this machine
DRIVER_MEMORY = "6g"
MODE_ARGUMENTS = {
    "sequential": ("--member-parallelism", "1", "--cv-parallelism", "1"),
    "parallel": ("--member-parallelism", "3", "--cv-parallelism", "2"),
    "default": (),
}
BASELINE_ITERATIONS = 600
SAMPLE_SECONDS = 0.2
NAMESPACE = "continuum-bench"


@dataclass
class Measurement:
    rows: int
    code: str  # "after": this tree's job; "before": the --compare-with revision's
    mode: str
    wall_seconds: float
    train_seconds: float
    driver_jvm_peak_rss_mb: float
    process_tree_peak_rss_mb: float
    stack_rmse: float
    loadavg_1m_at_start: float
    member_rmse: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return _rounded(vars(self))


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {key: round(value, 2) if isinstance(value, float) else
            _rounded(value) if isinstance(value, dict) else value
            for key, value in values.items()}  # fmt: skip


def baseline(csv: Path) -> dict[str, Any]:
    """HistGradientBoostingRegressor on the job's own train and holdout rows of `csv`."""
    import numpy as np
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from sklearn.ensemble import HistGradientBoostingRegressor

    from continuum_workloads.dataset.loader import read_listings
    from continuum_workloads.training.job import holdout_split

    spark = (
        SparkSession.builder.master("local[1]").appName("training-baseline")
        .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate()
    )  # fmt: skip
    numbers = [number(n) for n in (*NUMERIC, *DERIVED)] + flag_columns()
    categories = [category(n) for n in CATEGORICAL]
    try:
        kept, _ = clean(read_listings(spark, str(csv), required=REQUIRED_COLUMNS))
        kept = kept.cache()
        frames = [
            input_stage().transform(part)
            .select(ROW_ID, *numbers, *categories, log_label().alias(LOG_LABEL),
                    F.col("price").cast("double").alias("price"))
            .toPandas()
            for part in holdout_split(kept)
        ]  # fmt: skip
    finally:
        spark.stop()
    train, holdout = frames
    for frame in frames:
        for name in categories:
            frame[name] = frame[name].astype("category")
    for name in categories:  # one set of categories for both sides
        kinds = train[name].cat.categories.union(holdout[name].cat.categories)
        train[name] = train[name].cat.set_categories(kinds)
        holdout[name] = holdout[name].cat.set_categories(kinds)
    model = HistGradientBoostingRegressor(
        max_iter=BASELINE_ITERATIONS, categorical_features="from_dtype", random_state=0
    )
    inputs = numbers + categories
    started = time.perf_counter()
    model.fit(train[inputs], train[LOG_LABEL])
    fit_seconds = time.perf_counter() - started
    error = np.exp(model.predict(holdout[inputs])) - holdout["price"]
    return {
        "model": f"HistGradientBoostingRegressor(max_iter={BASELINE_ITERATIONS}) on log price",
        "rows_train": len(train),
        "rows_holdout": len(holdout),
        "holdout_rmse": round(math.sqrt(float((error**2).mean())), 2),
        "fit_seconds": round(fit_seconds, 2),
    }


def old_workloads(revision: str, into: Path) -> Path:
    """The `workloads/` tree of `revision`, extracted under `into`; its import root."""
    archive = subprocess.run(
        ["git", "archive", revision, "workloads"], cwd=REPO_DIR, check=True, capture_output=True
    ).stdout
    target = into / f"workloads-{revision}"
    target.mkdir()
    archive_file = into / "workloads.tar"
    archive_file.write_bytes(archive)
    with tarfile.open(archive_file) as tar:
        tar.extractall(target, filter="data")
    return target / "workloads"


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


def publish_batch(env: dict[str, str], root: str, rows: int, csv: Path) -> str:
    """The listings of `csv` as one complete batch under <root>/rows-<rows>; its data URI."""
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
             code: str, mode: str, log: Path, old_root: Path | None) -> Measurement:  # fmt: skip
    pipeline = f"rows-{rows}-{code}-{mode}-{uuid.uuid4().hex[:6]}"
    command, extra_env = spark_submit(env, data_uri, model, pipeline)
    command += MODE_ARGUMENTS[mode]
    if code == "before":
        assert old_root is not None
        job = command.index(next(c for c in command if c.endswith("training/job.py")))
        command[job] = str(old_root / "continuum_workloads" / "training" / "job.py")
        # The old job's own default ensemble, not the one this tree's spec defaults to.
        at = command.index("--ensemble")
        del command[at : at + 2]
        # The old package first on the path, for the driver and Spark's Python workers alike.
        extra_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(old_root), os.environ.get("PYTHONPATH", "")) if p
        )
    load = load_average()
    began = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_DIR,
            env={**os.environ, **env, **extra_env},
        )  # fmt: skip
        memory = TreeMemory(process.pid)
        exit_code = process.wait()
        memory.stop()
    wall = time.monotonic() - began
    if exit_code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"the training job exited with {exit_code}:\n{tail}")
    experiment = mlflow.get_experiment_by_name(model).experiment_id
    [run] = mlflow.search_runs([experiment], f"tags.continuum_pipeline = '{NAMESPACE}/{pipeline}'")
    children = mlflow.search_runs([experiment], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    return Measurement(
        rows=rows,
        code=code,
        mode=mode,
        wall_seconds=wall,
        train_seconds=run.data.metrics["train_seconds"],
        driver_jvm_peak_rss_mb=memory.jvm_peak_mb,
        process_tree_peak_rss_mb=memory.tree_peak_mb,
        stack_rmse=run.data.metrics["rmse"],
        loadavg_1m_at_start=load,
        member_rmse={c.data.params["member"]: c.data.metrics["rmse"] for c in children},
    )


def summary(runs: list[Measurement]) -> dict[str, Any]:
    def median(field: str) -> float:
        return round(statistics.median(getattr(run, field) for run in runs), 2)

    if not runs:
        return {"runs": 0}
    return {
        "runs": len(runs),
        "stack_rmse_median": median("stack_rmse"),
        "wall_seconds_median": median("wall_seconds"),
        "train_seconds_median": median("train_seconds"),
        "driver_jvm_peak_rss_mb_median": median("driver_jvm_peak_rss_mb"),
        "process_tree_peak_rss_mb_median": median("process_tree_peak_rss_mb"),
    }


def plan(rows: int, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The (code, mode) runs at `rows`, in order: at the ratio's row count sequential, parallel
    and (with --compare-with) the old code alternate; default runs make the row series."""
    series = [("after", "default")] * (args.repeats if rows in args.rows else 0)
    if rows != args.ratio_rows:
        return series
    round_ = [("after", mode) for mode in args.ratio_modes]
    if args.compare_with:
        round_.append(("before", "default"))
    return round_ * args.ratio_repeats + series


def ratio(numerator: dict[str, Any], denominator: dict[str, Any], field: str) -> float | None:
    if not numerator.get("runs") or not denominator.get("runs"):
        return None
    return round(numerator[f"{field}_median"] / denominator[f"{field}_median"], 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--repeats", type=int, default=1, help="default runs per row count")
    parser.add_argument("--ratio-rows", type=int, default=50_000)
    parser.add_argument("--ratio-repeats", type=int, default=2, help="runs per mode")
    parser.add_argument("--compare-with", help="git revision whose job runs side by side")
    parser.add_argument(
        "--ratio-modes", nargs="+", choices=list(MODE_ARGUMENTS),
        default=["sequential", "parallel"], help="this tree's modes at the ratio's row count",
    )  # fmt: skip
    args = parser.parse_args(argv)

    env = stack_env()
    mlflow = MlflowClient(env["MLFLOW_TRACKING_URI"])
    model = f"continuum-bench-{uuid.uuid4().hex[:8]}"
    started_on = machine()
    runs: list[Measurement] = []
    baselines: dict[str, Any] = {}
    with workdir() as scratch_dir, hdfs_scratch(env) as (_, root):
        old_root = old_workloads(args.compare_with, scratch_dir) if args.compare_with else None
        try:
            for rows in sorted({*args.rows, args.ratio_rows}):
                print(f"== {rows:,} rows: generating and publishing", flush=True)
                csv = scratch_dir / f"cars-{rows}.csv"
                write_csv(csv, rows, seed=rows)
                baselines[str(rows)] = baseline(csv)
                print(f"   baseline {baselines[str(rows)]}", flush=True)
                data_uri = publish_batch(env, root, rows, csv)
                for index, (code, mode) in enumerate(plan(rows, args)):
                    log = scratch_dir / f"job-{rows}-{index}.log"
                    runs.append(
                        run_once(env, mlflow, data_uri, model, rows, code, mode, log, old_root)
                    )
                    print(f"   {runs[-1].as_dict()}", flush=True)
        finally:
            if mlflow.search_registered_models(f"name = '{model}'"):
                mlflow.delete_registered_model(model)
            experiment = mlflow.get_experiment_by_name(model)
            if experiment is not None:
                mlflow.delete_experiment(experiment.experiment_id)

    def selected(rows: int, code: str, mode: str) -> list[Measurement]:
        return [r for r in runs if (r.rows, r.code, r.mode) == (rows, code, mode)]

    at_ratio = {
        (code, mode): summary(selected(args.ratio_rows, code, mode))
        for code, mode in (*(("after", m) for m in MODE_ARGUMENTS), ("before", "default"))
    }
    sequential, parallel = at_ratio["after", "sequential"], at_ratio["after", "parallel"]
    before = at_ratio["before", "default"]
    fastest_after = min(
        (at_ratio["after", mode] for mode in MODE_ARGUMENTS if at_ratio["after", mode]["runs"]),
        key=lambda s: s["wall_seconds_median"],
        default={"runs": 0},
    )
    result = {
        "benchmark": "training",
        "machine": started_on,
        "loadavg_1m_at_end": load_average(),
        "driver": {"cores": DRIVER_CORES, "memory": DRIVER_MEMORY, "master": "local"},
        "baseline": baselines,
        "by_rows": {
            str(rows): summary(selected(rows, "after", "default")) for rows in sorted(args.rows)
        },
        "members_sequential_vs_parallel": {
            "rows": args.ratio_rows,
            "sequential": sequential,
            "parallel": parallel,
            "wall_ratio_sequential_over_parallel": ratio(sequential, parallel, "wall_seconds"),
            "train_ratio_sequential_over_parallel": ratio(sequential, parallel, "train_seconds"),
        },
        "before_vs_after": {
            "rows": args.ratio_rows,
            "before_revision": args.compare_with,
            "before": before,
            "after_fastest": fastest_after,
            "wall_ratio_before_over_after": ratio(before, fastest_after, "wall_seconds"),
            "train_ratio_before_over_after": ratio(before, fastest_after, "train_seconds"),
        },
        "runs": [run.as_dict() for run in runs],
    }
    out = write_result("training", result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
