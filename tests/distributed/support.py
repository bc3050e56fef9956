"""Helpers of the distributed tests (no tests here): storages per kind, waiting on conditions."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

from failover.clock import Clock
from failover.redis_storage import RedisStorage
from failover.storage import MemoryStorage, Storage

__all__ = ["KINDS", "StorageFactory", "eventually"]

KINDS = ("memory", "redis")
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
