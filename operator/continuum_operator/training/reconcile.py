"""One reconcile pass of a TrainingPipeline: observe (pipeline, SparkApplications, data directory,
MLflow), decide with the pure functions (planning, history, promotion, pruning, conditions), act,
and return the status to write and the Events to post.

Everything is derived from what is observed in this pass, so a pass can be interrupted at any point
and the next one picks up: runs have deterministic names (a repeated start is refused by the API
server), the SparkApplications carry what they consumed, and a promotion decision is tagged on the
model version before the alias moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from continuum_operator.adapters import metrics
from continuum_operator.adapters.datasource import DataSourceError, DataSourceLister
from continuum_operator.adapters.kube import Kube, SparkOperatorMissing, owner_reference
from continuum_operator.adapters.registry import (
    Credentials,
    Registry,
    RegistryError,
    RunOutcome,
)
from continuum_operator.core import api
from continuum_operator.core.api import Kind
from continuum_operator.core.conditions import (
    DATA_SOURCE_AVAILABLE,
    READY,
    REGISTRY_AVAILABLE,
    Conditions,
    condition_status,
)
from continuum_operator.core.credentials import (
    SECRET_NOT_FOUND,
    SecretNotFound,
    mlflow_credentials,
)
from continuum_operator.core.loop import DEFAULT_POLL_INTERVAL, PassResult
from continuum_operator.core.spec import InvalidSpecError, format_duration
from continuum_operator.core.status import Event
from continuum_operator.core.times import format_time, parse_time
from continuum_operator.training.batches import (
    ProcessedBatches,
    late_batches,
    needs_probe,
    new_batches,
)
from continuum_operator.training.history import (
    Decision,
    Phase,
    Promotion,
    RunRecord,
    bounded,
    current_run,
    last_model_version,
    observe,
    phase,
    with_failures,
    with_outcome,
)
from continuum_operator.training.planning import PipelineState, plan_run
from continuum_operator.training.promotion import gate, recorded
from continuum_operator.training.pruning import spark_applications_to_delete
from continuum_operator.training.retries import (
    RetryPlan,
    failure_of,
    plan_retries,
    retry_delay,
)
from continuum_operator.training.runs import Failure, ObservedRun, RunRequest, RunState
from continuum_operator.training.schedule import next_tick
from continuum_operator.training.sparkapp import (
    build_spark_application,
    experiment_name,
    pipeline_labels,
)
from continuum_operator.training.spec import (
    ConcurrencyPolicy,
    Retry,
    TrainingPipelineSpec,
    parse_training_pipeline_spec,
)
from continuum_workloads import contract
from continuum_workloads.dataset.batches import Batch


@dataclass
class Memory:
    """What one pipeline's loop remembers between passes; losing it on restart only repeats an
    Event."""

    announced: set[str] = field(default_factory=set)
    """Batches a BatchDetected Event was posted for."""


def _newest(processed: ProcessedBatches) -> Batch | None:
    candidates = [*processed.recent, *([processed.watermark] if processed.watermark else [])]
    return max(candidates, key=lambda batch: batch.key, default=None)


def _names(batches: Iterable[Batch]) -> str:
    names = [batch.name for batch in batches]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _late_event(spec: TrainingPipelineSpec, processed: ProcessedBatches, late: int) -> Event:
    watermark = processed.watermark
    assert watermark is not None  # nothing is late without a watermark
    return Event(
        "BatchesBelowWatermark",
        f"{late} batch(es) in {spec.data.uri} matching {spec.data.batch_pattern!r} have "
        f"modification times at or before the watermark {watermark.name} "
        f"({format_time(datetime.fromtimestamp(watermark.modification_time / 1000, UTC))}) "
        "but were never processed: copied with their times preserved, or written by a host "
        "whose clock is behind, or never completed. They are skipped: rewrite their completion "
        "marker (a file batch: the file) to give them a current time, and they are processed.",
        warning=True,
    )


def asks_for_pass(pipeline: Mapping[str, Any]) -> bool:
    """Whether a change to the pipeline needs a pass before the next poll: a new generation of
    the spec, or a new value of the retrain annotation. Its own status writes do not."""
    metadata = pipeline.get("metadata") or {}
    status = pipeline.get("status") or {}
    retrain = (metadata.get("annotations") or {}).get(api.RETRAIN_ANNOTATION)
    return metadata.get("generation") != status.get("observedGeneration") or bool(
        retrain and retrain != status.get("lastRetrain")
    )


class TrainingPipelineController:
    """Reconciles TrainingPipelines (`core.loop.Controller`)."""

    kind = Kind.TRAINING_PIPELINE

    def __init__(
        self,
        kube: Kube,
        lister: DataSourceLister,
        registry_for: Callable[[str, Credentials | None], Registry],
    ) -> None:
        self._kube = kube
        self._lister = lister
        self._registry_for = registry_for

    def new_memory(self) -> Memory:
        return Memory()

    def poll_interval(self, pipeline: Mapping[str, Any]) -> timedelta:
        try:
            return parse_training_pipeline_spec(pipeline.get("spec") or {}).data.poll_interval
        except InvalidSpecError:
            return DEFAULT_POLL_INTERVAL

    def reconcile(self, pipeline: Mapping[str, Any], memory: Memory, now: datetime) -> PassResult:
        metadata = pipeline["metadata"]
        status = pipeline.get("status") or {}
        generation = int(metadata.get("generation") or 0)
        conditions = Conditions(status, generation, now)
        base = {"observedGeneration": generation}
        try:
            spec = parse_training_pipeline_spec(pipeline.get("spec") or {})
        except InvalidSpecError as error:
            conditions.set(READY, False, "InvalidSpec", str(error))
            return PassResult(
                {**base, "phase": str(Phase.INVALID), "conditions": conditions.items},
                conditions.events,
            )
        result = PassResult(
            base,
            poll_interval=spec.data.poll_interval,
            wake_at=next_tick(spec.trigger.schedule, now) if spec.trigger.schedule else None,
        )
        namespace, name = metadata["namespace"], metadata["name"]
        try:
            owned = [
                body
                for body in self._kube.list_spark_applications(namespace, pipeline_labels(name))
                if any(
                    ref.get("uid") == metadata["uid"]
                    for ref in body["metadata"].get("ownerReferences") or ()
                )
            ]
        except SparkOperatorMissing as error:
            conditions.set(READY, False, "SparkOperatorMissing", str(error))
            result.status["conditions"] = conditions.items
            result.events = conditions.events
            result.failed.append("SparkOperatorMissing")
            return result
        runs = [ObservedRun.from_spark_application(body) for body in owned]
        state = PipelineState.from_status(status).absorb(run.request for run in runs)
        records = [RunRecord.from_status(raw) for raw in status.get("runs") or ()]
        failures, reasons = self._failures(namespace, name, spec, runs, records, conditions, result)

        plan = None
        try:
            pattern, marker = spec.data.batch_pattern, spec.data.completion_marker
            entries = self._lister.entries(
                spec.data.uri,
                marker,
                lambda entry: needs_probe(entry, pattern, marker, state.processed),
            )
            late, processed = late_batches(entries, pattern, marker, state.processed)
            state = replace(state, processed=processed)
            complete = new_batches(entries, pattern, marker, state.processed)
            conditions.set(DATA_SOURCE_AVAILABLE, True, "Listed", f"{spec.data.uri} listed")
            result.status["lateBatches"] = late or None
            if late > int(status.get("lateBatches") or 0):
                result.events.append(_late_event(spec, state.processed, late))
        except DataSourceError as error:
            # No planning without a listing: a scheduled or manual run started now would miss
            # the batches it cannot see; the tick and the annotation stay due until it is back.
            conditions.set(DATA_SOURCE_AVAILABLE, False, "ListingFailed", str(error))
            result.failed.append("DataSource")
        else:
            fresh = [batch for batch in complete if batch.name not in memory.announced]
            if fresh:
                result.events.append(Event("BatchDetected", f"complete batches: {_names(fresh)}"))
                memory.announced.update(batch.name for batch in fresh)
            plan = plan_run(
                spec,
                state=state,
                complete_batches=complete,
                runs=runs,
                retrain_annotation=(metadata.get("annotations") or {}).get(api.RETRAIN_ANNOTATION),
                created=parse_time(metadata["creationTimestamp"]) or now,
                now=now,
            )
            for replaced in plan.delete:
                self._kube.delete_spark_application(namespace, replaced)
                result.events.append(Event("RunReplaced", f"deleted run {replaced} (Replace)"))
            if plan.start is not None:
                runs.append(self._start(pipeline, spec, plan.start, result, now))
            state = plan.state
        retries = self._retry(pipeline, spec, runs, failures, result, now)

        update = observe(records, runs, now=now)
        changed = {record.name for record in update.changed}
        history_seen = with_failures(update.history, failures, reasons)
        result.events += filter(
            None, (_run_event(r, spec.retry) for r in history_seen if r.name in changed)
        )
        settled = self._settle(f"{namespace}/{name}", spec, history_seen, conditions, result)
        for pruned in spark_applications_to_delete(
            runs, settled, limit=spec.history_limit, keep=retries.awaiting
        ):
            self._kube.delete_spark_application(namespace, pruned)
            result.events.append(Event("RunPruned", f"deleted finished run {pruned}"))
        history = bounded(settled, spec.history_limit)

        failing = conditions.failing(besides=READY)
        if failing:
            conditions.set(READY, False, failing["reason"], failing["message"])
        else:
            conditions.set(READY, True, "Watching", f"watching {spec.data.uri}")
        newest = _newest(state.processed)
        result.status.update(
            state.to_status(),
            phase=str(phase(history)),
            currentRun=current_run(history),
            lastBatch=newest.name if newest else None,
            lastModelVersion=last_model_version(history),
            runs=[record.to_status() for record in history],
            conditions=conditions.items,
        )
        result.events[:0] = conditions.events
        return result

    def _start(
        self,
        pipeline: Mapping[str, Any],
        spec: TrainingPipelineSpec,
        request: RunRequest,
        result: PassResult,
        now: datetime,
    ) -> ObservedRun:
        metadata = pipeline["metadata"]
        body = build_spark_application(
            spec, pipeline=metadata["name"], namespace=metadata["namespace"], request=request
        )
        body["metadata"]["ownerReferences"] = [owner_reference(pipeline)]
        name = body["metadata"]["name"]
        if self._kube.create_spark_application(body):
            for trigger in request.triggers:
                metrics.RUNS_STARTED.labels(trigger).inc()
            newest = max(request.batches, key=lambda batch: batch.key, default=None)
            if newest is not None:
                latency = now.timestamp() - newest.modification_time / 1000
                metrics.MARKER_TO_RUN_SECONDS.observe(max(latency, 0.0))
            batches = f" for {_names(request.batches)}" if request.batches else ""
            attempt = f", attempt {request.attempt}" if request.attempt > 1 else ""
            result.events.append(
                Event("RunStarted", f"run {name} ({', '.join(request.triggers)}){batches}{attempt}")
            )
        # The history sees the run in this pass already, created now or by an earlier pass.
        body["metadata"]["creationTimestamp"] = format_time(now)
        return ObservedRun.from_spark_application(body)

    def _registry(self, namespace: str, spec: TrainingPipelineSpec) -> Registry:
        credentials = mlflow_credentials(self._kube, namespace, spec.mlflow)
        return self._registry_for(spec.mlflow.tracking_uri, credentials)

    def _failures(
        self,
        namespace: str,
        name: str,
        spec: TrainingPipelineSpec,
        runs: Sequence[ObservedRun],
        records: Sequence[RunRecord],
        conditions: Conditions,
        result: PassResult,
    ) -> tuple[dict[str, Failure], dict[str, str]]:
        """The failure of each failed run: as recorded in status, else asked of MLflow once; and
        the job's reason for each data error found now. A run whose failure MLflow cannot tell
        now is left out: neither retried nor given up."""
        known = {record.name: record.failure for record in records if record.failure}
        failures: dict[str, Failure] = {}
        reasons: dict[str, str] = {}
        for run in runs:
            if run.state is not RunState.FAILED:
                continue
            if run.name in known:
                failures[run.name] = known[run.name]
                continue
            experiment = experiment_name(spec, pipeline=name, namespace=namespace)
            try:
                data_error = self._registry(namespace, spec).data_error(experiment, run.name)
            except SecretNotFound as error:
                conditions.set(REGISTRY_AVAILABLE, False, SECRET_NOT_FOUND, str(error))
                result.failed.append("Registry")
                break
            except RegistryError as error:
                conditions.set(REGISTRY_AVAILABLE, False, "RegistryUnreachable", str(error))
                result.failed.append("Registry")
                break
            failures[run.name] = failure_of(
                run, data_error=data_error is not None, retry=spec.retry
            )
            if data_error is not None:
                reasons[run.name] = data_error
        return failures, reasons

    def _retry(
        self,
        pipeline: Mapping[str, Any],
        spec: TrainingPipelineSpec,
        runs: list[ObservedRun],
        failures: Mapping[str, Failure],
        result: PassResult,
        now: datetime,
    ) -> RetryPlan:
        """Starts the retry that is due, if the concurrency policy lets a run start now (one per
        pass); asks for a pass when the next one is due."""
        retries = plan_retries(spec.retry, runs, failures, now)
        busy = spec.concurrency_policy is not ConcurrencyPolicy.ALLOW and any(
            not run.finished for run in runs
        )
        due = list(retries.due)
        if due and not busy:
            runs.append(self._start(pipeline, spec, due.pop(0), result, now))
        moments = [
            moment
            for moment in (result.wake_at, retries.next_due, now if due and not busy else None)
            if moment is not None
        ]
        result.wake_at = min(moments, default=None)
        return retries

    def _settle(
        self,
        pipeline: str,
        spec: TrainingPipelineSpec,
        history: Sequence[RunRecord],
        conditions: Conditions,
        result: PassResult,
    ) -> tuple[RunRecord, ...]:
        """Applies the promotion gate to succeeded runs without a decision; reports the
        registry's health, probing it when nothing else did. `pipeline`: `<namespace>/<name>`."""
        history = tuple(history)
        model, alias = spec.mlflow.registered_model, spec.promotion.alias
        pending = [r for r in history if r.state is RunState.SUCCEEDED and r.promotion is None]
        if not pending and condition_status(conditions.items, REGISTRY_AVAILABLE) is True:
            return history
        try:
            registry = self._registry(pipeline.partition("/")[0], spec)
            champion = registry.champion_version(model, alias)
            for record in reversed(pending):  # oldest first: each may change the champion
                outcome = registry.outcome(model, pipeline, record.name)
                if outcome.model_version is None:
                    promotion = Promotion(
                        Decision.REJECTED,
                        f"no version of {model} is tagged "
                        f"{contract.MLFLOW_RUN_ID_TAG}={record.name}",
                    )
                else:
                    promotion, champion = _promote(registry, spec, outcome, outcome.model_version)
                history = with_outcome(
                    history,
                    record.name,
                    mlflow_run_id=outcome.mlflow_run_id,
                    model_version=outcome.model_version,
                    metrics=outcome.metrics or {},
                    promotion=promotion,
                )
                version = outcome.model_version or "none"
                result.events.append(
                    Event(
                        f"Model{promotion.decision}",
                        f"{model} version {version} of run {record.name}: {promotion.reason}",
                    )
                )
        except SecretNotFound as error:
            conditions.set(REGISTRY_AVAILABLE, False, SECRET_NOT_FOUND, str(error))
            result.failed.append("Registry")
            return history
        except RegistryError as error:
            conditions.set(REGISTRY_AVAILABLE, False, "RegistryUnreachable", str(error))
            result.failed.append("Registry")
            return history
        conditions.set(REGISTRY_AVAILABLE, True, "Reachable", f"{spec.mlflow.tracking_uri}")
        result.status["championVersion"] = champion
        return history


def _promote(
    registry: Registry, spec: TrainingPipelineSpec, outcome: RunOutcome, candidate: str
) -> tuple[Promotion, str | None]:
    """The gate's decision on `candidate`, the version a run registered, and the champion after
    it: compare and set as one step, against the alias as it is now. The decision is tagged on
    the version before the alias moves, so an interrupted pass finds it again."""
    model, alias = spec.mlflow.registered_model, spec.promotion.alias
    with registry.exclusive(model):
        champion = registry.champion_version(model, alias)
        earlier = recorded(outcome.tags or {})
        promotion = gate(
            spec.promotion,
            outcome.metrics or {},
            candidate=candidate,
            scored_against=outcome.scored_against,
            champion=champion,
            earlier=earlier,
        )
        if promotion != earlier:
            registry.record_decision(model, candidate, promotion.decision, promotion.reason)
        if promotion.decision is Decision.PROMOTED and champion != candidate:
            registry.promote(model, alias, candidate)
            champion = candidate
    return promotion, champion


def _run_event(record: RunRecord, retry: Retry) -> Event | None:
    """Pending runs get their Event when they are started (RunStarted)."""
    if record.state is RunState.PENDING:
        return None
    detail = f": {record.message}" if record.message else ""
    warning = record.state in (RunState.FAILED, RunState.ABORTED)
    message = f"run {record.name} {record.state.lower()}{detail}"
    return Event(f"Run{record.state}", message + _failure_note(record, retry), warning)


def _failure_note(record: RunRecord, retry: Retry) -> str:
    attempts = f"attempt {record.attempt} of {retry.limit + 1}"
    if record.failure is Failure.TRANSIENT:
        delay = format_duration(retry_delay(retry, record.attempt))
        return f" ({attempts}, transient: retried in {delay})"
    if record.failure is Failure.RETRY_LIMIT:
        return f" ({attempts}, transient: no retry left, its batches failed)"
    if record.failure is Failure.DATA_ERROR:
        return " (data error: not retried, its batches failed)"
    return ""
