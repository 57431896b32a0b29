"""The kopf handlers of ServingDeployments: thin wiring around
`reconcile.ServingDeploymentController`, the shared loop (`core.loop`), the model followers'
poll task and the MLflow webhook endpoint.

Watchers wake a ServingDeployment's loop: a new generation of its spec, and any change of its
scorer's Deployment (a rollout progressing, completing or stalling). The followers wake it when
the registry's word on its model changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf
from aiohttp import web

from continuum_operator.adapters.registry import ModelSnapshot, registry_for
from continuum_operator.core import api, loop
from continuum_operator.core.api import Kind
from continuum_operator.serving import webhook
from continuum_operator.serving.children import SERVING_LABEL
from continuum_operator.serving.follow import ModelFollowers, ModelKey
from continuum_operator.serving.reconcile import ServingDeploymentController

_KIND = Kind.SERVING_DEPLOYMENT


def _controller(memo: kopf.Memo) -> ServingDeploymentController:
    def fetch(key: ModelKey) -> ModelSnapshot:
        return registry_for(key.tracking_uri, key.credentials).model_snapshot(key.model)

    memo.followers = ModelFollowers(
        fetch,
        wake=lambda follower: loop.wake(memo, _KIND, *follower),
        alive=lambda follower: (_KIND, *follower) in memo.wakeups,
    )
    return ServingDeploymentController(memo.kube, memo.followers, registry_for)


loop.register(_KIND, _controller)
loop.daemon(_KIND)


@kopf.on.startup(id="serving")
async def start(memo: kopf.Memo, logger: logging.Logger, **_: Any) -> None:
    """The followers' poll task; the webhook endpoint when a port and a secret are given."""
    memo.follow_task = asyncio.create_task(memo.followers.run())
    settings = memo.get("webhook")
    memo.webhook_runner = None
    if settings and settings.port:
        runner = web.AppRunner(
            webhook.application(settings.secret, memo.followers.refresh), access_log=None
        )
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        memo.webhook_runner = runner
        logger.info(f"MLflow webhook endpoint on {settings.host}:{settings.port}{webhook.PATH}")


@kopf.on.cleanup(id="serving")
async def stop(memo: kopf.Memo, **_: Any) -> None:
    memo.follow_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await memo.follow_task
    if memo.webhook_runner is not None:
        await memo.webhook_runner.cleanup()


@kopf.on.event(api.GROUP, api.VERSION, api.SERVING_DEPLOYMENTS)
async def serving_deployment_changed(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    # Its own status writes leave the generation alone: no pass for them. A deletion wakes the
    # loop so that it ends now.
    observed = (body.get("status") or {}).get("observedGeneration")
    if type == "DELETED" or body.metadata.get("generation") != observed:
        loop.wake(memo, _KIND, body.metadata.namespace, body.metadata.name)


@kopf.on.event(
    "apps",
    "v1",
    "deployments",
    labels={api.MANAGED_BY_LABEL: api.MANAGED_BY, SERVING_LABEL: kopf.PRESENT},
)
async def scorer_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    for owner in body.metadata.get("ownerReferences") or ():
        if owner.get("kind") == _KIND:
            loop.wake(memo, _KIND, body.metadata.namespace, owner["name"])
