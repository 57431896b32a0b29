"""The live view (rich) and the summary table: pure functions of what the demo saw."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from demo.answers import LiveMetrics
from demo.reckoning import Reckoning
from demo.scenario import BatchPlan, Scenario

STATE_STYLE = {
    "Succeeded": "green",
    "Promoted": "green",
    "Serving": "green",
    "Failed": "red",
    "Rejected": "yellow",
    "RolledBack": "red",
    "Running": "cyan",
    "RollingOut": "cyan",
    "InProgress": "cyan",
    "Pending": "dim",
}


@dataclass
class Picture:
    """Everything the view shows, refreshed by the demo about once a second."""

    scenario: Scenario
    elapsed_s: float = 0.0
    landed: dict[str, float] = field(default_factory=dict)
    """Batch name → seconds into the demo when it landed."""
    pipeline: Mapping[str, Any] = field(default_factory=dict)
    """The TrainingPipeline's status."""
    serving: Mapping[str, Any] = field(default_factory=dict)
    """The ServingDeployment's status."""
    champion: str | None = None
    sent: int = 0
    malformed: int = 0
    sent_rate: float = 0.0
    predicted: int = 0
    predicted_rate: float = 0.0
    by_version: Mapping[str, int] = field(default_factory=dict)
    dead_letters: Mapping[str, int] = field(default_factory=Counter)
    metrics: Mapping[str, LiveMetrics] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def _styled(text: str | None) -> Text:
    if not text:
        return Text("-", style="dim")
    return Text(text, style=STATE_STYLE.get(text, ""))


def _batch_label(plan: BatchPlan) -> str:
    if plan.bad:
        return "bad: no price column"
    return f"market x{plan.drift:.2f}"


def run_of(pipeline: Mapping[str, Any], batch: str) -> Mapping[str, Any] | None:
    """The newest run that trained on `batch` (its batches' range holds it)."""
    for run in pipeline.get("runs") or ():
        batches = run.get("batches") or {}
        if batches.get("first", "") <= batch <= batches.get("last", ""):
            return run
    return None


def batches_table(picture: Picture) -> Table:
    table = Table(title="Batches and runs", expand=True)
    for column in ("batch", "content", "landed", "run", "state", "failure", "version", "gate"):
        table.add_column(column)
    for plan in picture.scenario.batches:
        landed = picture.landed.get(plan.name)
        run = run_of(picture.pipeline, plan.name) if landed is not None else None
        promotion = (run or {}).get("promotion") or {}
        table.add_row(
            plan.name,
            _batch_label(plan),
            "-" if landed is None else f"{landed:.0f} s",
            (run or {}).get("name", "-"),
            _styled((run or {}).get("state")),
            _styled((run or {}).get("failure")),
            (run or {}).get("modelVersion", "-"),
            _styled(promotion.get("decision")),
        )
    return table


def serving_table(picture: Picture) -> Table:
    status = picture.serving
    table = Table(title="Serving", expand=True)
    for column in ("phase", "serving", "target", "available", "champion", "rollouts"):
        table.add_column(column)
    rollouts = ", ".join(
        f"{r.get('fromVersion', '∅')}→{r.get('toVersion')} {r.get('result')}"
        for r in reversed(status.get("rollouts") or ())
    )
    table.add_row(
        _styled(status.get("phase")),
        status.get("servingVersion", "-"),
        status.get("targetVersion", "-"),
        str(status.get("availableReplicas", 0)),
        picture.champion or "-",
        rollouts or "-",
    )
    return table


def traffic_table(picture: Picture) -> Table:
    table = Table(title="Traffic", expand=True)
    for column in ("requests", "req/s", "malformed", "predictions", "pred/s", "dead letters"):
        table.add_column(column)
    reasons = ", ".join(
        f"{reason} {count}" for reason, count in sorted(picture.dead_letters.items())
    )
    table.add_row(
        f"{picture.sent:,}",
        f"{picture.sent_rate:.1f}",
        f"{picture.malformed:,}",
        f"{picture.predicted:,}",
        f"{picture.predicted_rate:.1f}",
        f"{sum(picture.dead_letters.values()):,}" + (f" ({reasons})" if reasons else ""),
    )
    return table


def versions_table(picture: Picture) -> Table:
    table = Table(title="Per model version (live metrics: newest final window)", expand=True)
    for column in ("version", "predictions", "live RMSE", "live MAPE", "window count"):
        table.add_column(column)
    versions = sorted(set(picture.by_version) | set(picture.metrics), key=_version_key)
    for version in versions:
        metrics = picture.metrics.get(version)
        table.add_row(
            version,
            f"{picture.by_version.get(version, 0):,}",
            "-" if metrics is None else f"{metrics.rmse:,.0f}",
            "-" if metrics is None else f"{metrics.mape:.1%}",
            "-" if metrics is None else str(metrics.count),
        )
    return table


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)


def live(picture: Picture, progress: RenderableType, log_lines: int = 8) -> RenderableType:
    header = Text.assemble(
        ("Continuum demo", "bold"),
        f"  namespace {picture.scenario.namespace}  ·  {picture.elapsed_s:.0f} s",
    )
    log = Text("\n".join(picture.log[-log_lines:]) or "-")
    return Group(
        header,
        batches_table(picture),
        serving_table(picture),
        traffic_table(picture),
        versions_table(picture),
        progress,
        Panel(log, title="what happened", border_style="dim"),
    )


def summary(picture: Picture, reckoning: Reckoning, table: str) -> RenderableType:
    """The end: what each batch became, the versions, and the reckoning."""
    rows = Table(title="Reckoning: every request has exactly one answer", expand=True)
    for column in ("sent", "predicted", "dead-lettered", "lost", "duplicated", "unexpected"):
        rows.add_column(column)
    rows.add_row(
        f"{reckoning.sent:,}",
        f"{reckoning.predicted:,}",
        f"{reckoning.dead_lettered:,}",
        _count(reckoning.lost),
        _count(reckoning.duplicated),
        _count(reckoning.unexpected),
    )
    return Group(
        Text(f"Continuum demo: done in {picture.elapsed_s:.0f} s", style="bold"),
        batches_table(picture),
        serving_table(picture),
        versions_table(picture),
        rows,
        Panel(Text(table.rstrip()), title="kubectl get tp,sd", border_style="dim"),
    )


def _count(ids: Sequence[str]) -> Text:
    return Text(str(len(ids)), style="green" if not ids else "bold red")
