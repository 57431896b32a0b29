"""`continuum operator`: runs the operator (kopf underneath) in one namespace, several, or all.

kopf is imported when the command runs, so `continuum --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import sys
from dataclasses import dataclass

WEBHOOK_SECRET_ENV = "CONTINUUM_WEBHOOK_SECRET"


@dataclass(frozen=True)
class WebhookSettings:
    host: str
    port: int
    secret: str


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `operator` to the `continuum` parser's subcommands."""
    parser = commands.add_parser(
        "operator",
        help="run the Continuum operator",
        description="Runs the Continuum operator: reconciles TrainingPipelines (starts "
        "SparkApplications, applies the promotion gate in MLflow) and ServingDeployments (rolls "
        "the scorer forward to each new model version).",
    )
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="watch this namespace (repeatable; globs such as 'ml-*' are allowed)",
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    parser.add_argument(
        "--liveness",
        metavar="URL",
        help="serve the liveness endpoint, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve Prometheus metrics on this port (default: off)",
    )
    parser.add_argument(
        "--log-format", choices=("plain", "full", "json"), default="full", help="log line format"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument(
        "--standalone", action="store_true", help="no peering: act even if other replicas run"
    )
    peering.add_argument(
        "--peering",
        metavar="NAME",
        help="peering object to coordinate replicas through (default: 'default' if it exists)",
    )
    parser.add_argument(
        "--priority",
        type=int,
        # Replicas with equal priorities all pause; distinct random ones let exactly one act.
        default=random.randint(1, 1_000_000),
        help="peering priority: the highest-priority replica acts (default: random)",
    )
    parser.add_argument(
        "--webhdfs-url",
        default=os.environ.get("CONTINUUM_WEBHDFS_URL", ""),
        metavar="MAP",
        help="WebHDFS address for hdfs:// data URIs: one URL for all, or "
        "'namenode:8020=http://namenode:9870,...' per NameNode "
        "(default: $CONTINUUM_WEBHDFS_URL, else http://<namenode host>:9870)",
    )
    parser.add_argument(
        "--webhook-port",
        type=int,
        default=int(os.environ.get("CONTINUUM_WEBHOOK_PORT", "0")),
        metavar="PORT",
        help="serve the MLflow webhook endpoint on this port; the HMAC secret comes from "
        f"${WEBHOOK_SECRET_ENV} (default: $CONTINUUM_WEBHOOK_PORT, else off)",
    )
    parser.add_argument(
        "--webhook-host",
        default="0.0.0.0",
        metavar="ADDRESS",
        help="address the webhook endpoint listens on (default: all)",
    )
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    secret = os.environ.get(WEBHOOK_SECRET_ENV, "")
    webhook = (
        WebhookSettings(args.webhook_host, args.webhook_port, secret) if args.webhook_port else None
    )
    if webhook is not None and not secret:
        # Never an endpoint that would take unsigned calls: without a secret, polling only.
        print(
            f"continuum operator: no ${WEBHOOK_SECRET_ENV}: the webhook endpoint stays off, "
            "ServingDeployments poll the registry only",
            file=sys.stderr,
        )
        webhook = None
    # A down MLflow must fail a pass in seconds (the pipeline then backs off), not after the
    # client's default of 7 retries with exponential backoff.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")

    import kopf
    from prometheus_client import start_http_server

    from continuum_operator.core import vanished_kinds

    for kind in ("training", "serving"):  # registers the handlers
        importlib.import_module(f"continuum_operator.{kind}.handlers")
    vanished_kinds.install()
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat[args.log_format.upper()])
    if args.metrics_port:
        start_http_server(args.metrics_port)
    kopf.run(
        registry=kopf.get_default_registry(),
        clusterwide=args.all_namespaces,
        namespaces=args.namespaces or (),
        liveness_endpoint=args.liveness,
        standalone=args.standalone or None,
        peering_name=args.peering,
        priority=args.priority,
        memo=kopf.Memo(
            webhdfs_url=args.webhdfs_url,
            webhook=webhook,
        ),
    )
    return 0
