"""Which finished SparkApplications to delete so that at most `historyLimit` remain."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from continuum_operator.runs import ObservedRun
from continuum_operator.times import EPOCH


def spark_applications_to_delete(
    runs: Sequence[ObservedRun], *, limit: int, settled: Collection[str]
) -> list[str]:
    """Finished runs beyond the newest `limit`, oldest first. Only runs named in `settled` (their
    outcome is in the pipeline's status) are deleted: the SparkApplication may be the only place
    left that knows how a run ended. Runs in progress are never deleted here."""
    finished = sorted(
        (run for run in runs if run.finished),
        key=lambda run: (run.terminated or run.created or EPOCH, run.name),
        reverse=True,
    )
    return [run.name for run in reversed(finished[limit:]) if run.name in settled]
