"""Which finished SparkApplications to delete so that at most `historyLimit` remain."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from continuum_operator.training.history import RunRecord, bounded
from continuum_operator.training.runs import ObservedRun


def spark_applications_to_delete(
    runs: Sequence[ObservedRun],
    history: Sequence[RunRecord],
    *,
    limit: int,
    keep: Collection[str] = (),
) -> list[str]:
    """The SparkApplications of finished runs that fall outside the status's bounded history,
    oldest first. `history` is the whole newest-first history of this pass (`history.observe`),
    so the cut here is the one status makes. Only settled runs (their outcome is in status) are
    deleted: the SparkApplication may be the only place left that knows how a run ended. Runs in
    progress are never deleted here, nor those in `keep` (failed runs whose retry has not started:
    their SparkApplication is what the retry repeats)."""
    kept = {record.name for record in bounded(history, limit)}
    existing = {run.name for run in runs}
    return [
        record.name
        for record in reversed(history)
        if record.settled
        and record.name in existing
        and record.name not in kept
        and record.name not in keep
    ]
