"""Whether to start a training run now, for what, and what to do with runs in progress.

Three triggers ask for a run: new complete batches (unless `trigger.onNewData` is false; the batches
then wait for the next run), a cron tick, and a new value of the retrain annotation. A run always
takes every complete unprocessed batch. The concurrency policy works like a CronJob's: Forbid waits
for the run in progress and then starts one run for everything that came meanwhile; Replace deletes
the runs in progress and starts one that also covers their batches; Allow starts alongside.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from continuum_operator.core.times import format_time, parse_time
from continuum_operator.training.batches import ProcessedBatches
from continuum_operator.training.runs import ObservedRun, RunRequest, RunTrigger
from continuum_operator.training.schedule import due_tick
from continuum_operator.training.spec import ConcurrencyPolicy, TrainingPipelineSpec
from continuum_workloads.dataset.batches import Batch


@dataclass(frozen=True)
class PipelineState:
    """What the pipeline has consumed, as recorded in its status."""

    processed: ProcessedBatches = field(default_factory=ProcessedBatches)
    last_schedule_time: datetime | None = None
    last_retrain_token: str | None = None

    def absorb(self, requests: Iterable[RunRequest]) -> PipelineState:
        """This state with what `requests` consumed recorded, so that nothing they covered is
        started again, even if their start never reached the status."""
        state = self
        for request in requests:
            schedule_times = [t for t in (state.last_schedule_time, request.schedule_time) if t]
            state = PipelineState(
                processed=state.processed.record(request.batches),
                last_schedule_time=max(schedule_times, default=None),
                last_retrain_token=request.retrain_token or state.last_retrain_token,
            )
        return state

    def to_status(self) -> dict[str, Any]:
        return {
            "batches": self.processed.to_status(),
            "lastScheduleTime": (
                None if self.last_schedule_time is None else format_time(self.last_schedule_time)
            ),
            "lastRetrain": self.last_retrain_token,
        }

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> PipelineState:
        return cls(
            processed=ProcessedBatches.from_status(status.get("batches")),
            last_schedule_time=parse_time(status.get("lastScheduleTime")),
            last_retrain_token=status.get("lastRetrain"),
        )


@dataclass(frozen=True)
class Plan:
    state: PipelineState
    """The state to record: observed runs absorbed, and the run to start, if any."""
    start: RunRequest | None = None
    delete: tuple[str, ...] = ()
    """Runs in progress to delete before starting (Replace)."""
    waiting_for: tuple[str, ...] = ()
    """Runs in progress that hold back a due run (Forbid)."""


def _retrain_due(annotation: str | None, state: PipelineState) -> str | None:
    if not annotation or annotation == state.last_retrain_token:
        return None
    return annotation


def plan_run(
    spec: TrainingPipelineSpec,
    *,
    state: PipelineState,
    complete_batches: Sequence[Batch],
    runs: Sequence[ObservedRun],
    retrain_annotation: str | None,
    created: datetime,
    now: datetime,
) -> Plan:
    """`complete_batches`: complete batches in the data directory (from `batches.new_batches`);
    `runs`: the pipeline's SparkApplications; `created`: the pipeline's creation time, before
    which no schedule tick is due."""
    state = state.absorb(run.request for run in runs)
    if retrain_annotation and any(run.request.retrain_token == retrain_annotation for run in runs):
        # Runs are absorbed in no particular order; the token that counts is the one asked for.
        state = replace(state, last_retrain_token=retrain_annotation)
    pending = tuple(batch for batch in complete_batches if not state.processed.contains(batch))
    schedule_time = (
        due_tick(spec.trigger.schedule, state.last_schedule_time or created, now)
        if spec.trigger.schedule
        else None
    )
    retrain_token = _retrain_due(retrain_annotation, state)
    triggers = tuple(
        trigger
        for trigger, asked in (
            (RunTrigger.NEW_DATA, bool(pending) and spec.trigger.on_new_data),
            (RunTrigger.SCHEDULE, schedule_time is not None),
            (RunTrigger.MANUAL, retrain_token is not None),
        )
        if asked
    )
    if not triggers:
        return Plan(state)

    in_progress = [run for run in runs if not run.finished]
    request = RunRequest(triggers, pending, schedule_time, retrain_token)
    if in_progress and spec.concurrency_policy is ConcurrencyPolicy.FORBID:
        return Plan(state, waiting_for=tuple(run.name for run in in_progress))
    if in_progress and spec.concurrency_policy is ConcurrencyPolicy.REPLACE:
        carried = {batch.name: batch for run in in_progress for batch in run.request.batches}
        carried.update((batch.name, batch) for batch in pending)
        request = replace(request, batches=tuple(sorted(carried.values(), key=lambda b: b.key)))
        return Plan(
            state.absorb([request]), start=request, delete=tuple(run.name for run in in_progress)
        )
    return Plan(state.absorb([request]), start=request)
