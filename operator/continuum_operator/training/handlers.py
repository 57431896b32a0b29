"""The kopf handlers of TrainingPipelines: thin wiring around `reconcile.TrainingPipelineController`
and the shared loop (`core.loop`).

Watchers wake a pipeline's loop: a changed spec or retrain annotation, its deletion, any change of
one of its SparkApplications (state changes included), and the SparkApplication CRD appearing or
going.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf

from continuum_operator.adapters.datasource import DataSourceLister, parse_webhdfs_map
from continuum_operator.adapters.registry import registry_for
from continuum_operator.core import api, loop
from continuum_operator.core.api import Kind
from continuum_operator.training.reconcile import TrainingPipelineController, asks_for_pass

WEBHDFS_ENV = "CONTINUUM_WEBHDFS_URL"


def _controller(memo: kopf.Memo) -> TrainingPipelineController:
    # The WebHDFS client logs every listing at INFO: one line per pipeline per poll.
    logging.getLogger("hdfs").setLevel(logging.WARNING)
    return TrainingPipelineController(
        memo.kube,
        DataSourceLister(
            parse_webhdfs_map(memo.get("webhdfs_url") or os.environ.get(WEBHDFS_ENV, "")),
            os.environ.get("HADOOP_USER_NAME"),
        ),
        registry_for,
    )


loop.register(Kind.TRAINING_PIPELINE, _controller)
loop.daemon(Kind.TRAINING_PIPELINE)


@kopf.on.event(api.GROUP, api.VERSION, api.TRAINING_PIPELINES)
async def pipeline_changed(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    # A deletion wakes the loop too, so that it ends now rather than at its next poll.
    if type == "DELETED" or asks_for_pass(body):
        loop.wake(memo, Kind.TRAINING_PIPELINE, body.metadata.namespace, body.metadata.name)


@kopf.on.event(
    api.SPARK_GROUP,
    api.SPARK_VERSION,
    api.SPARK_APPLICATIONS,
    labels={api.MANAGED_BY_LABEL: api.MANAGED_BY},
)
async def spark_application_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    for owner in body.metadata.get("ownerReferences") or ():
        if owner.get("kind") == Kind.TRAINING_PIPELINE:
            loop.wake(memo, Kind.TRAINING_PIPELINE, body.metadata.namespace, owner["name"])


@kopf.on.event(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    when=lambda name, **_: name == api.SPARK_APPLICATIONS_CRD,
)
async def spark_operator_changed(memo: kopf.Memo, **_: Any) -> None:
    """The spark-operator's CRD installed, changed or removed: every pipeline looks now rather
    than after its backoff, so installing the spark-operator takes effect at once."""
    loop.wake_all(memo, Kind.TRAINING_PIPELINE)
