from __future__ import annotations

import math

import pytest

from continuum_operator.training.history import Decision, Promotion
from continuum_operator.training.promotion import decide, gate
from continuum_operator.training.spec import Direction
from continuum_operator.training.spec import Promotion as PromotionSpec

RMSE = PromotionSpec(metric="rmse", direction=Direction.MINIMIZE, min_improvement=0.02)
R2 = PromotionSpec(metric="r2", direction=Direction.MAXIMIZE, min_improvement=0.0)


def test_first_model_is_promoted() -> None:
    outcome = decide(RMSE, {"rmse": 900.0}, has_champion=False)

    assert outcome.decision is Decision.PROMOTED
    assert "first model" in outcome.reason


@pytest.mark.parametrize(
    ("candidate", "champion", "expected"),
    [
        (970.0, 1000.0, Decision.PROMOTED),  # 3 % better
        (980.0, 1000.0, Decision.PROMOTED),  # exactly the 2 % asked
        (990.0, 1000.0, Decision.REJECTED),  # better, not enough
        (1000.0, 1000.0, Decision.REJECTED),
        (1100.0, 1000.0, Decision.REJECTED),
    ],
)
def test_minimize_with_required_margin(
    candidate: float, champion: float, expected: Decision
) -> None:
    outcome = decide(RMSE, {"rmse": candidate, "champion_rmse": champion}, has_champion=True)

    assert outcome.decision is expected
    assert f"{candidate:.6g}" in outcome.reason and f"{champion:.6g}" in outcome.reason


@pytest.mark.parametrize(
    ("candidate", "champion", "expected"),
    [
        (0.81, 0.80, Decision.PROMOTED),
        (0.80, 0.80, Decision.REJECTED),
        (0.7, 0.8, Decision.REJECTED),
    ],
)
def test_maximize_needs_a_strict_gain_even_without_margin(
    candidate: float, champion: float, expected: Decision
) -> None:
    assert decide(R2, {"r2": candidate, "champion_r2": champion}, has_champion=True).decision is (
        expected
    )


def test_champion_with_a_perfect_score_cannot_be_beaten_by_a_worse_one() -> None:
    assert decide(RMSE, {"rmse": 0.1, "champion_rmse": 0.0}, has_champion=True).decision is (
        Decision.REJECTED
    )
    assert decide(R2, {"r2": 0.1, "champion_r2": 0.0}, has_champion=True).decision is (
        Decision.PROMOTED
    )


@pytest.mark.parametrize(
    "metrics",
    [{}, {"rmse": math.nan, "champion_rmse": 1.0}, {"mae": 1.0, "champion_rmse": 2.0}],
)
def test_missing_candidate_score_rejects_and_names_the_metric(metrics: dict) -> None:
    outcome = decide(RMSE, metrics, has_champion=True)

    assert outcome.decision is Decision.REJECTED
    assert "'rmse'" in outcome.reason


def test_champion_not_scored_on_the_holdout_rejects() -> None:
    outcome = decide(RMSE, {"rmse": 1.0}, has_champion=True)

    assert outcome.decision is Decision.REJECTED
    assert "champion_rmse" in outcome.reason


BETTER = {"rmse": 900.0, "champion_rmse": 1000.0}


def test_a_candidate_is_compared_with_the_champion_it_scored_while_that_one_holds_the_alias() -> (
    None
):
    outcome = gate(RMSE, BETTER, candidate="3", scored_against="1", champion="1", earlier=None)

    assert outcome.decision is Decision.PROMOTED
    assert "900 against champion 1000" in outcome.reason


@pytest.mark.parametrize(("scored_against", "champion"), [("1", "2"), (None, "2"), ("1", None)])
def test_a_candidate_whose_champion_moved_meanwhile_is_rejected(
    scored_against: str | None, champion: str | None
) -> None:
    outcome = gate(
        RMSE, BETTER, candidate="3", scored_against=scored_against, champion=champion, earlier=None
    )

    assert outcome.decision is Decision.REJECTED
    assert f"moved from version {scored_against or 'none'} to {champion or 'none'}" in (
        outcome.reason
    )


def test_an_earlier_promotion_stands_only_while_its_champion_holds_the_alias() -> None:
    earlier = Promotion(Decision.PROMOTED, "rmse 900 against champion 1000")

    kept = gate(RMSE, BETTER, candidate="3", scored_against="1", champion="1", earlier=earlier)
    moved = gate(RMSE, BETTER, candidate="3", scored_against="1", champion="2", earlier=earlier)
    done = gate(RMSE, BETTER, candidate="3", scored_against="1", champion="3", earlier=earlier)

    assert kept == earlier and done == earlier
    assert moved.decision is Decision.REJECTED


def test_an_earlier_rejection_stands() -> None:
    earlier = Promotion(Decision.REJECTED, "rmse 990 against champion 1000")

    assert gate(RMSE, BETTER, candidate="3", scored_against="1", champion="1", earlier=earlier) == (
        earlier
    )
