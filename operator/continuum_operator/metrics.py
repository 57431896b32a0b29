"""The operator's Prometheus metrics, served by `continuum operator --metrics-port`."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECONCILES = Counter(
    "continuum_reconciles_total", "Reconcile passes of TrainingPipelines, by result", ["result"]
)
ERRORS = Counter(
    "continuum_reconcile_errors_total",
    "Failed reconcile passes, by the dependency or exception that failed them",
    ["error"],
)
HANDLER_SECONDS = Histogram(
    "continuum_handler_duration_seconds", "Time spent in operator handlers", ["handler"]
)
RUNS_STARTED = Counter(
    "continuum_training_runs_started_total", "SparkApplications created, by trigger", ["trigger"]
)
MARKER_TO_RUN_SECONDS = Histogram(
    "continuum_batch_marker_to_run_seconds",
    "From a batch's completion marker landing to its SparkApplication existing",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600),
)
DATA_LISTINGS = Counter(
    "continuum_data_listings_total",
    "Directory listings of data sources (a pipeline's data directory and each candidate batch "
    "directory probed for its marker), by transport (webhdfs, file) and result (ok, error)",
    ["transport", "result"],
)
