"""A watch (re)opened on a kind whose CRD is gone ends quietly instead of ending the operator."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kopf._cogs.clients import errors, watching

from continuum_operator.core import vanished_kinds


def stream(*events: Any, then: BaseException | None = None) -> Any:
    async def watch_objs(**_: Any) -> AsyncIterator[Any]:
        for event in events:
            yield event
        if then is not None:
            raise then

    return watch_objs


def read(watch_objs: Any) -> list[Any]:
    async def collect() -> list[Any]:
        return [event async for event in watch_objs(resource="sparkapplications")]

    return asyncio.run(collect())


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vanished_kinds, "RETRY_PAUSE_S", 0.0)


def test_a_404_ends_the_stream_after_what_it_delivered() -> None:
    gone = errors.APINotFoundError("404 page not found", status=404, headers={})
    watch = vanished_kinds.tolerating_a_vanished_kind(stream("a", "b", then=gone))

    assert read(watch) == ["a", "b"]


def test_a_kind_going_and_coming_back_is_said_once_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=vanished_kinds.__name__)
    gone = errors.APINotFoundError("404 page not found", status=404, headers={})
    tries = iter([stream(then=gone), stream(then=gone), stream("back")])
    watch = vanished_kinds.tolerating_a_vanished_kind(lambda **kw: next(tries)(**kw))

    assert [read(watch), read(watch), read(watch)] == [[], [], ["back"]]
    said = [record.getMessage() for record in caplog.records]
    assert said == [
        "sparkapplications is not served (its CRD is gone): trying its watch again every 0 s",
        "sparkapplications is served again: watching it",
    ]


def test_other_watch_errors_still_reach_kopf() -> None:
    refused = errors.APIForbiddenError("forbidden", status=403, headers={})
    watch = vanished_kinds.tolerating_a_vanished_kind(stream("a", then=refused))

    with pytest.raises(errors.APIForbiddenError):
        read(watch)


def test_installed_kopfs_watch_request_outlives_a_404(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = errors.APINotFoundError("404 page not found", status=404, headers={})
    monkeypatch.setattr(watching, "watch_objs", stream("a", then=gone))

    vanished_kinds.install()

    assert read(watching.watch_objs) == ["a"]
