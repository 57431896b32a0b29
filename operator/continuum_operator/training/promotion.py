"""The promotion gate: does a newly trained model replace the champion?

The training job scores both the candidate and the current champion on the same holdout and logs
both to the candidate's MLflow run: the metric under its own name (`rmse`) and the champion's score
under `champion_<metric>` (`champion_rmse`). Comparing scores from one holdout keeps the gate fair
when the data drifts between runs.

The comparison holds only against the version the run scored. Several pipelines may promote to one
model, so the alias is re-read right before it moves, and a candidate whose champion was replaced
meanwhile is rejected rather than promoted over a model it was never compared with (`gate`); the
registry adapter makes re-read, decision and move one step per model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from continuum_operator.training.history import Decision, Promotion
from continuum_operator.training.spec import Direction
from continuum_operator.training.spec import Promotion as PromotionSpec
from continuum_workloads import contract

CHAMPION_PREFIX = "champion_"


def _relative_improvement(candidate: float, champion: float, direction: Direction) -> float:
    gain = champion - candidate if direction is Direction.MINIMIZE else candidate - champion
    if champion == 0:
        # Nothing to scale by: any gain is infinitely large, no gain is none.
        return math.copysign(math.inf, gain) if gain else 0.0
    return gain / abs(champion)


def decide(gate: PromotionSpec, metrics: Mapping[str, float], *, has_champion: bool) -> Promotion:
    """A candidate is promoted when there is no champion yet, or when it beats the champion by a
    positive relative margin of at least `minImprovement`. Missing scores reject: the champion
    keeps serving until a comparison can be made."""
    metric = str(gate.metric)
    candidate = metrics.get(metric)
    if candidate is None or math.isnan(candidate):
        return Promotion(Decision.REJECTED, f"the run logged no {metric!r} metric")
    if not has_champion:
        return Promotion(Decision.PROMOTED, f"first model ({metric} {candidate:.6g})")
    champion = metrics.get(CHAMPION_PREFIX + metric)
    if champion is None or math.isnan(champion):
        return Promotion(
            Decision.REJECTED,
            f"the run logged no {CHAMPION_PREFIX + metric!r}: the champion was not scored on "
            "the holdout",
        )
    improvement = _relative_improvement(candidate, champion, gate.direction)
    comparison = (
        f"{metric} {candidate:.6g} against champion {champion:.6g} "
        f"({improvement:+.2%}, {gate.direction}, required {gate.min_improvement:.2%})"
    )
    if improvement > 0 and improvement >= gate.min_improvement:
        return Promotion(Decision.PROMOTED, comparison)
    return Promotion(Decision.REJECTED, comparison)


def gate(
    spec: PromotionSpec,
    metrics: Mapping[str, float],
    *,
    candidate: str,
    scored_against: str | None,
    champion: str | None,
    earlier: Promotion | None,
) -> Promotion:
    """The decision on model version `candidate`, whose run scored version `scored_against` (None:
    there was no champion) and logged `metrics`, now that the alias names `champion`. A decision
    recorded by an earlier pass (`earlier`) stands, unless the champion moved since it was
    taken and before the alias reached the candidate."""
    if champion == candidate:
        return earlier or Promotion(Decision.PROMOTED, "already holds the alias")
    if earlier is not None and earlier.decision is Decision.REJECTED:
        return earlier
    if champion != scored_against:
        return Promotion(
            Decision.REJECTED,
            f"the champion moved from version {scored_against or 'none'} to {champion or 'none'} "
            "after the run scored it: no comparison with the new champion",
        )
    return earlier or decide(spec, metrics, has_champion=scored_against is not None)


def recorded(tags: Mapping[str, str]) -> Promotion | None:
    """The decision an earlier pass tagged on the model version, if any."""
    decision = tags.get(contract.MLFLOW_PROMOTION_TAG)
    if decision not in set(Decision):
        return None
    return Promotion(Decision(decision), tags.get(contract.MLFLOW_PROMOTION_REASON_TAG, ""))
