"""The training job, a spark-submit entry point (the SparkApplication's mainApplicationFile).

Reads the pipeline's batches, cleans them (rejected rows counted by reason), leaves out inputs
the data holds no value of, cross-fits the feature stages and every member fold by fold (members
in FAIR scheduler pools), stacks them with a linear model over their out-of-fold predictions,
scores the stack, each member and the current champion on one holdout, exports the cleaned train
set, and registers the PipelineModel as a new version in MLflow, all under one MLflow run.

A run that cannot train (no input, missing columns, every row rejected) exits 1 with a one-line
reason as its last line on stderr, its MLflow run marked FAILED, and nothing registered.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

import mlflow
from mlflow import MlflowClient
from pyspark import SparkConf
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from continuum_workloads import contract
from continuum_workloads.dataset.loader import MissingColumnsError, read_listings
from continuum_workloads.dataset.parsing import parse_listings
from continuum_workloads.training.ensemble import (
    FOLD,
    compose,
    cross_fit,
    fit_stacker,
    training_rows,
)
from continuum_workloads.training.evaluation import METRICS, holdout_metrics
from continuum_workloads.training.features import (
    LABEL,
    REQUIRED_COLUMNS,
    clean,
    count_values_per_fold,
    usable_inputs,
)
from continuum_workloads.training.members import DEFAULT_MEMBERS, MEMBER_NAMES, build_member
from continuum_workloads.training.sources import NoInputError, batches_to_read, complete_batches
from continuum_workloads.training.tracking import (
    DROPPED_INPUTS_TAG,
    champion_metrics,
    lineage_tags,
    log_member,
    model_staging_dir,
    register,
    remove_staging_dir,
    shared_filesystem,
)

log = logging.getLogger("continuum.training")
HOLDOUT_PERCENT = 20
SESSION_DEFAULTS = {
    "spark.scheduler.mode": "FAIR",  # members train concurrently, each in a pool of its own
    # Training data of a pipeline run is thousands to millions of rows: Spark's default of 200
    # shuffle partitions mostly schedules empty tasks.
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.showConsoleProgress": "false",
}


class RejectedInputError(ValueError):
    """The input holds no row a model may learn from."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="continuum-train", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--run-id", required=True, help="the run's id (its SparkApplication's name)")
    add("--pipeline", required=True, help="<namespace>/<name> of the TrainingPipeline")
    add("--data-uri", required=True, help="directory holding the batches (hdfs://, file://)")
    add("--data-format", default="csv", choices=["csv"])
    add("--batch-pattern", default="*")
    add("--completion-marker", default="_SUCCESS")
    add("--batch", action="append", default=[], help="a batch this run is for (repeatable)")
    add("--history-mode", default="All", choices=["All", "Latest"])
    add("--history-batches", type=int, help="with --history-mode Latest: how many newest")
    add("--ensemble", default=",".join(DEFAULT_MEMBERS), help="members, comma-separated")
    add("--cv-folds", type=int, default=3)
    add("--cv-parallelism", type=int, default=1, help="folds fitted at once")
    add("--member-parallelism", type=int, default=1, help="members fitted at once in a fold")
    add("--mlflow-tracking-uri", required=True)
    add("--mlflow-experiment", required=True)
    add("--registered-model", required=True)
    add("--promotion-metric", default="rmse", choices=METRICS, help="what the gate compares")
    add("--champion-alias", default="champion")
    add("--train-set-export-uri", help="where the cleaned train set is written as Parquet")
    add("--seed", type=int, default=7)
    add(
        "--spark-log-level",
        default="WARN",
        choices=["ALL", "DEBUG", "INFO", "WARN", "ERROR", "OFF"],
        help="Spark's own driver logging; at INFO cross-validation writes ~100k lines a run",
    )
    args = parser.parse_args(argv)
    if args.history_mode == "Latest" and not args.history_batches:
        parser.error("--history-mode Latest needs --history-batches")
    args.ensemble = [name.strip() for name in args.ensemble.split(",") if name.strip()]
    for name in args.ensemble:
        if name not in MEMBER_NAMES:
            parser.error(f"unknown ensemble member {name!r}; choose from {', '.join(MEMBER_NAMES)}")
    return args


def holdout_split(rows: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(train, holdout) by a hash of the listing id: a listing stays on its side in every run,
    so the champion and the candidate are always scored on listings neither trained on."""
    bucket = F.pmod(F.xxhash64(F.col("listing_id")), F.lit(100))
    return rows.where(bucket >= HOLDOUT_PERCENT), rows.where(bucket < HOLDOUT_PERCENT)


def _scores(scores: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.6g}" for name, value in scores.items())


def train_set_location(export_uri: str | None, run_id: str) -> str | None:
    """Each run's train set in a directory of its own under the export URI, so the lineage of
    every registered version keeps pointing at the rows it learned from."""
    return f"{export_uri.rstrip('/')}/{run_id}" if export_uri else None


def train(spark: SparkSession, args: argparse.Namespace) -> None:
    """The whole run, inside an active MLflow run."""
    latest = args.history_batches if args.history_mode == "Latest" else None
    available = complete_batches(spark, args.data_uri, args.batch_pattern, args.completion_marker)
    batches = batches_to_read(available, args.batch, latest)
    tags = lineage_tags(args.run_id, args.pipeline, batches)
    mlflow.set_tags(tags)
    log.info("reading %d batches from %s", len(batches), args.data_uri)
    paths = [f"{args.data_uri.rstrip('/')}/{batch}" for batch in batches]
    raw = read_listings(spark, paths, required=REQUIRED_COLUMNS)

    kept, rejected = clean(raw)
    kept = kept.cache()
    rejected_by_reason = {
        row["reason"]: row["count"] for row in rejected.groupBy("reason").count().collect()
    }
    rows_kept = kept.count()
    mlflow.log_metrics(
        {
            "rows_read": rows_kept + sum(rejected_by_reason.values()),
            "rows_kept": rows_kept,
            **{f"rows_rejected.{reason}": count for reason, count in rejected_by_reason.items()},
        }
    )
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(rejected_by_reason.items())) or "none"
    if rows_kept == 0:
        raise RejectedInputError(f"every row was rejected ({reasons})")
    log.info("kept %d rows; rejected: %s", rows_kept, reasons)

    train_raw, holdout_raw = holdout_split(kept)
    train_set_uri = train_set_location(args.train_set_export_uri, args.run_id)
    mlflow.log_params(
        {
            "members": ",".join(args.ensemble),
            "cv_folds": args.cv_folds,
            "cv_parallelism": args.cv_parallelism,
            "member_parallelism": args.member_parallelism,
            "seed": args.seed,
            "promotion_metric": args.promotion_metric,
            "data_uri": args.data_uri,
            "batches": len(batches),
            "train_set_uri": train_set_uri or "",
        }
    )
    if train_set_uri:
        log.info("exporting the cleaned train set to %s", train_set_uri)
        parse_listings(train_raw).write.mode("overwrite").parquet(train_set_uri)

    started = time.perf_counter()
    typed = training_rows(train_raw, args.cv_folds, args.seed).cache()
    holdout = holdout_raw.cache()
    mlflow.log_metrics({"rows_train": typed.count(), "rows_holdout": holdout.count()})
    inputs = usable_inputs(count_values_per_fold(typed, FOLD, args.cv_folds))
    if inputs.dropped:
        log.warning("inputs without values in this run's data, left out: %s", inputs.dropped)
    mlflow.set_tag(DROPPED_INPUTS_TAG, ",".join(inputs.dropped))
    members = [build_member(name, args.seed) for name in args.ensemble]
    crossed = cross_fit(
        spark, members, inputs, typed, args.cv_folds, args.cv_parallelism, args.member_parallelism
    )
    assembler, stacker = fit_stacker(crossed.members, crossed.out_of_fold)
    weights = dict(
        zip((m.name for m in crossed.members), stacker.coefficients.toArray(), strict=True)
    )
    mlflow.log_metrics({f"stacker_weight.{name}": weight for name, weight in weights.items()})
    log.info("stacker weights: %s", _scores(weights))
    model = compose(crossed.features, crossed.members, assembler, stacker)
    train_seconds = time.perf_counter() - started
    mlflow.log_metrics(
        {
            "train_seconds": train_seconds,
            "feature_seconds": sum(crossed.feature_seconds),
            **{f"feature_seconds.round_{i}": s for i, s in enumerate(crossed.feature_seconds)},
        }
    )

    began = time.perf_counter()
    scored = model.transform(holdout).cache()
    stack_scores = holdout_metrics(scored)
    mlflow.log_metrics({**stack_scores, "validation_seconds": time.perf_counter() - began})
    log.info("holdout: %s", _scores(stack_scores))
    for member in crossed.members:
        scores = holdout_metrics(scored, F.exp(F.col(member.model.getPredictionCol())))
        log_member(member, scores)
        log.info("holdout %s: %s (cross-validated rmse %.6g)", member.name, _scores(scores),
                 member.cv_rmse)  # fmt: skip
    scored.unpersist()

    staging_dir = model_staging_dir(args.data_uri, args.run_id)
    try:
        champion, champion_scores = champion_metrics(
            MlflowClient(), args.registered_model, args.champion_alias, holdout, staging_dir
        )
        if champion is not None:
            mlflow.set_tag(contract.MLFLOW_CHAMPION_VERSION_TAG, champion.version)
            mlflow.log_metrics(
                {f"champion_{name}": value for name, value in champion_scores.items()}
            )
            metric = args.promotion_metric
            log.info(
                "holdout %s: this model %.6g, champion (version %s) %.6g",
                metric, stack_scores[metric], champion.version, champion_scores[metric],
            )  # fmt: skip
        raw_columns = holdout_raw.drop(LABEL).columns
        version = register(model, args.registered_model, raw_columns, tags, staging_dir)
    finally:
        remove_staging_dir(spark, staging_dir)
    mlflow.set_tag("registered_version", version.version)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # py4j reports its connections closing at exit, after the reason a failed run prints last.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    builder = SparkSession.builder.appName(f"continuum-train-{args.run_id}")
    submitted = SparkConf()
    for key, value in SESSION_DEFAULTS.items():
        if not submitted.contains(key):  # the SparkApplication's sparkConf wins
            builder = builder.config(key, value)
    shared = shared_filesystem(args.data_uri)
    if shared is not None and not submitted.contains("spark.hadoop.fs.defaultFS"):
        # MLflow stages models on the default filesystem (model_staging_dir).
        builder = builder.config("spark.hadoop.fs.defaultFS", shared)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(args.spark_log_level)
    mlflow.set_tracking_uri(args.mlflow_tracking_uri)
    mlflow.set_experiment(args.mlflow_experiment)
    reason = None
    with mlflow.start_run(run_name=args.run_id) as run:
        try:
            train(spark, args)
        except (NoInputError, MissingColumnsError, RejectedInputError) as error:
            # The operator fails the batch at once on a data error and retries anything else.
            mlflow.set_tag(contract.MLFLOW_FAILURE_TAG, contract.DATA_ERROR)
            reason = str(error)
        except Exception as error:  # anything else still fails the run with a reason
            log.exception("training failed")
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
        if reason is not None:
            mlflow.set_tag(contract.MLFLOW_FAILURE_REASON_TAG, reason)
            mlflow.end_run(status="FAILED")
    spark.stop()
    if reason is not None:
        print(f"training failed: {reason}", file=sys.stderr, flush=True)
        return 1
    log.info("run %s finished", run.info.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
