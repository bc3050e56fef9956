"""Operator actions are ordered (liveness L5): force_open / reset / disable made while the
storage is stalled carry a stamp, and once the storage answers again the last one made wins
in every process, a replica started afterwards included, even though the stalled storage
applied an earlier one late. On MemoryStorage (``stall()`` / ``resume()``) and on a real
redis-server paused with SIGSTOP and resumed with SIGCONT."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from failover import ManualClock
from failover.redis_storage import RedisStorage
from failover.storage import MemoryStorage, SharedState, Storage
from statemachines import BreakerState, FailoverReason
from tests.distributed.conftest import RedisServer
from tests.distributed.support import POLICY, Fleet, Process, eventually

S = BreakerState
DEST = {"force_open": S.FORCED_OPEN, "reset": S.CLOSED, "disable": S.DISABLED}
SCENARIOS = [  # (process, action) in the order they are made, all during one stall
    pytest.param([(0, "force_open"), (0, "reset")], id="reset-after-own-force_open"),
    pytest.param([(0, "force_open"), (1, "reset")], id="reset-elsewhere-after-force_open"),
    pytest.param([(1, "reset"), (0, "force_open")], id="force_open-after-reset-elsewhere"),
    pytest.param([(0, "disable"), (1, "force_open"), (0, "reset")], id="three-actions"),
]


def replica(process: Process) -> object:
    made = process.coordinator._replica
    assert made is not None
    return made


def degraded(process: Process) -> bool:
    return bool(replica(process).degraded)  # type: ignore[attr-defined]


def published(process: Process) -> bool:
    """Back, with nothing left to publish."""
    member = replica(process).members["p"]  # type: ignore[attr-defined]
    return not degraded(process) and not member.pending


async def made_during_a_stall(
    group: Sequence[Process],
    actions: list[tuple[int, str]],
    stall: Callable[[], None],
    resume: Callable[[], None],
) -> None:
    """Make ``actions`` while the storage is stalled (each process that acts sees it fail),
    then resume it and wait until every process has resynced."""
    stall()
    try:
        for index, action in actions:
            getattr(group[index].breaker, action)()
            await eventually(lambda i=index: degraded(group[i]), what=f"{index} sees the stall")
    finally:
        resume()
    await eventually(lambda: all(published(p) for p in group), what="all resynced")


async def check_the_last_action_won(
    group: Sequence[Process], actions: list[tuple[int, str]], late: Process
) -> None:
    """Every process, and ``late`` (started after the resync), is in the last action's state;
    the shared log ends with it."""
    expected = DEST[actions[-1][1]]
    await eventually(lambda: all(p.breaker.state is expected for p in group), what=expected)
    assert late.breaker.state is expected
    assert await late.call() == ("unavailable" if expected is S.FORCED_OPEN else "ok")
    logged = await late.coordinator.events()
    assert [e.seq for e in logged] == list(range(1, len(logged) + 1))
    assert logged[-1].dest is expected
    stamps = [str(e.details.get("operator", "")) for e in logged]
    assert all(stamps)  # every event of these runs is an operator action's ...
    assert stamps == sorted(stamps)  # ... and they are logged in the order they were made


@pytest.mark.parametrize("actions", SCENARIOS)
@pytest.mark.asyncio
async def test_the_last_operator_action_wins_after_a_memory_stall(
    actions: list[tuple[int, str]],
) -> None:
    clock = ManualClock()
    storage = MemoryStorage(clock=clock)
    group = [Process(storage, clock, POLICY) for _ in range(2)]
    for process in group:
        await process.coordinator.start()
    try:
        await made_during_a_stall(group, actions, storage.stall, storage.resume)
        late = Process(storage, clock, POLICY)
        async with late.coordinator:
            await check_the_last_action_won(group, actions, late)
    finally:
        for process in group:
            await process.coordinator.aclose()


@pytest.mark.parametrize("actions", SCENARIOS)
@pytest.mark.asyncio
async def test_the_last_operator_action_wins_after_redis_was_paused(
    own_redis_server: RedisServer, actions: list[tuple[int, str]]
) -> None:
    server, clock = own_redis_server, ManualClock()
    assert server.process is not None
    pid = server.process.pid

    def storage() -> Storage:
        return RedisStorage(server.url, prefix="order", timeout=0.3)

    group = [Process(storage(), clock, POLICY) for _ in range(2)]
    for process in group:
        await process.coordinator.start()
    try:
        group[1].breaker.reset()  # before the pause: the server has the scripts (EVALSHA works)
        await eventually(lambda: all(replica(p).members["p"].known.generation for p in group))
        await made_during_a_stall(
            group,
            actions,
            lambda: os.kill(pid, signal.SIGSTOP),
            lambda: os.kill(pid, signal.SIGCONT),
        )
        late = Process(storage(), clock, POLICY)
        async with late.coordinator:
            await check_the_last_action_won(group, actions, late)
    finally:
        for process in group:
            await process.coordinator.aclose()


class Gated:
    """A process's own view of the shared storage, whose compare-and-set waits for ``gate``:
    its transitions reach the storage only when the test says so."""

    def __init__(self, inner: Storage, gate: asyncio.Event) -> None:
        self.inner, self.gate = inner, gate

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def compare_and_set(self, *args: Any) -> tuple[bool, SharedState]:
        await self.gate.wait()
        return await self.inner.compare_and_set(*args)


@pytest.mark.asyncio
async def test_an_operator_action_survives_a_concurrent_automatic_transition(
    processes: Fleet,
) -> None:
    gate = asyncio.Event()
    a = await processes(wrap=lambda storage: Gated(storage, gate))  # type: ignore[arg-type,return-value]
    b = await processes()
    a.breaker.force_open()  # on its way to the storage ...
    b.breaker.record_signal(FailoverReason.AUTH_FAILED)  # ... when b trips, and publishes first
    await eventually(lambda: replica(a).members["p"].known.generation == 1, what="a hears b")
    gate.set()
    await eventually(lambda: published(a) and published(b), what="both published")
    await eventually(lambda: b.breaker.state is S.FORCED_OPEN, what="b adopts the action")
    assert a.breaker.state is S.FORCED_OPEN
    logged = await a.coordinator.events()
    assert [(e.seq, e.source, e.dest) for e in logged] == [
        (1, S.CLOSED, S.OPEN),
        (2, S.OPEN, S.FORCED_OPEN),  # published on top of the trip it had not seen
    ]
