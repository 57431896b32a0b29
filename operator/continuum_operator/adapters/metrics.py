"""The operator's Prometheus metrics, served by `continuum operator --metrics-port`. Those of the
shared reconcile loop carry the kind they count."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECONCILES = Counter(
    "continuum_reconciles_total", "Reconcile passes, by kind and result", ["kind", "result"]
)
ERRORS = Counter(
    "continuum_reconcile_errors_total",
    "Failed reconcile passes, by kind and the dependency or exception that failed them",
    ["kind", "error"],
)
RECONCILE_SECONDS = Histogram(
    "continuum_reconcile_duration_seconds", "Time one reconcile pass takes, by kind", ["kind"]
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
