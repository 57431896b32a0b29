"""Following models: one poll per distinct model however many ServingDeployments follow it,
followers woken only when what the registry says changes, a webhook's refresh polls at once,
followers whose loop is gone are dropped. The registry here is a function returning snapshots."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from continuum_operator.adapters.registry import ModelSnapshot, NotFound, RegistryError
from continuum_operator.serving.follow import ModelFollowers, ModelKey

HOURLY = timedelta(hours=1)  # only first polls and refreshes happen within a test
A = ModelKey("http://mlflow", "a")
B = ModelKey("http://mlflow", "b")


class Registry:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.answers: dict[str, ModelSnapshot | RegistryError] = {
            "a": ModelSnapshot("a", {"champion": "1"}),
            "b": ModelSnapshot("b", {"champion": "9"}),
        }

    def fetch(self, key: ModelKey) -> ModelSnapshot:
        self.calls[key.model] += 1
        answer = self.answers[key.model]
        if isinstance(answer, RegistryError):
            raise answer
        return answer


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def test_many_followers_of_one_model_cost_one_poll_and_are_woken_on_change() -> None:
    registry = Registry()
    woken: list[tuple[str, str]] = []
    alive = {("ns", f"sd-{n}") for n in range(6)}

    async def scenario() -> None:
        followers = ModelFollowers(registry.fetch, woken.append, alive.__contains__)
        task = asyncio.create_task(followers.run())
        for n in range(5):
            assert followers.follow(("ns", f"sd-{n}"), A, HOURLY) is None  # not polled yet
        followers.follow(("ns", "sd-5"), B, HOURLY)
        await until(lambda: len(woken) == 6)
        assert registry.calls == {"a": 1, "b": 1}
        assert followers.follow(("ns", "sd-0"), A, HOURLY) == ModelSnapshot("a", {"champion": "1"})

        # A refresh with nothing changed polls once and wakes nobody.
        woken.clear()
        assert followers.refresh("a") == 1
        await until(lambda: registry.calls["a"] == 2)
        await asyncio.sleep(0.05)
        assert woken == []

        # The alias moved: the refresh wakes the five followers of `a`, not the one of `b`.
        registry.answers["a"] = ModelSnapshot("a", {"champion": "2"})
        followers.refresh("a")
        await until(lambda: len(woken) == 5)
        assert sorted(woken) == [("ns", f"sd-{n}") for n in range(5)]
        assert registry.calls == {"a": 3, "b": 1}
        assert followers.refresh("unknown") == 0
        task.cancel()

    asyncio.run(scenario())


def test_an_unknown_model_and_a_failing_registry_are_what_followers_read() -> None:
    registry = Registry()
    registry.answers["a"] = NotFound("no model a")
    registry.answers["b"] = RegistryError("connection refused")
    woken: list[tuple[str, str]] = []

    async def scenario() -> None:
        followers = ModelFollowers(registry.fetch, woken.append, lambda _: True)
        task = asyncio.create_task(followers.run())
        followers.follow(("ns", "x"), A, HOURLY)
        followers.follow(("ns", "y"), B, HOURLY)
        await until(lambda: len(woken) == 2)
        assert isinstance(followers.follow(("ns", "x"), A, HOURLY), NotFound)
        assert str(followers.follow(("ns", "y"), B, HOURLY)) == "connection refused"
        task.cancel()

    asyncio.run(scenario())


def test_a_follower_that_moves_or_goes_is_dropped() -> None:
    registry = Registry()
    alive = {("ns", "x"), ("ns", "y")}

    async def scenario() -> None:
        followers = ModelFollowers(registry.fetch, lambda _: None, alive.__contains__)
        task = asyncio.create_task(followers.run())
        followers.follow(("ns", "x"), A, HOURLY)
        followers.follow(("ns", "y"), A, HOURLY)
        await until(lambda: registry.calls["a"] == 1)
        followers.follow(("ns", "x"), B, HOURLY)  # its spec now names another model
        alive.discard(("ns", "y"))  # deleted
        await until(lambda: registry.calls["b"] == 1)
        assert followers.refresh("a") == 0  # nobody follows `a` any more
        task.cancel()

    asyncio.run(scenario())
