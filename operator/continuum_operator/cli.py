"""The `continuum` command line: one entry point, one subcommand per capability.

Subcommands are plugins: each package registers its own under the `continuum.commands` entry-point
group (pyproject.toml), so the command line imports neither the operator nor the workloads until a
command asks for it, and neither package imports the other to offer its commands.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points, version

COMMANDS_GROUP = "continuum.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="continuum",
        description="Continuous machine learning on Kubernetes with Spark, MLflow and Kafka.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('continuum')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in sorted(entry_points(group=COMMANDS_GROUP), key=lambda point: point.name):
        command.load()(commands)
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
