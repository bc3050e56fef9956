"""Rate limits shared through a Storage: coordinators that share one never send a provider more
than its limit per bucket together, fail over beyond it, and fall back to per-process quotas
while the storage is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from failover import ManualClock, RateLimit
from failover._coordinator.coordinator import Coordinator
from failover._distributed.shared_quota import SharedQuota
from failover.health import HealthCheckConfig
from failover.retry import RetryPolicy
from failover.storage import MemoryStorage
from failover.testing import ScriptedProvider, ScriptedRequest
from tests.distributed.support import StorageFactory, eventually

LIMIT = 10


class Process:
    """One coordinator over "p" (rate limited) and "q" (not), as one replica would run it."""

    def __init__(self, storage: object, clock: ManualClock, limit: RateLimit) -> None:
        self.sent = {"p": 0, "q": 0}
        self.coordinator = Coordinator(
            [ScriptedProvider("p", self._answer), ScriptedProvider("q", self._answer)],
            strategy="priority",
            retry=RetryPolicy(max_attempts=1),
            rate_limits={"p": limit},
            clock=clock,
            hooks=(),
            health=HealthCheckConfig(enabled=False),
            storage=storage,  # type: ignore[arg-type]
        )
        self.clock = clock

    def _answer(self, request: ScriptedRequest) -> str:
        self.sent[request.provider] += 1
        return request.provider

    @property
    def quota(self) -> SharedQuota:
        quota = self.coordinator._by_name["p"].quota
        assert isinstance(quota, SharedQuota)
        return quota

    def settled(self) -> bool:
        """No lease is wanted or on its way (asking, as a request would, wakes the refill)."""
        now = self.clock.monotonic()
        self.quota.available_at(now)
        return not any(b.low(now) for b in self.quota.budgets)

    def degraded(self) -> bool:
        replica = self.coordinator._replica
        assert replica is not None
        return replica.degraded

    async def call(self) -> str:
        return (await self.coordinator.generate("hi")).provider


Fleet = tuple[Callable[[], object], ManualClock, RateLimit]


@pytest_asyncio.fixture
async def fleet(storage_kind: str, redis_url: str | None) -> AsyncIterator[Fleet]:
    clock = ManualClock()
    factory = StorageFactory(storage_kind, redis_url, clock)
    # On Redis the buckets follow the server's wall clock: a minute bucket could end during
    # the test, so the Redis runs count the same way over a day bucket.
    limit = (
        RateLimit(per_minute=LIMIT, per_day=None)
        if storage_kind == "memory"
        else RateLimit(per_minute=None, per_day=LIMIT)
    )
    yield factory, clock, limit
    await factory.aclose()


async def start(fleet: Fleet, n: int) -> list[Process]:
    factory, clock, limit = fleet
    group = [Process(factory(), clock, limit) for _ in range(n)]
    for process in group:
        await process.coordinator.start()
    return group


async def stop(group: list[Process]) -> None:
    for process in group:
        await process.coordinator.aclose()


def sent(group: list[Process], provider: str) -> int:
    return sum(p.sent[provider] for p in group)


@pytest.mark.asyncio
async def test_processes_together_never_exceed_the_limit(fleet: Fleet) -> None:
    group = await start(fleet, 3)
    try:
        # a burst from every process at once: whatever is not leased yet goes to "q"
        burst = await asyncio.gather(*(p.call() for p in group for _ in range(8)))
        assert set(burst) <= {"p", "q"}
        assert sent(group, "p") <= LIMIT
        for _ in range(6 * LIMIT):  # one at a time, each lease settled before the next call
            for process in group:
                await eventually(process.settled, what="the leases are in")
                assert await process.call() in ("p", "q")
                assert sent(group, "p") <= LIMIT
        assert sent(group, "p") == LIMIT  # the whole bucket was used, and no more
        assert sent(group, "q") == 24 + 18 * LIMIT - LIMIT
        assert all(p.sent["p"] < LIMIT for p in group)  # shared: no process had it all
    finally:
        await stop(group)


@pytest.mark.parametrize("storage_kind", ["memory"])
@pytest.mark.asyncio
async def test_the_next_bucket_grants_the_limit_again(fleet: Fleet) -> None:
    group = await start(fleet, 2)
    clock: ManualClock = fleet[1]
    try:
        for _ in range(LIMIT + 5):
            for process in group:
                await eventually(process.settled, what="the leases are in")
                await process.call()
        assert sent(group, "p") == LIMIT
        clock.advance(60.0)
        for _ in range(LIMIT + 5):
            for process in group:
                await eventually(process.settled, what="the leases are in")
                await process.call()
        assert sent(group, "p") == 2 * LIMIT
    finally:
        await stop(group)


@pytest.mark.parametrize("storage_kind", ["memory"])
@pytest.mark.asyncio
async def test_a_storage_outage_falls_back_to_per_process_quotas(fleet: Fleet) -> None:
    group = await start(fleet, 2)
    storage = fleet[0]()
    assert isinstance(storage, MemoryStorage)
    try:
        storage.available = False
        for process in group:
            await process.call()  # its refill fails: the replica degrades
            await eventually(process.degraded, what="the replica saw the outage")
        results = [await p.call() for p in group for _ in range(2 * LIMIT)]
        assert set(results) == {"p", "q"}  # no caller saw the outage
        assert [p.sent["p"] for p in group] == [LIMIT, LIMIT]  # each its own full limit
    finally:
        await stop(group)
