"""Bring the whole stack up, down, or report on it; the API behind the CLI and the test fixtures."""

from __future__ import annotations

import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from localstack.artifacts import ensure_all
from localstack.components import Component, Hdfs, Kafka, Mlflow, SparkOperatorStandIn
from localstack.config import StackConfig
from localstack.errors import StackError
from localstack.kubernetes import Kubernetes
from localstack.node import RealNode, missing_prerequisites
from localstack.process import tail, wait_for

HEALTH_TIMEOUT_S = 120.0


def components(config: StackConfig) -> list[Component]:
    # Start order: the JVMs and MLflow start in the background first; kwokctl blocks until the
    # control plane is up, overlapping with their start-up; the stand-in needs the API server.
    # The real node joins the running control plane; it is stopped before it.
    node: list[Component] = [RealNode(config)] if config.real_node else []
    return [
        Kafka(config),
        Hdfs(config),
        Mlflow(config),
        Kubernetes(config),
        *node,
        SparkOperatorStandIn(config),
    ]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def up(config: StackConfig) -> list[str]:
    """Start every component not already healthy; wait until all are. Returns those started."""
    began = time.monotonic()
    ensure_all(config)
    if config.real_node and (problems := missing_prerequisites()):
        # Before anything starts: what the host lacks, and what to do, or how to do without.
        raise StackError(
            "the host cannot run the real node: "
            + "; ".join(problems)
            + " (or run fake nodes only: CONTINUUM_REAL_NODE=0)"
        )
    config.stack_dir.mkdir(parents=True, exist_ok=True)
    everything = components(config)
    started: list[Component] = []
    for component in everything:
        if component.health() is None:
            continue
        if not component.running():
            component.check_ports_free()
        # A partly running component (one HDFS daemon crashed, say) gets its missing parts.
        say(f"starting {component.name}")
        component.start()
        started.append(component)
    with ThreadPoolExecutor(max_workers=len(everything)) as pool:
        outcomes = pool.map(lambda c: wait_for(c.health, HEALTH_TIMEOUT_S), everything)
        reasons = dict(zip(everything, outcomes, strict=True))
    failed = {c: r for c, r in reasons.items() if r is not None}
    for component, reason in failed.items():
        say(f"{component.name} is unhealthy: {reason}")
        for log in component.logs():
            say(f"--- last lines of {log}\n{tail(log)}")
    if failed:
        names = ", ".join(c.name for c in failed)
        raise StackError(
            f"the stack is not healthy: {names} (logs above; `make stack-down` stops it)"
        )
    write_env_file(config)
    say(f'stack ready in {time.monotonic() - began:.0f} s; `eval "$(make -s stack-env)"` to use it')
    return [c.name for c in started]


def down(config: StackConfig) -> None:
    """Stop every component, whatever state each is in; one failure never stops the rest."""
    errors = []
    for component in reversed(components(config)):
        try:
            if component.running():
                say(f"stopping {component.name}")
            component.stop()
        except Exception as error:  # keep stopping the others, report at the end
            errors.append(f"{component.name}: {error}")
    if errors:
        raise StackError("some components did not stop cleanly: " + "; ".join(errors))


def status(config: StackConfig) -> list[tuple[str, bool, str | None]]:
    """(component, running, None if healthy else why not) for each component."""
    return [(c.name, c.running(), c.health()) for c in components(config)]


def node_description(config: StackConfig) -> str:
    """The real node and its runtime, or why there is none."""
    if not config.real_node:
        return "no real node (CONTINUUM_REAL_NODE=0): pods run on kwok's fake nodes only"
    return RealNode(config).describe()


def env_lines(config: StackConfig) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in config.client_env().items()]


def write_env_file(config: StackConfig) -> None:
    (config.stack_dir / "env.sh").write_text("\n".join(env_lines(config)) + "\n")
