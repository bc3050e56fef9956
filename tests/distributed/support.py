"""Helpers of the distributed tests (no tests here): storages per kind, processes sharing
one, waiting on conditions."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

from failover import AllProvidersFailed, AllProvidersUnavailable, BreakerPolicy, ManualClock
from failover._coordinator.coordinator import Coordinator
from failover.clock import Clock
from failover.errors import Unavailable
from failover.health import HealthCheckConfig
from failover.redis_storage import RedisStorage
from failover.retry import RetryPolicy
from failover.storage import MemoryStorage, Storage
from failover.testing import ScriptedProvider, ScriptedRequest
from statemachines import BreakerState, FailoverEvent

__all__ = ["KINDS", "POLICY", "Fleet", "Process", "StorageFactory", "eventually"]

KINDS = ("memory", "redis")
POLICY = BreakerPolicy(max_consecutive_failures=3, open_duration=10.0, open_jitter=0.0)
ONE_ATTEMPT = RetryPolicy(max_attempts=1)
S = BreakerState
_prefixes = itertools.count()


async def eventually(
    condition: Callable[[], object], timeout: float = 10.0, what: str = ""
) -> None:
    """Wait until ``condition()`` is true (polling the event loop); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what or condition}")
        await asyncio.sleep(0.002)


class StorageFactory:
    """Storages that share state, as separate processes would see it: the same MemoryStorage,
    or one RedisStorage (one connection pool) per call on one prefix."""

    def __init__(self, kind: str, url: str | None, clock: Clock | None = None) -> None:
        self.kind, self.url = kind, url
        self.prefix = f"test{next(_prefixes)}-{time.time_ns()}"
        self.memory = MemoryStorage(clock=clock) if kind == "memory" else None
        self.made: list[Storage] = []

    def __call__(self) -> Storage:
        if self.memory is not None:
            return self.memory
        assert self.url is not None
        storage = RedisStorage(self.url, prefix=self.prefix)
        self.made.append(storage)
        return storage

    async def aclose(self) -> None:
        for storage in self.made:
            await storage.aclose()


class Process:
    """One coordinator over provider "p", as one process of a service would run it."""

    def __init__(self, storage: Storage, clock: ManualClock, policy: BreakerPolicy) -> None:
        self.failing = False
        self.hold: asyncio.Event | None = None  # answers wait for it when set
        self.requests = self.probes = 0
        self.heard: list[FailoverEvent] = []
        self.coordinator = Coordinator(
            [ScriptedProvider("p", self._answer)],
            policy=policy,
            retry=ONE_ATTEMPT,
            clock=clock,
            hooks=(self.heard.append,),
            health=HealthCheckConfig(enabled=False),
            storage=storage,
        )
        self.breaker = self.coordinator.breaker("p")

    async def _answer(self, request: ScriptedRequest) -> str:
        self.requests += 1
        self.probes += self.breaker.state is S.HALF_OPEN
        if self.hold is not None:
            await self.hold.wait()
        if self.failing:
            raise Unavailable("503", provider="p")
        return "ok"

    async def call(self) -> str:
        """One request; "failed" / "unavailable" for the library's errors."""
        try:
            result = await self.coordinator.generate("hi")
        except AllProvidersFailed:
            return "failed"
        except AllProvidersUnavailable:
            return "unavailable"
        return result.value.text

    def transitions(self) -> list[tuple[int, S, S]]:
        return [(e.seq, e.source, e.dest) for e in self.heard if e.seq]


class Fleet:
    """Processes sharing one storage (of ``kind``) and one ManualClock; ``await fleet()``
    starts one more."""

    def __init__(self, kind: str, url: str | None) -> None:
        self.clock = ManualClock()
        self.storages = StorageFactory(kind, url, self.clock)
        self.started: list[Process] = []

    async def __call__(
        self, policy: BreakerPolicy = POLICY, wrap: Callable[[Storage], Storage] | None = None
    ) -> Process:
        storage = self.storages()
        process = Process(storage if wrap is None else wrap(storage), self.clock, policy)
        await process.coordinator.start()
        self.started.append(process)
        return process

    async def aclose(self) -> None:
        for process in self.started:
            await process.coordinator.aclose()
        await self.storages.aclose()
