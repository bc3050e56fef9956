"""The Storage port's contract, run over MemoryStorage and RedisStorage alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import attrs
import pytest
import pytest_asyncio

from failover.storage import SharedState, StateUpdate, Storage
from statemachines import BreakerState, FailoverEvent, FailoverReason
from tests.distributed.support import StorageFactory, eventually

S = BreakerState
OPEN = SharedState("open", openings=1, reason="consecutive_failures", remaining=30.0)


def event(source: BreakerState = S.CLOSED, dest: BreakerState = S.OPEN) -> FailoverEvent:
    return FailoverEvent("p", 1, source, dest, FailoverReason.CONSECUTIVE_FAILURES, 1.0, 1)


@pytest_asyncio.fixture
async def storages(storage_kind: str, redis_url: str | None) -> AsyncIterator[StorageFactory]:
    factory = StorageFactory(storage_kind, redis_url)
    yield factory
    await factory.aclose()


async def chain(storage: Storage, n: int, start: int = 0) -> list[bool]:
    """n transitions CLOSED -> OPEN -> CLOSED ... from generation ``start``."""
    won = []
    for generation in range(start, start + n):
        dest = S.OPEN if generation % 2 == 0 else S.CLOSED
        source = S.CLOSED if dest is S.OPEN else S.OPEN
        ok, _ = await storage.compare_and_set(
            "p", generation, SharedState(dest.value), event(source, dest), "x"
        )
        won.append(ok)
    return won


@pytest.mark.asyncio
async def test_nothing_is_stored_for_an_unknown_provider(storages: StorageFactory) -> None:
    storage = storages()
    await storage.connect()
    assert await storage.load("p") is None
    assert await storage.events("p") == []


@pytest.mark.asyncio
async def test_compare_and_set_stores_once_per_generation(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    won, stored = await a.compare_and_set("p", 0, OPEN, event(), "a")
    assert won
    assert (stored.state, stored.generation, stored.seq, stored.openings) == ("open", 1, 1, 1)
    lost, current = await b.compare_and_set("p", 0, SharedState("closed"), event(), "b")
    assert not lost
    assert (current.state, current.generation, current.seq) == ("open", 1, 1)
    loaded = await b.load("p")
    assert loaded is not None
    assert attrs.evolve(loaded, remaining=None) == attrs.evolve(stored, remaining=None)
    assert loaded.reason == "consecutive_failures"


@pytest.mark.asyncio
async def test_processes_tripping_at_once_make_one_transition(storages: StorageFactory) -> None:
    contenders = [storages() for _ in range(5)]
    results = await asyncio.gather(
        *(s.compare_and_set("p", 0, OPEN, event(), f"o{i}") for i, s in enumerate(contenders))
    )
    assert sum(won for won, _ in results) == 1
    assert {stored.generation for _, stored in results} == {1}
    logged = await contenders[0].events("p")
    assert [(e.seq, e.generation, e.dest) for e in logged] == [(1, 1, S.OPEN)]


@pytest.mark.asyncio
async def test_seq_is_gapless_across_processes(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    assert await chain(a, 3) == [True] * 3
    assert await chain(b, 3, start=3) == [True] * 3
    logged = await a.events("p")
    assert [e.seq for e in logged] == [1, 2, 3, 4, 5, 6]
    assert [e.generation for e in logged] == [1, 2, 3, 4, 5, 6]
    assert [e.seq for e in await b.events("p", since=4)] == [5, 6]
    assert [e.seq for e in await b.events("p", since=1, limit=2)] == [2, 3]


@pytest.mark.asyncio
async def test_a_subscription_sees_changes_with_their_origin(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    subscription = await b.subscribe()
    received: list[StateUpdate] = []

    async def listen() -> None:
        async for update in subscription:
            received.append(update)

    task = asyncio.ensure_future(listen())
    try:
        await a.compare_and_set("p", 0, OPEN, event(), "process-a")
        await eventually(lambda: received, what="the update arrives")
    finally:
        task.cancel()
        await subscription.aclose()
    (update,) = received
    assert (update.provider, update.origin) == ("p", "process-a")
    assert (update.state.state, update.state.generation, update.state.seq) == ("open", 1, 1)
    assert update.state.remaining is not None
    assert 25.0 < update.state.remaining <= 30.0


@pytest.mark.asyncio
async def test_deadlines_cross_as_time_left(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    await a.compare_and_set("p", 0, OPEN, event(), "a")
    loaded = await b.load("p")
    assert loaded is not None
    assert loaded.remaining is not None
    assert 25.0 < loaded.remaining <= 30.0
    await a.compare_and_set("p", 1, SharedState("closed"), event(S.OPEN, S.CLOSED), "a")
    closed = await b.load("p")
    assert closed is not None
    assert closed.remaining is None


@pytest.mark.asyncio
async def test_seed_fills_a_lost_record_and_never_goes_back(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    known = SharedState("open", 4, 7, 2, "probe_failed", 10.0)
    seeded = await a.seed("p", known)
    assert attrs.evolve(seeded, remaining=None) == attrs.evolve(known, remaining=None)
    older = await b.seed("p", SharedState("closed", 3, 5))
    assert (older.state, older.generation, older.seq) == ("open", 4, 7)
    assert await b.events("p") == []
    won, stored = await b.compare_and_set("p", 4, SharedState("half_open"), event(), "b")
    assert won
    assert (stored.generation, stored.seq) == (5, 8)


@pytest.mark.asyncio
async def test_probe_permits_are_capped_per_generation(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    await chain(a, 2)  # generation 2
    taken = await asyncio.gather(*(s.acquire_probe("p", 2, 2, 60.0) for s in [a, b] * 3))
    assert sum(taken) == 2
    assert not await a.acquire_probe("p", 1, 2, 60.0)  # not the stored generation
    await b.release_probe("p", 2)
    assert await a.acquire_probe("p", 2, 2, 60.0)
    assert not await b.acquire_probe("p", 2, 2, 60.0)


@pytest.mark.asyncio
async def test_probe_permits_expire(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    await chain(a, 1)
    assert await a.acquire_probe("p", 1, 1, 0.05)
    assert not await b.acquire_probe("p", 1, 1, 60.0)
    granted: list[bool] = []

    async def retry() -> None:
        granted.append(await b.acquire_probe("p", 1, 1, 60.0))

    async def until_granted() -> None:
        while not any(granted):
            await retry()
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until_granted(), timeout=10)


@pytest.mark.asyncio
async def test_probe_outcomes_count_per_generation(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    await chain(a, 2)  # generation 2
    assert await a.record_probe("p", 2, True) == (1, 0)
    assert await b.record_probe("p", 2, False) == (1, 1)
    assert await b.record_probe("p", 2, True) == (2, 1)
    assert await a.record_probe("p", 1, True) is None  # an earlier generation: stale
    assert await a.record_probe("p", 3, True) is None  # not the stored one either
    assert await a.record_probe("q", 0, True) is None  # nothing stored
    await chain(a, 1, start=2)  # generation 3: a new round
    assert await b.record_probe("p", 2, True) is None  # the old round counts no more
    assert await b.record_probe("p", 3, False) == (0, 1)


@pytest.mark.asyncio
async def test_probe_outcomes_count_atomically(storages: StorageFactory) -> None:
    contenders = [storages() for _ in range(4)]
    await chain(contenders[0], 1)
    counts = await asyncio.gather(
        *(s.record_probe("p", 1, i % 3 != 0) for i, s in enumerate(contenders * 3))
    )
    assert all(c is not None for c in counts)
    assert sorted(sum(c) for c in counts if c is not None) == list(range(1, 13))
    assert max(counts) == (8, 4)  # type: ignore[type-var]


@pytest.mark.asyncio
async def test_the_operator_stamp_stays_until_another_replaces_it(
    storages: StorageFactory,
) -> None:
    a, b = storages(), storages()
    subscription = await b.subscribe()
    received: list[StateUpdate] = []

    async def listen() -> None:
        async for update in subscription:
            received.append(update)

    task = asyncio.ensure_future(listen())
    try:
        forced = SharedState("forced_open", operator="0001:a")
        await a.compare_and_set("p", 0, forced, event(S.CLOSED, S.FORCED_OPEN), "a")
        await a.compare_and_set("p", 1, SharedState("closed"), event(S.FORCED_OPEN, S.CLOSED), "a")
        await eventually(lambda: len(received) == 2, what="both updates arrive")
    finally:
        task.cancel()
        await subscription.aclose()
    assert [u.state.operator for u in received] == ["0001:a", "0001:a"]  # kept by the trip
    loaded = await b.load("p")
    assert loaded is not None
    assert (loaded.state, loaded.operator) == ("closed", "0001:a")
    won, stored = await b.compare_and_set(
        "p", 2, SharedState("disabled", operator="0002:b"), event(S.CLOSED, S.DISABLED), "b"
    )
    assert won
    assert stored.operator == "0002:b"
    seeded = await a.seed("q", SharedState("forced_open", 3, 3, operator="0003:a"))
    assert seeded.operator == "0003:a"


DAY = 86_400.0  # a bucket that cannot end during a test (Redis buckets follow its wall clock)


@pytest.mark.asyncio
async def test_leases_are_capped_at_the_limit_per_bucket(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    leases = await asyncio.gather(*(s.lease("p", DAY, 10, 3) for s in [a, b] * 3))
    assert sum(lease.granted for lease in leases) == 10
    assert sorted(lease.granted for lease in leases) == [0, 0, 1, 3, 3, 3]
    assert all(0.0 < lease.reset_after <= DAY for lease in leases)
    assert (await a.lease("p", DAY, 10, 1)).granted == 0


@pytest.mark.asyncio
async def test_leases_count_per_provider_and_window(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    assert (await a.lease("p", DAY, 2, 2)).granted == 2
    assert (await b.lease("q", DAY, 2, 5)).granted == 2
    assert (await b.lease("p", DAY / 2, 2, 1)).granted == 1
    assert (await b.lease("p", DAY, 2, 1)).granted == 0


@pytest.mark.asyncio
async def test_the_next_bucket_leases_again(storages: StorageFactory) -> None:
    a, b = storages(), storages()
    window = 0.2
    while (await a.lease("p", window, 1, 1)).granted:  # until this bucket is used up
        pass
    regranted: list[int] = []

    async def until_regranted() -> None:
        while not regranted:
            lease = await b.lease("p", window, 1, 1)
            assert 0.0 < lease.reset_after <= window
            if lease.granted:
                regranted.append(lease.granted)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until_regranted(), timeout=10)
    assert regranted == [1]
