"""`continuum simulate`: scoring requests and delayed feedback for a ServingDeployment's topics."""

from __future__ import annotations

import argparse
import sys


def _duration_s(text: str) -> float:
    from continuum_workloads.serving.session import duration_ms

    try:
        return duration_ms(text) / 1000
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    simulate = commands.add_parser(
        "simulate",
        help="send scoring requests (some malformed) and, later, feedback with the true price",
        description="Sends generated listings as scoring requests to Kafka at a steady rate, "
        "a share of them malformed, and each valid one's price as feedback after a delay.",
    )
    add = simulate.add_argument
    add("--bootstrap-servers", required=True)
    add("--requests-topic", required=True)
    add("--feedback-topic", help="where feedback goes; none without it")
    add("--rate", type=_rate, default=50.0, help="requests per second (default 50)")
    add("--duration", type=_duration_s, default=60.0, help="how long to send, e.g. 90s, 5m")
    add("--feedback-delay", type=_duration_s, default=30.0, help="e.g. 30s (default)")
    add("--malformed", type=_share, default=0.02, help="share of malformed requests")
    add("--seed", type=int, default=0)
    simulate.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from confluent_kafka import Producer

    from continuum_workloads.simulators.traffic import requests, simulate

    producer = Producer({"bootstrap.servers": args.bootstrap_servers, "enable.idempotence": True})
    sent, answered = simulate(
        producer, args.requests_topic, args.feedback_topic, args.rate, args.duration,
        args.feedback_delay, requests(args.seed, args.malformed),
    )  # fmt: skip
    print(f"sent {sent} requests and {answered} feedback records", file=sys.stderr)
    return 0
