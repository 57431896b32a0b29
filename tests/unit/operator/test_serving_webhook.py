"""The MLflow webhook endpoint accepts what MLflow 3 signs, and nothing else: checked against
MLflow's own signing code, and over HTTP against the endpoint itself."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer
from mlflow.webhooks.delivery import _generate_hmac_signature

from continuum_operator.serving import webhook

SECRET = "s3cret"
# The parametrized headers are built at collection time; judging them at the same fixed instant
# keeps the replay window out of cases that are not about it, however late the test runs.
NOW = 1_800_000_000.0
BODY = json.dumps(
    {
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": "2026-03-02T12:00:00+00:00",
        "data": {"name": "used-car-price", "alias": "champion", "version": "4"},
    }
)


def signed(secret: str = SECRET, body: str = BODY, at: float | None = None) -> dict[str, str]:
    """Headers as MLflow sends them, signed by MLflow's own function."""
    timestamp = str(int(time.time() if at is None else at))
    delivery = "0d3f6a1e-1111-4d2a-9a55-2c6f0e8b1d77"
    return {
        webhook.DELIVERY_ID_HEADER: delivery,
        webhook.TIMESTAMP_HEADER: timestamp,
        webhook.SIGNATURE_HEADER: _generate_hmac_signature(secret, delivery, timestamp, body),
    }


def test_a_delivery_signed_by_mlflow_is_accepted() -> None:
    assert webhook.rejection(SECRET, signed(), BODY.encode(), time.time()) is None


@pytest.mark.parametrize(
    ("headers", "body", "why"),
    [
        (signed(secret="other", at=NOW), BODY, "does not match"),
        (signed(at=NOW), BODY.replace('"4"', '"5"'), "does not match"),
        (signed(at=NOW - 3600), BODY, "replay window"),
        ({}, BODY, "unsigned"),
        ({**signed(at=NOW), webhook.TIMESTAMP_HEADER: "soon"}, BODY, "malformed timestamp"),
    ],
    ids=["wrong-secret", "altered-body", "stale", "unsigned", "bad-timestamp"],
)
def test_anything_else_is_refused_saying_why(headers: dict, body: str, why: str) -> None:
    assert why in (webhook.rejection(SECRET, headers, body.encode(), NOW) or "")


def test_the_endpoint_refreshes_the_model_named_only_for_signed_calls() -> None:
    refreshed: list[str] = []

    def refresh(model: str) -> int:
        refreshed.append(model)
        return 2

    async def exchange() -> list[tuple[int, dict]]:
        app = webhook.application(SECRET, refresh)
        async with TestClient(TestServer(app)) as client:
            answers = []
            for headers in (signed(secret="forged"), {}, signed()):
                response = await client.post(webhook.PATH, data=BODY, headers=headers)
                answers.append((response.status, await response.json()))
            return answers

    forged, unsigned, genuine = asyncio.run(exchange())

    assert forged[0] == 401 and "does not match" in forged[1]["error"]
    assert unsigned[0] == 401
    assert genuine == (200, {"model": "used-car-price", "followed": 2})
    assert refreshed == ["used-car-price"]
