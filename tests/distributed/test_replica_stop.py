"""Closing a coordinator ends its background storage task even when the storage client swallows
the cancellation (as some clients do while they clean a connection up): the task checks that it
was stopped rather than trusting the CancelledError to arrive. A CI run hung here for 60 s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from failover import ManualClock
from failover._coordinator.coordinator import Coordinator
from failover.health import HealthCheckConfig
from failover.storage import MemoryStorage
from failover.testing import ScriptedProvider
from statemachines import BreakerPolicy, BreakerState

GUARD = 30.0  # seconds before a hang fails the test (it ends at once when the fix holds)


class SwallowingStorage(MemoryStorage):
    """A MemoryStorage whose first compare_and_set waits, and ignores a cancellation."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.swallowed = 0
        self._first = True

    async def compare_and_set(self, *args: Any, **kwargs: Any) -> Any:
        if self._first:
            self._first = False
            self.entered.set()
            try:
                await asyncio.Event().wait()  # never set: only a cancellation gets it out
            except asyncio.CancelledError:
                self.swallowed += 1  # ...and does not re-raise
        return await super().compare_and_set(*args, **kwargs)


def failing(request: object) -> str:
    raise ConnectionError("down")


@pytest.mark.asyncio
async def test_close_ends_the_background_task_when_the_storage_swallows_its_cancel() -> None:
    storage = SwallowingStorage()
    coordinator = Coordinator(
        [ScriptedProvider("p", failing), ScriptedProvider("q", lambda request: "ok")],
        clock=ManualClock(),
        hooks=(),
        policy=BreakerPolicy(max_consecutive_failures=1, open_jitter=0.0),
        health=HealthCheckConfig(enabled=False),
        storage=storage,
    )
    await coordinator.__aenter__()
    assert (await coordinator.generate("hi")).provider == "q"  # p failed once: OPEN locally
    assert coordinator.breaker("p").state is BreakerState.OPEN
    await asyncio.wait_for(storage.entered.wait(), GUARD)  # the background step publishes it
    closing = asyncio.ensure_future(coordinator.__aexit__(None, None, None))
    done, _ = await asyncio.wait([closing], timeout=GUARD)
    if not done:
        closing.cancel()
    assert closing in done, "closing the coordinator hung on its background task"
    assert storage.swallowed == 1
    stored = await storage.load("p")
    assert stored is not None
    assert stored.state == BreakerState.OPEN.value
