"""Splits a listings CSV into a test part and N train batches, as a source that periodically
dumps a new batch would deliver them: `batch-0001/part-00000.csv` + `_SUCCESS`, and so on.

One streaming pass over the input (records may span lines; Python's csv module keeps them whole
and writes them back in the same dialect). Each record goes to the test part with probability
`test_fraction` (a seeded draw, so a split is reproducible); train records are dealt to the
batches round-robin, so batch sizes differ by at most one and every batch is a like sample.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress

from continuum_workloads.dataset.storage import LocalStore, join, open_store

PART_FILE = "part-00000.csv"
TEST_TARGET = -1
_BLOCK_ROWS = 10_000


def batch_name(number: int) -> str:
    """The directory of batch `number`, counted from 1."""
    return f"batch-{number:04d}"


def assign(is_test: np.ndarray, train_before: int, batches: int) -> np.ndarray:
    """The target of each record: TEST_TARGET, or a batch index from 0. Train records are dealt
    round-robin, continuing after the `train_before` train records of earlier blocks."""
    train_position = train_before + np.cumsum(~is_test) - 1
    return np.where(is_test, TEST_TARGET, train_position % batches)


@dataclass(frozen=True)
class SplitResult:
    test_rows: int
    batch_rows: tuple[int, ...]
    destinations: tuple[str, ...]  # test part first, then the batches


def _blocks(reader: Iterator[list[str]]) -> Iterator[list[list[str]]]:
    return iter(lambda: list(islice(reader, _BLOCK_ROWS)), [])


def split_csv(
    source: Path,
    out: str,
    batches: int,
    test_fraction: float,
    seed: int = 0,
    every: float = 0.0,
    test_out: str | None = None,
    webhdfs_url: str | None = None,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SplitResult:
    """Writes the test part to `test_out` (default `<out>-test`: beside the batches, never among
    them, so a pipeline watching `out` cannot train on it), then batch after batch to `out`,
    waiting `every` seconds between batches. Refuses to overwrite existing destinations."""
    if batches < 1:
        raise ValueError("batches must be at least 1")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("test fraction must be in [0, 1)")
    if every < 0:
        raise ValueError("the interval must not be negative")
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file")
    console = console or Console(stderr=True)
    store, root = open_store(out, webhdfs_url)
    test_store, test_path = open_store(test_out or out.rstrip("/") + "-test", webhdfs_url)
    paths = [join(root, batch_name(number)) for number in range(1, batches + 1)]
    taken = [p for p in paths if store.exists(p)]
    if test_store.exists(test_path):
        taken.append(test_path)
    if taken:
        raise FileExistsError(f"already present, not overwritten: {', '.join(taken)}")

    # Local output is staged beside its destination, so publishing is a rename.
    staging_parent = Path(root) if isinstance(store, LocalStore) else None
    if staging_parent is not None:
        staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".continuum-split-", dir=staging_parent) as tmp:
        staging = Path(tmp)
        counts = _stage(source, staging, batches, test_fraction, seed, console)
        console.print(f"test part: {counts[TEST_TARGET]:,} rows → {test_path}")
        test_store.publish(staging / "test", test_path)
        for index, path in enumerate(paths):
            if index and every:
                console.print(f"next batch in {every:g} s")
                sleep(every)
            store.publish(staging / batch_name(index + 1), path)
            console.print(f"{batch_name(index + 1)}: {counts[index]:,} rows → {path}")
    return SplitResult(
        test_rows=counts[TEST_TARGET],
        batch_rows=tuple(counts[index] for index in range(batches)),
        destinations=(test_path, *paths),
    )


def _stage(
    source: Path,
    staging: Path,
    batches: int,
    test_fraction: float,
    seed: int,
    console: Console,
) -> dict[int, int]:
    """Writes every target's part file under `staging`; returns the record count per target."""
    names = {TEST_TARGET: "test"} | {index: batch_name(index + 1) for index in range(batches)}
    counts = dict.fromkeys(names, 0)
    rng = np.random.default_rng(seed)
    train_before = 0
    with ExitStack() as files, Progress(console=console, transient=True) as progress:
        writers = {}
        for target, name in names.items():
            (staging / name).mkdir()
            handle = files.enter_context(
                (staging / name / PART_FILE).open("w", encoding="utf-8", newline="")
            )
            writers[target] = csv.writer(handle, lineterminator="\n")
        with progress.open(source, "r", encoding="utf-8", newline="", description="splitting") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise ValueError(f"{source}: empty file, no header")
            for writer in writers.values():
                writer.writerow(header)
            for block in _blocks(reader):
                targets = assign(rng.random(len(block)) < test_fraction, train_before, batches)
                for record, target in zip(block, targets.tolist(), strict=True):
                    writers[target].writerow(record)
                    counts[target] += 1
                train_before += int(np.count_nonzero(targets != TEST_TARGET))
    return counts
