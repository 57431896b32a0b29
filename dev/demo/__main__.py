"""`make demo` (`PYTHONPATH=dev python -m demo`): the whole loop on the local stack.

Starts the stack (with its real node) and loads the images unless `--running-stack`, deploys the
operator as a pod in the demo's namespace, applies the used-cars TrainingPipeline and
ServingDeployment, then plays the world: batches land on HDFS (one of them bad), requests and
feedback flow to Kafka throughout. A live view follows; a summary and the reckoning of every
request close it. Exit 0 when the loop did what it promised.
"""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console

from demo import view
from demo.cluster import DemoError
from demo.play import Demo, Outcome, problems
from demo.scenario import DEMO, E2E, Scenario
from localstack import images, stack
from localstack.config import StackConfig
from localstack.errors import StackError


def look_around(scenario: Scenario, env: dict[str, str]) -> str:
    names = scenario.names
    kafka = env["KAFKA_BOOTSTRAP_SERVERS"]
    return f"""Everything keeps running. To look around:
  eval "$(make -s stack-env)"
  kubectl get tp,sd -n {names.namespace} -o wide
  kubectl describe tp {names.pipeline} -n {names.namespace}     # conditions and Events
  kubectl get pods -n {names.namespace}
  kubectl logs -n {names.namespace} deploy/continuum-operator
  MLflow UI: {env["MLFLOW_TRACKING_URI"]}  (model {names.registered_model})
  topics on {kafka}: {", ".join(names.topics.values())}
  scorer /metrics: kubectl port-forward -n {names.namespace} deploy/{names.serving}-scorer 8080 &
                   curl -s localhost:8080/metrics | grep continuum_serving
  batches: {env["WEBHDFS_URI"]}/webhdfs/v1{names.incoming}?op=LISTSTATUS
The next `make demo` starts from a clean state; `make stack-down` stops the stack."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave everything running at the end")
    parser.add_argument(
        "--short", action="store_true", help="the end-to-end test's shorter scenario"
    )
    parser.add_argument(
        "--running-stack",
        action="store_true",
        help="use the stack as it runs, with the images its node holds: start and build nothing",
    )
    args = parser.parse_args(argv)
    console = Console()
    scenario = E2E if args.short else DEMO
    try:
        config = StackConfig.from_env()
        if not config.real_node:
            raise StackError(
                "the demo runs its operator and scorer as pods: it needs the real node "
                "(unset CONTINUUM_REAL_NODE)"
            )
        if not args.running_stack:
            stack.up(config)
            images.build_and_load(config)
        env = config.client_env()
        os.environ.update(env)  # kubectl, and the clients the demo makes
        outcome: Outcome = Demo(scenario, env, console, live=console.is_terminal).run(args.keep)
    except (StackError, DemoError) as error:
        console.print(f"demo: {error}", style="red", highlight=False)
        return 2
    except KeyboardInterrupt:
        return 130
    console.print(view.summary(outcome.picture, outcome.reckoning, outcome.table))
    console.print(f"peak memory in use on this machine: {outcome.peak_memory_mib:,.0f} MiB")
    if args.keep:
        console.print(look_around(scenario, env), highlight=False)
    found = problems(outcome)
    for problem in found:
        console.print(f"demo: {problem}", style="bold red", highlight=False)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
