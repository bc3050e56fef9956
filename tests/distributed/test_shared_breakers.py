"""Coordinators sharing breakers through a Storage (MemoryStorage and RedisStorage): a trip
anywhere opens the breaker everywhere, one transition per race, global probe permits, the
shared log, and hooks that get the events that won."""

from __future__ import annotations

import asyncio

import pytest

from failover._coordinator.coordinator import Coordinator
from failover.testing import ScriptedProvider
from statemachines import BreakerState, ConfigurationError, FailoverReason
from tests.distributed.support import POLICY, Fleet, eventually

S = BreakerState


@pytest.mark.asyncio
async def test_a_trip_in_one_process_opens_the_breaker_in_all(processes: Fleet) -> None:
    a, b, c = await processes(), await processes(), await processes()
    a.failing = True
    assert [await a.call() for _ in range(3)] == ["failed"] * 3
    assert a.breaker.state is S.OPEN
    await eventually(lambda: b.breaker.state is S.OPEN and c.breaker.state is S.OPEN)
    assert await b.call() == "unavailable"
    assert await c.call() == "unavailable"
    assert (b.requests, c.requests) == (0, 0)
    logged = await c.coordinator.events()
    assert [(e.seq, e.source, e.dest) for e in logged] == [(1, S.CLOSED, S.OPEN)]
    assert logged[0].reason is FailoverReason.CONSECUTIVE_FAILURES
    assert a.transitions() == [(1, S.CLOSED, S.OPEN)]
    assert b.transitions() == c.transitions() == []
    retry_at = b.breaker.retry_at
    assert retry_at is not None
    assert 9.0 < retry_at - processes.clock.monotonic() <= 10.0  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_processes_tripping_at_once_make_one_transition(processes: Fleet) -> None:
    group = [await processes() for _ in range(3)]
    for process in group:  # all trip in the same loop turn, before any publication
        process.breaker.record_signal(FailoverReason.AUTH_FAILED)
    assert all(p.breaker.state is S.OPEN for p in group)
    await eventually(lambda: sum(len(p.transitions()) for p in group) == 1, what="one winner")
    logged = await group[0].coordinator.events()
    assert [(e.seq, e.generation, e.dest) for e in logged] == [(1, 1, S.OPEN)]
    await eventually(lambda: all(p.breaker.state is S.OPEN for p in group))
    # the losers adopted the winner's state: the next shared transition follows on from it
    group[1].breaker.reset()
    await eventually(lambda: all(p.breaker.state is S.CLOSED for p in group))
    logged = await group[2].coordinator.events()
    assert [(e.seq, e.source, e.dest) for e in logged] == [
        (1, S.CLOSED, S.OPEN),
        (2, S.OPEN, S.CLOSED),
    ]


@pytest.mark.parametrize(("probe_fails", "after"), [(True, S.OPEN), (False, S.CLOSED)])
@pytest.mark.asyncio
async def test_half_open_probes_are_global(processes: Fleet, probe_fails: bool, after: S) -> None:
    group = [await processes() for _ in range(3)]
    group[0].failing = True
    for _ in range(3):
        await group[0].call()
    await eventually(lambda: all(p.breaker.state is S.OPEN for p in group))
    for p in group:
        p.failing = probe_fails
    processes.clock.advance(11.0)

    async def hammer() -> None:
        while sum(len(p.transitions()) for p in group) < 3 or not all(
            p.breaker.state is after for p in group
        ):
            for p in group:
                await p.call()
            await asyncio.sleep(0.001)

    await asyncio.wait_for(hammer(), timeout=10)
    assert sum(p.probes for p in group) == POLICY.half_open_max_calls
    logged = await group[0].coordinator.events()
    assert [(e.seq, e.dest) for e in logged] == [(1, S.OPEN), (2, S.HALF_OPEN), (3, after)]
    assert sorted(t for p in group for t in p.transitions()) == [
        (e.seq, e.source, e.dest) for e in logged
    ]


@pytest.mark.asyncio
async def test_a_process_started_later_adopts_the_shared_state(processes: Fleet) -> None:
    a = await processes()
    a.breaker.force_open()
    await eventually(lambda: a.transitions() == [(1, S.CLOSED, S.FORCED_OPEN)])
    b = await processes()
    assert b.breaker.state is S.FORCED_OPEN
    assert await b.call() == "unavailable"
    assert b.requests == 0


@pytest.mark.asyncio
async def test_events_since_and_limit(processes: Fleet) -> None:
    a = await processes()
    for _ in range(3):
        a.breaker.force_open()
        a.breaker.reset()
    await eventually(lambda: len(a.transitions()) == 6)
    assert [e.seq for e in await a.coordinator.events("p", since=4)] == [5, 6]
    assert [e.seq for e in await a.coordinator.events(since=1, limit=2)] == [2, 3]
    with pytest.raises(KeyError, match=r"no provider named 'q'"):
        await a.coordinator.events("q")


@pytest.mark.asyncio
async def test_without_storage_events_are_the_breakers_own() -> None:
    coordinator = Coordinator([ScriptedProvider("p", lambda r: "ok")], hooks=())
    coordinator.breaker("p").force_open()
    coordinator.breaker("p").reset()
    assert [e.seq for e in await coordinator.events(since=1)] == [2]


def test_storage_must_be_a_storage() -> None:
    with pytest.raises(ConfigurationError, match=r"storage must be a Storage, got 'redis'"):
        Coordinator([ScriptedProvider("p", lambda r: "ok")], storage="redis")  # type: ignore[arg-type]
