"""The `continuum` command line: one entry point, one subcommand per capability."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version

from continuum_workloads.dataset import cli as data_cli

from continuum_operator import main as operator_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="continuum",
        description="Continuous machine learning on Kubernetes with Spark, MLflow and Kafka.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('continuum')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_cli.register(commands)
    operator_cli.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
