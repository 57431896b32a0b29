"""How the demo reads a pipeline's runs, judges the outcome and shows it."""

from typing import Any

from rich.console import Console
from rich.progress import Progress

from demo import view
from demo.answers import LiveMetrics
from demo.play import BatchOutcome, Outcome, problems, settled_run
from demo.reckoning import reckon
from demo.scenario import E2E
from demo.view import Picture, run_of


def run(first: str, last: str, state: str, **extra: Any) -> dict[str, Any]:
    return {"name": f"run-{last}", "state": state, "batches": {"first": first, "last": last},
            **extra}  # fmt: skip


PROMOTED = {"decision": "Promoted"}


def test_a_batch_s_run_is_the_newest_whose_range_holds_it() -> None:
    pipeline = {
        "runs": [
            run("batch-0003", "batch-0004", "Running"),
            run("batch-0001", "batch-0002", "Succeeded"),
        ]
    }
    assert run_of(pipeline, "batch-0004")["name"] == "run-batch-0004"
    assert run_of(pipeline, "batch-0003")["name"] == "run-batch-0004"
    assert run_of(pipeline, "batch-0001")["name"] == "run-batch-0002"
    assert run_of(pipeline, "batch-0005") is None
    assert run_of({}, "batch-0001") is None


def test_a_run_is_settled_once_its_promotion_is_decided_or_it_failed_for_good() -> None:
    def settled(**fields: Any) -> bool:
        pipeline = {"runs": [run("batch-0001", "batch-0001", **fields)]}
        return settled_run(pipeline, "batch-0001") is not None

    assert not settled(state="Running")
    assert not settled(state="Succeeded")  # the gate has not decided yet
    assert settled(state="Succeeded", promotion=PROMOTED)
    assert not settled(state="Failed", failure="Transient")  # a retry follows
    assert settled(state="Failed", failure="DataError")
    assert settled(state="Failed", failure="RetryLimit")


def outcome(**changes: Any) -> Outcome:
    """The end-to-end scenario as it should end: v1, a bad batch, v2."""
    good1 = run("batch-0001", "batch-0001", "Succeeded", modelVersion="1", promotion=PROMOTED)
    bad = run("batch-0002", "batch-0002", "Failed", failure="DataError", message="no price")
    good2 = run("batch-0003", "batch-0003", "Succeeded", modelVersion="2", promotion=PROMOTED)
    picture = Picture(
        E2E,
        serving={"servingVersion": "2", "phase": "Serving"},
        metrics={v: LiveMetrics(v, 60_000, 40, 1500.0, 0.1) for v in ("1", "2")},
        by_version={"1": 300, "2": 200},
        dead_letters={"not_json": 20},
        pipeline={"runs": [good2, bad, good1]},
        landed={"batch-0001": 1.0, "batch-0002": 200.0, "batch-0003": 215.0},
    )
    fields = {
        "picture": picture,
        "batches": tuple(
            BatchOutcome(plan, r) for plan, r in zip(E2E.batches, (good1, bad, good2), strict=True)
        ),
        "champions": ("1", "1", "2"),
        "reckoning": reckon(["a", "b"], ["a"], ["b"]),
        "table": "NAME PHASE\ntrainingpipeline.continuum.ml/used-cars Idle\n",
        "peak_memory_mib": 9000.0,
    }
    return Outcome(**{**fields, **changes})


def test_a_loop_that_kept_its_promises_has_no_problems() -> None:
    assert problems(outcome()) == []
    assert outcome().promoted_versions == ["1", "2"]


def test_each_broken_promise_is_named() -> None:
    bad_promoted = outcome(champions=("1", "2", "2"))
    assert problems(bad_promoted) == ["batch-0002 is bad, yet the champion moved to 2"]
    lossy = outcome(reckoning=reckon(["a", "b", "c"], ["a", "a"], []))
    assert problems(lossy) == ["requests: 2 lost, 1 duplicated, 0 unexpected"]
    base = outcome()
    stale = outcome(picture=Picture(**{**base.picture.__dict__, "serving": {"servingVersion": "1"},
                                       "metrics": {}}))  # fmt: skip
    assert problems(stale) == [
        "the scorer serves v1, not the last promoted v2",
        "no live metrics for version(s) 1, 2",
    ]


def test_the_view_and_the_summary_show_the_figures() -> None:
    console = Console(record=True, width=160)
    done = outcome()
    console.print(view.live(done.picture, Progress()))
    console.print(view.summary(done.picture, done.reckoning, done.table))
    shown = console.export_text()
    for figure in ("batch-0002", "bad: no price column", "DataError", "Promoted", "market x1.30",
                   "1,500", "not_json 20", "Reckoning", "Idle"):  # fmt: skip
        assert figure in shown, figure
