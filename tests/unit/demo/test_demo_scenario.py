"""The demo's scenario and its batches: names per namespace, the market's drift, the bad batch."""

import pytest

from continuum_workloads.dataset.schema import COLUMNS, TARGET
from demo.batches import drifted, listings
from demo.scenario import DEMO, E2E, BatchPlan, Names, Scenario


def scenario(*batches: BatchPlan) -> Scenario:
    return Scenario("ns", batches, rate=1, malformed=0, feedback_delay_s=1, batch_pause_s=0,
                    metrics_timeout_s=1)  # fmt: skip


def test_the_demo_and_the_end_to_end_test_share_nothing_by_name() -> None:
    demo, e2e = DEMO.names, E2E.names
    for attribute in ("namespace", "registered_model", "hdfs_root", "consumer_group",
                      "cluster_role", "spark_operator_role", "experiment_prefix"):  # fmt: skip
        assert getattr(demo, attribute) != getattr(e2e, attribute), attribute
    assert not set(demo.topics.values()) & set(e2e.topics.values())


def test_names_follow_the_namespace() -> None:
    names = Names("shop")
    assert names.topics["deadLetter"] == "shop.dead-letter"
    assert names.incoming == "/shop/incoming"
    assert names.consumer_group == "continuum-shop-used-cars"
    assert names.experiment("20261203-1800") == "shop/used-cars/20261203-1800"


def test_both_scenarios_land_a_bad_batch_between_good_ones_whose_market_moves() -> None:
    for played in (DEMO, E2E):
        kinds = [batch.bad for batch in played.batches]
        assert kinds[0] is False and True in kinds and kinds[-1] is False
        assert len(played.good_batches) >= 2
        drifts = [batch.drift for batch in played.good_batches]
        assert drifts == sorted(drifts) and drifts[-1] > drifts[0]


def test_the_market_level_is_the_newest_good_batch_s_drift() -> None:
    played = scenario(BatchPlan(1, 10), BatchPlan(2, 10, drift=1.2), BatchPlan(3, 10, bad=True))
    assert [played.drift_after(n) for n in range(4)] == [1.0, 1.0, 1.2, 1.2]


@pytest.mark.parametrize(
    ("batches", "complaint"),
    [
        ((), "at least one batch"),
        ((BatchPlan(1, 10, bad=True),), "first batch must be good"),
        ((BatchPlan(1, 10), BatchPlan(3, 10)), "numbered 1, 2"),
    ],
)
def test_a_scenario_that_cannot_play_is_refused(batches: tuple, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        scenario(*batches)


def test_a_good_batch_s_prices_move_with_the_market_and_blanks_stay_blank() -> None:
    plain = listings(BatchPlan(1, 200))
    moved = listings(BatchPlan(1, 200, drift=1.5))
    assert list(moved.columns) == list(COLUMNS)
    stated = plain[TARGET] != ""
    assert (moved[TARGET][~stated] == "").all()
    ratio = moved[TARGET][stated].astype(float) / plain[TARGET][stated].astype(float)
    assert ratio[plain[TARGET][stated].astype(float) > 0].between(1.499, 1.501).all()
    assert (moved.drop(columns=TARGET) == plain.drop(columns=TARGET)).all().all()


def test_a_bad_batch_has_lost_its_price_column() -> None:
    bad = listings(BatchPlan(2, 50, bad=True))
    assert TARGET not in bad.columns
    assert len(bad) == 50


def test_drifted_keeps_zero_prices_zero() -> None:
    import pandas as pd

    frame = pd.DataFrame({TARGET: ["100.0", "", "0.0"], "year": ["2019", "2018", "2017"]})
    assert drifted(frame, 2.0)[TARGET].tolist() == ["200.0", "", "0.0"]
