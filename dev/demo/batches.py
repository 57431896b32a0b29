"""The batches the demo lands on HDFS: generated listings in the published format, their prices
moved by the market's drift, or (the bad batch) without the price column, as a broken export
would deliver them. Each is staged locally and published with its completion marker last."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from continuum_workloads.dataset.generator import generate_chunks
from continuum_workloads.dataset.schema import TARGET
from continuum_workloads.dataset.split import PART_FILE
from continuum_workloads.dataset.storage import Store, join
from demo.scenario import BatchPlan


def drifted(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    """The listings with every stated price times `factor` (blank prices stay blank)."""
    prices = pd.to_numeric(frame[TARGET].replace("", None), errors="coerce")
    moved = (prices * factor).map(lambda price: "" if pd.isna(price) else f"{price:.1f}")
    return frame.assign(**{TARGET: moved})


def listings(plan: BatchPlan) -> pd.DataFrame:
    """The batch's listings as text columns in the published order."""
    frame = pd.concat(list(generate_chunks(plan.rows, seed=plan.seed)), ignore_index=True)
    if plan.bad:
        return frame.drop(columns=[TARGET])
    return drifted(frame, plan.drift)


def land(plan: BatchPlan, store: Store, incoming: str) -> str:
    """Publishes the batch under `incoming` (its marker last); returns its path."""
    path = join(incoming, plan.name)
    with tempfile.TemporaryDirectory(prefix="continuum-demo-") as staging:
        staged = Path(staging) / plan.name
        staged.mkdir()
        listings(plan).to_csv(staged / PART_FILE, index=False, lineterminator="\n")
        store.publish(staged, path)
    return path
