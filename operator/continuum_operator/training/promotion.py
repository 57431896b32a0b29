"""The promotion gate: does a newly trained model replace the champion?

The training job scores both the candidate and the current champion on the same holdout and logs
both to the candidate's MLflow run: the metric under its own name (`rmse`) and the champion's score
under `champion_<metric>` (`champion_rmse`). Comparing scores from one holdout keeps the gate fair
when the data drifts between runs.
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


def recorded(tags: Mapping[str, str]) -> Promotion | None:
    """The decision an earlier pass tagged on the model version, if any."""
    decision = tags.get(contract.MLFLOW_PROMOTION_TAG)
    if decision not in set(Decision):
        return None
    return Promotion(Decision(decision), tags.get(contract.MLFLOW_PROMOTION_REASON_TAG, ""))
