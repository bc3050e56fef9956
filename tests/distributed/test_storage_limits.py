"""The storage side is total: any deadline, however long (infinity and NaN included), is kept
as at most MAX_REMAINING and reaches the other processes; what Redis is given is strict JSON;
MemoryStorage's stall applies the writes it received late, as a paused server does."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from failover import BreakerPolicy, ManualClock
from failover.redis_storage import RedisStorage
from failover.storage import (
    MAX_REMAINING,
    MemoryStorage,
    SharedState,
    StorageUnavailable,
    remaining_of,
)
from statemachines import MAX_RETRY_AFTER, BreakerState, FailoverEvent, FailoverReason
from tests.distributed.conftest import RedisServer
from tests.distributed.support import Fleet, StorageFactory, eventually

S = BreakerState
HUGE = [math.inf, 1e307, math.nan, 10 * MAX_REMAINING]


def event(details: dict[str, float] | None = None) -> FailoverEvent:
    return FailoverEvent(
        "p", 1, S.CLOSED, S.OPEN, FailoverReason.RATE_LIMITED, 1.0, 1, details or {}
    )


@pytest_asyncio.fixture
async def storages(storage_kind: str, redis_url: str | None) -> AsyncIterator[StorageFactory]:
    factory = StorageFactory(storage_kind, redis_url)
    yield factory
    await factory.aclose()


def test_remaining_is_cut_to_a_day() -> None:
    assert MAX_REMAINING == MAX_RETRY_AFTER == 86_400.0
    assert [remaining_of(x) for x in HUGE] == [MAX_REMAINING] * len(HUGE)
    assert [remaining_of(x) for x in (None, -5.0, -math.inf, 0.0, 12.5)] == [
        None,
        0.0,
        0.0,
        0.0,
        12.5,
    ]


@pytest.mark.parametrize("remaining", HUGE)
@pytest.mark.asyncio
async def test_a_huge_deadline_is_kept_as_a_day(storages: StorageFactory, remaining: float) -> None:
    a, b = storages(), storages()
    shared = SharedState("open", remaining=remaining)
    won, stored = await a.compare_and_set("p", 0, shared, event(), "a")
    assert won
    assert stored.remaining is not None
    assert MAX_REMAINING - 5.0 < stored.remaining <= MAX_REMAINING
    seeded = await b.seed("q", SharedState("open", 4, 4, remaining=remaining))
    assert seeded.remaining is not None
    assert MAX_REMAINING - 5.0 < seeded.remaining <= MAX_REMAINING
    loaded = await b.load("p")
    assert loaded is not None
    assert loaded.remaining is not None
    assert MAX_REMAINING - 5.0 < loaded.remaining <= MAX_REMAINING


@pytest.mark.asyncio
async def test_an_open_with_a_huge_deadline_reaches_the_other_process(
    processes: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    huge = BreakerPolicy(max_consecutive_failures=1, open_duration=1e307, max_open_duration=1e307)
    a, b = await processes(huge), await processes(huge)
    a.failing = True
    assert await a.call() == "failed"
    await eventually(lambda: b.breaker.state is S.OPEN, what="b adopts the OPEN")
    retry_at = b.breaker.retry_at
    assert retry_at is not None
    assert MAX_REMAINING - 5.0 < retry_at - processes.clock.monotonic() <= MAX_REMAINING
    assert await b.call() == "unavailable"
    assert b.requests == 0
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.asyncio
async def test_redis_is_given_strict_json(redis_server: RedisServer) -> None:
    storage = RedisStorage(redis_server.url, prefix="strict")
    client = aioredis.Redis.from_url(redis_server.url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(storage.channel)
        await pubsub.get_message(timeout=1.0)  # the subscription's confirmation
        details = {"deadline": math.inf, "retry_after": math.nan}
        shared = SharedState("open", remaining=math.inf)
        assert (await storage.compare_and_set("p", 0, shared, event(details), "a"))[0]
        ((_, fields),) = await client.xrange(storage.key("p", "events"))
        message = None
        while message is None or message["type"] != "message":
            message = await pubsub.get_message(timeout=1.0)
    finally:
        await pubsub.aclose()
        await client.aclose()
        await storage.aclose()

    def strict(text: bytes) -> dict[str, object]:
        def reject(constant: str) -> None:
            raise AssertionError(f"{constant} is not JSON")

        loaded: dict[str, object] = json.loads(text, parse_constant=reject)
        return loaded

    logged = strict(fields[b"event"])
    assert logged["details"] == {"deadline": None, "retry_after": None}
    published = strict(message["data"])
    assert published["d"] == MAX_REMAINING * 1000


@pytest.mark.asyncio
async def test_a_stalled_memory_storage_applies_its_writes_late() -> None:
    clock = ManualClock()
    storage = MemoryStorage(clock=clock)
    subscription = await storage.subscribe()
    storage.stall()
    with pytest.raises(StorageUnavailable, match="stalled"):
        await storage.compare_and_set("p", 0, SharedState("forced_open"), event(), "a")
    with pytest.raises(StorageUnavailable, match="stalled"):
        await storage.compare_and_set("p", 0, SharedState("disabled"), event(), "b")
    with pytest.raises(StorageUnavailable, match="stalled"):
        await storage.load("p")
    storage.resume()  # in order: the first wins generation 1, the second finds it taken
    loaded = await storage.load("p")
    assert loaded is not None
    assert (loaded.state, loaded.generation) == ("forced_open", 1)
    update = await asyncio.wait_for(anext(aiter(subscription)), timeout=1.0)
    assert (update.origin, update.state.state) == ("a", "forced_open")
    await subscription.aclose()
