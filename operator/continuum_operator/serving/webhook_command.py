"""`continuum webhook register`: registers (or updates) the operator's endpoint as an MLflow
webhook, so ServingDeployments learn of new versions and moved aliases at once.

The HMAC secret is read from $CONTINUUM_WEBHOOK_SECRET, the same variable the operator reads, and
never from the command line (where `ps` and shell history would show it). Running it again with
the same name updates the webhook in place: a new URL, events or secret.
"""

from __future__ import annotations

import argparse
import os
import sys

from continuum_operator.main import WEBHOOK_SECRET_ENV
from continuum_operator.serving.webhook import EVENTS, PATH

DEFAULT_NAME = "continuum-operator"


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `webhook` to the `continuum` parser's subcommands."""
    parser = commands.add_parser("webhook", help="the operator's MLflow webhook")
    actions = parser.add_subparsers(dest="webhook_action", metavar="ACTION", required=True)
    register_parser = actions.add_parser(
        "register",
        help="register the operator's endpoint with an MLflow tracking server",
        description=__doc__.split("\n\n")[0],
    )
    register_parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI"),
        required="MLFLOW_TRACKING_URI" not in os.environ,
        help="the MLflow tracking server (default: $MLFLOW_TRACKING_URI)",
    )
    register_parser.add_argument(
        "--url",
        required=True,
        help=f"the operator's endpoint as MLflow reaches it, such as "
        f"http://continuum-operator.continuum-system:8090{PATH}",
    )
    register_parser.add_argument(
        "--name", default=DEFAULT_NAME, help=f"the webhook's name (default: {DEFAULT_NAME})"
    )
    register_parser.set_defaults(run=_register)


def _register(args: argparse.Namespace) -> int:
    secret = os.environ.get(WEBHOOK_SECRET_ENV)
    if not secret:
        print(f"continuum webhook register: set ${WEBHOOK_SECRET_ENV} first", file=sys.stderr)
        return 2
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=args.tracking_uri)
    try:
        existing = next((hook for hook in _webhooks(client) if hook.name == args.name), None)
        if existing is None:
            hook = client.create_webhook(
                name=args.name,
                url=args.url,
                events=list(EVENTS),
                description="Continuum: ServingDeployments follow model versions and aliases",
                secret=secret,
            )
            done = "registered"
        else:
            hook = client.update_webhook(
                existing.webhook_id,
                url=args.url,
                events=list(EVENTS),
                secret=secret,
                status="ACTIVE",
            )
            done = "updated"
    except MlflowException as error:
        print(f"continuum webhook register: {error.message}", file=sys.stderr)
        return 1
    print(f"{done} webhook {hook.name} ({hook.webhook_id}): {args.url} for {', '.join(EVENTS)}")
    return 0


def _webhooks(client: object) -> list:
    found: list = []
    token = None
    while True:
        page = client.list_webhooks(page_token=token)  # type: ignore[attr-defined]
        found.extend(page)
        token = page.token
        if not token:
            return found
