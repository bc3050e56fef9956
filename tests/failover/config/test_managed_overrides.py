"""managed_failover takes in code what settings cannot carry (issue 15, item 4): policies with
Python conditions, a storage, the breakers' hooks; each passed to the Coordinator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from failover import BreakerPolicy, ManualClock
from failover.lifecycle import managed_failover
from failover.provider import Provider
from failover.registry import default_registry, register_provider
from failover.settings import FailoverSettings, ProviderSettings
from failover.storage import MemoryStorage
from failover.testing import ScriptedProvider
from statemachines import BreakerState, FailoverEvent

KIND = "overrides-test"


@pytest.fixture(autouse=True)
def kind() -> Iterator[None]:
    def build(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        return ScriptedProvider(settings.name, lambda request: settings.name)

    register_provider(KIND, build)
    yield
    default_registry.unregister(KIND)


CONFIG = FailoverSettings.from_mapping(
    {"providers": [{"name": "a", "kind": KIND}, {"name": "b", "kind": KIND}]}
)


@pytest.mark.asyncio
async def test_policies_and_hooks_given_in_code_are_the_coordinators() -> None:
    mine = BreakerPolicy(max_consecutive_failures=2, open_duration=7.0)
    heard: list[FailoverEvent] = []
    async with managed_failover(
        CONFIG, clock=ManualClock(), policies={"b": mine}, hooks=[heard.append]
    ) as coordinator:
        assert coordinator.breaker("b").policy is mine
        assert coordinator.breaker("a").policy == CONFIG.breaker_policy("a")
        coordinator.breaker("a").force_open()
        await asyncio.sleep(0)
    assert [(e.provider, e.dest) for e in heard] == [("a", BreakerState.FORCED_OPEN)]


@pytest.mark.asyncio
async def test_a_storage_given_in_code_shares_the_breakers() -> None:
    storage = MemoryStorage()
    async with managed_failover(CONFIG, clock=ManualClock(), storage=storage) as coordinator:
        coordinator.breaker("b").force_open()
        for _ in range(100):
            stored = await storage.load("b")
            if stored is not None and stored.state == "forced_open":
                break
            await asyncio.sleep(0)
    stored = await storage.load("b")
    assert stored is not None
    assert stored.state == "forced_open"
