"""The scorer's Prometheus metrics, in a registry of its own (served on /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from continuum_workloads.serving.records import ModelIdentity
from continuum_workloads.serving.scorer import BatchOutcome


class ServingMetrics:
    def __init__(self, model: ModelIdentity) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "continuum_serving_requests", "Requests answered", registry=self.registry
        )
        self.predictions = Counter(
            "continuum_serving_predictions", "Predictions written", registry=self.registry
        )
        self.dead_letters = Counter(
            "continuum_serving_dead_letters",
            "Requests refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.replayed = Counter(
            "continuum_serving_replayed_records",
            "Records of replayed batches skipped because an earlier transaction answered them",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "continuum_serving_batch_seconds",
            "Time to validate, score and commit one micro-batch",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.lag = Gauge(
            "continuum_serving_lag_records",
            "Requests in the requests topic beyond the consumer group's committed offsets"
            " (exactlyOnce: not yet answered)",
            registry=self.registry,
        )
        self.ready = Gauge(
            "continuum_serving_ready", "1 when /readyz is 200", registry=self.registry
        )
        self.lease_held = Gauge(
            "continuum_serving_lease_held",
            "1 while this pod holds the Lease",
            registry=self.registry,
        )
        self.model = Gauge(
            "continuum_serving_model_info",
            "The model this pod serves",
            ["model_name", "model_version"],
            registry=self.registry,
        )
        self.model.labels(model.name, model.version).set(1)
        self.live = {
            name: Gauge(
                f"continuum_serving_live_{name}",
                f"Live {name} of predictions against feedback, last final window",
                ["model_version"],
                registry=self.registry,
            )
            for name in ("rmse", "mae", "mape", "count")
        }
        self.late_feedback = Counter(
            "continuum_serving_late_feedback",
            "Feedback or predictions dropped by the live metrics for arriving behind the watermark",
            registry=self.registry,
        )

    def observe(self, outcome: BatchOutcome) -> None:
        answered = outcome.predictions + sum(outcome.dead_letters.values())
        self.requests.inc(answered)
        self.predictions.inc(outcome.predictions)
        for reason, count in outcome.dead_letters.items():
            self.dead_letters.labels(reason).inc(count)
        self.replayed.inc(outcome.skipped)
        self.batch_seconds.observe(outcome.seconds)

    def observe_window(self, window: dict[str, object]) -> None:
        for name, gauge in self.live.items():
            value = window.get(name)
            if value is not None:
                gauge.labels(str(window["model_version"])).set(float(value))  # type: ignore[arg-type]
