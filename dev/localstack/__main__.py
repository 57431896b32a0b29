"""`python -m localstack up|down|status|env|fetch`: the local stack from the command line."""

from __future__ import annotations

import argparse
import sys

from localstack import images, stack
from localstack.artifacts import ensure_all
from localstack.config import StackConfig
from localstack.errors import StackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localstack", description=__doc__)
    parser.add_argument(
        "command", choices=["up", "down", "status", "env", "fetch", "images", "spark-jars"]
    )
    parser.add_argument("images", nargs="*", help="images: which to build (default: all)")
    args = parser.parse_args(argv)
    try:
        config = StackConfig.from_env()
        if args.command == "up":
            stack.up(config)
        elif args.command == "down":
            stack.down(config)
        elif args.command == "fetch":
            ensure_all(config)
        elif args.command == "images":
            if config.real_node:
                images.build_and_load(config, args.images or None)
            else:
                print("localstack: no real node (CONTINUUM_REAL_NODE=0): images not built")
        elif args.command == "spark-jars":
            print(images.stage_spark_jars(config))
        elif args.command == "env":
            print("\n".join(stack.env_lines(config)))
        else:
            rows = stack.status(config)
            for name, running, reason in rows:
                state = "running" if running else "stopped"
                health = "healthy" if reason is None else f"unhealthy: {reason}"
                print(f"{name:<12} {state:<8} {health}")
            print(f"{'real node':<21} {stack.node_description(config)}")
            return 0 if all(reason is None for _, _, reason in rows) else 1
    except (StackError, ValueError) as error:
        print(f"localstack: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
