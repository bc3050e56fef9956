"""A request waiting (``all_down="wait"``) while another process holds the global half-open
probe permit sleeps on the clock instead of spinning, and is answered once the permit frees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from failover import AllProvidersFailed, BreakerPolicy, ManualClock, Result
from failover._coordinator.coordinator import Coordinator
from failover._distributed.replica import PERMIT_RETRY
from failover.errors import Unavailable
from failover.health import HealthCheckConfig
from failover.provider import LLMResponse
from failover.retry import RetryPolicy
from failover.storage import MemoryStorage
from failover.testing import ScriptedProvider, ScriptedRequest
from statemachines import BreakerState
from tests.distributed.support import eventually

S = BreakerState
POLICY = BreakerPolicy(max_consecutive_failures=1, open_duration=10.0, open_jitter=0.0)
TURNS = 300
"""Event loop turns given to a waiting request while the clock stands still."""


class CountingClock:
    """A process's view of the shared ManualClock, counting the sleeps it is asked for."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await self.clock.sleep(seconds)


class Process:
    """One coordinator over provider "p" (all_down="wait"); its answers can be held back."""

    def __init__(self, storage: MemoryStorage, clock: ManualClock) -> None:
        self.failing = False
        self.hold: asyncio.Event | None = None
        self.requests = 0
        self.clock = CountingClock(clock)
        self.coordinator = Coordinator(
            [ScriptedProvider("p", self._answer)],
            policy=POLICY,
            retry=RetryPolicy(max_attempts=1, request_timeout=120.0),
            clock=self.clock,
            all_down="wait",
            hooks=(),
            health=HealthCheckConfig(enabled=False),
            storage=storage,
        )
        self.breaker = self.coordinator.breaker("p")

    async def _answer(self, request: ScriptedRequest) -> str:
        self.requests += 1
        if self.hold is not None:
            await self.hold.wait()
        if self.failing:
            raise Unavailable("503", provider="p")
        return "ok"


class World:
    """Processes a and b sharing a MemoryStorage; ``holding()`` puts "p" in HALF_OPEN with a's
    probe (and the one global permit) held."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.storage = MemoryStorage(clock=self.clock)
        self.a, self.b = Process(self.storage, self.clock), Process(self.storage, self.clock)
        self.probe: asyncio.Task[Result[LLMResponse]] | None = None

    async def holding(self) -> None:
        a, b = self.a, self.b
        a.failing = True
        with pytest.raises(AllProvidersFailed):
            await asyncio.wait_for(a.coordinator.generate("hi"), timeout=10)
        await eventually(lambda: b.breaker.state is S.OPEN)
        self.clock.advance(10.0)
        a.failing, a.hold = False, asyncio.Event()
        self.probe = asyncio.create_task(a.coordinator.generate("probe"))  # takes the permit
        await eventually(lambda: a.requests == 2 and b.breaker.state is S.HALF_OPEN)


@pytest_asyncio.fixture
async def world() -> AsyncIterator[World]:
    made = World()
    for process in (made.a, made.b):
        await process.coordinator.start()
    await made.holding()
    yield made
    assert made.a.hold is not None
    made.a.hold.set()
    for process in (made.a, made.b):
        await process.coordinator.aclose()


async def turns(n: int = TURNS) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_a_waiting_request_sleeps_until_the_probe_elsewhere_ends(world: World) -> None:
    a, b, clock = world.a, world.b, world.clock
    waiting = asyncio.create_task(b.coordinator.generate("hi"))
    await turns()
    assert not waiting.done()
    assert b.requests == 0
    spun = len(b.clock.sleeps)
    assert spun < 10, f"{spun} sleeps in {TURNS} loop turns: the request spins"
    assert any(s > 0 for s in b.clock.sleeps), "the request never slept on the clock"

    for _ in range(50):  # 5 s: b asks again now and then (backing off), still refused
        clock.advance(0.1)
        await turns(20)
    assert not waiting.done()
    assert len(b.clock.sleeps) < 40
    assert b.requests == 0

    assert a.hold is not None
    assert world.probe is not None
    a.hold.set()  # a's probe succeeds: CLOSED everywhere
    assert (await asyncio.wait_for(world.probe, timeout=10)).value.text == "ok"
    await eventually(lambda: b.breaker.state is S.CLOSED)
    clock.advance(PERMIT_RETRY[1])
    result = await asyncio.wait_for(waiting, timeout=10)
    assert (result.value.text, result.provider, b.requests) == ("ok", "p", 1)


@pytest.mark.asyncio
async def test_a_waiting_request_probes_once_the_permit_is_given_back(world: World) -> None:
    b, clock = world.b, world.clock
    waiting = asyncio.create_task(b.coordinator.generate("hi"))
    await turns()
    assert not waiting.done()
    generation = (await world.storage.load("p")).generation  # type: ignore[union-attr]
    await world.storage.release_probe("p", generation)  # as a holder giving it back would
    clock.advance(PERMIT_RETRY[1])
    await turns()
    result = await asyncio.wait_for(waiting, timeout=10)
    assert (result.value.text, result.provider, b.requests) == ("ok", "p", 1)
    assert b.breaker.state is S.CLOSED
    assert len(b.clock.sleeps) < 10


async def cancelled(world: World) -> None:
    """Cancel a's probe (holding the one global permit) and see it recorded IGNORED."""
    assert world.probe is not None
    ignored = world.a.breaker.statistics().lifetime_ignored  # refused permits count too
    world.probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await world.probe
    stats = world.a.breaker.statistics()
    assert (stats.state, stats.lifetime_ignored) == (S.HALF_OPEN, ignored + 1)  # undecided


@pytest.mark.asyncio
async def test_a_cancelled_probe_gives_its_permit_to_the_next_probe_here(world: World) -> None:
    a, b = world.a, world.b
    await cancelled(world)
    assert a.hold is not None
    a.hold.set()
    # At once, with the clock standing still: no new permit from the storage was needed.
    result = await asyncio.wait_for(a.coordinator.generate("again"), timeout=10)
    assert (result.value.text, a.requests) == ("ok", 3)
    await eventually(lambda: b.breaker.state is S.CLOSED)


@pytest.mark.asyncio
async def test_a_cancelled_probe_s_unused_permit_goes_back_to_the_storage(world: World) -> None:
    b, clock = world.b, world.clock
    waiting = asyncio.create_task(b.coordinator.generate("hi"))
    await turns()
    assert not waiting.done()  # refused: a holds the permit
    assert world.a.coordinator._replica is not None
    world.a.coordinator._replica.members["p"].permit_expiry = 0.0  # its lease has run out
    await cancelled(world)
    clock.advance(PERMIT_RETRY[1])  # b asks again: the permit is back in the storage
    await turns()
    result = await asyncio.wait_for(waiting, timeout=10)
    assert (result.value.text, result.provider, b.requests) == ("ok", "p", 1)
