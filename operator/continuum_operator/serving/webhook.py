"""The MLflow webhook endpoint: MLflow tells the operator at once that a model changed, instead of
at the next poll.

MLflow 3 signs each delivery when the webhook has a secret: header `X-MLflow-Signature` is
`v1,<base64 HMAC-SHA256(secret, "<delivery id>.<timestamp>.<raw body>")>`, with the id and the
Unix timestamp in `X-MLflow-Delivery-Id` and `X-MLflow-Timestamp`. A call that is unsigned,
wrongly signed, or signed more than five minutes away from now is refused with 401 and logged;
nothing else happens. A verified call only asks for an early poll of the model it names
(`ModelFollowers.refresh`): what to serve is always read from the registry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import Counter

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300
PATH = "/mlflow/webhook"
EVENTS = ("model_version.created", "model_version_alias.created", "model_version_alias.deleted")
"""What `continuum webhook register` subscribes to: what can change a ServingDeployment's
target. Moving an alias emits `model_version_alias.created`."""

DELIVERIES = Counter(
    "continuum_webhook_deliveries_total",
    "MLflow webhook calls, by outcome: accepted (signed, fresh) or rejected",
    ["outcome"],
)

_logger = logging.getLogger(__name__)


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def rejection(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """Why the call must be refused, or None when it is signed by `secret` and fresh."""
    given = headers.get(SIGNATURE_HEADER)
    delivery_id = headers.get(DELIVERY_ID_HEADER)
    timestamp = headers.get(TIMESTAMP_HEADER)
    if not given or not delivery_id or not timestamp:
        return "unsigned: signature, delivery id or timestamp header missing"
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return f"malformed timestamp {timestamp[:40]!r}"
    if age > TOLERANCE_SECONDS:
        return f"timestamp {age:.0f} s away from now (replay window {TOLERANCE_SECONDS} s)"
    if not hmac.compare_digest(signature(secret, delivery_id, timestamp, body), given):
        return "signature does not match"
    return None


def model_named(payload: Mapping[str, Any]) -> str | None:
    """The registered model a delivery is about: every model event's data names it."""
    data = payload.get("data")
    name = data.get("name") if isinstance(data, Mapping) else None
    return name if isinstance(name, str) and name else None


def application(secret: str, refresh: Callable[[str], int]) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        refused = rejection(secret, request.headers, body, time.time())
        if refused is not None:
            DELIVERIES.labels("rejected").inc()
            _logger.warning("refused an MLflow webhook call from %s: %s", request.remote, refused)
            return web.json_response({"error": refused}, status=401)
        DELIVERIES.labels("accepted").inc()
        try:
            model = model_named(json.loads(body))
        except ValueError:
            model = None
        followed = refresh(model) if model else 0
        return web.json_response({"model": model, "followed": followed})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(PATH, receive)
    return app
