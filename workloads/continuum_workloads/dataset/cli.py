"""`continuum data …`: generate synthetic listings, split a listings file into batches.

Heavy imports (numpy, pandas, hdfs) happen when a command runs, so `continuum --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `data` and its actions to the `continuum` parser's subcommands."""
    data = commands.add_parser("data", help="generate and split used-car listings")
    data.set_defaults(run=_run)
    actions = data.add_subparsers(dest="action", metavar="ACTION", required=True)

    generate = actions.add_parser(
        "generate",
        help="write synthetic listings in the published used_cars_data.csv format",
        description="Writes synthetic listings in the published used_cars_data.csv format. "
        "The same rows and seed give a byte-identical file.",
    )
    generate.add_argument("--rows", type=_positive, required=True, help="number of listings")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument("--out", type=Path, required=True, help="CSV file to write")
    generate.set_defaults(perform=_generate)

    split = actions.add_parser(
        "split",
        help="split a listings CSV into a test part and train batches",
        description="Splits a listings CSV into a test part and N train batches "
        "(batch-0001/, … each with a _SUCCESS marker written last) under a local path, "
        "file://, hdfs:// or webhdfs:// URI; all at once or one every SECONDS.",
    )
    split.add_argument("--input", type=Path, required=True, help="listings CSV to split")
    split.add_argument("--out", required=True, help="directory URI that receives the batches")
    split.add_argument("--batches", type=_positive, required=True, help="number of batches")
    split.add_argument(
        "--test-fraction", type=_fraction, default=0.2, help="share held out (default 0.2)"
    )
    split.add_argument(
        "--every", type=_seconds, default=0.0, metavar="SECONDS", help="wait between batches"
    )
    split.add_argument("--seed", type=int, default=0, help="random seed of the test draw")
    split.add_argument("--test-out", help="where the test part goes (default: OUT-test)")
    split.add_argument(
        "--webhdfs", help="NameNode HTTP address for hdfs:// URIs (default $WEBHDFS_URI)"
    )
    split.set_defaults(perform=_split)


def _run(args: argparse.Namespace) -> int:
    """Runs the chosen action; a bad path, URI or input is a one-line error, not a traceback."""
    try:
        return args.perform(args)
    except ModuleNotFoundError as error:
        print(
            f"continuum data {args.action}: needs {error.name}, which comes with Continuum's "
            "workloads extra: pip install 'continuum[workloads]'",
            file=sys.stderr,
        )
        return 1
    except (OSError, ValueError) as error:
        print(f"continuum data {args.action}: {error}", file=sys.stderr)
        return 1


def _generate(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from continuum_workloads.dataset.generator import write_csv

    with Progress(transient=True) as progress:
        task = progress.add_task("generating", total=args.rows)
        write_csv(args.out, args.rows, args.seed, on_chunk=lambda n: progress.advance(task, n))
    print(f"{args.rows:,} listings (seed {args.seed}) → {args.out}")
    return 0


def _split(args: argparse.Namespace) -> int:
    from continuum_workloads.dataset.split import split_csv

    result = split_csv(
        args.input,
        args.out,
        batches=args.batches,
        test_fraction=args.test_fraction,
        seed=args.seed,
        every=args.every,
        test_out=args.test_out,
        webhdfs_url=args.webhdfs,
    )
    print(
        f"{sum(result.batch_rows):,} train rows in {len(result.batch_rows)} batches, "
        f"{result.test_rows:,} test rows"
    )
    return 0
