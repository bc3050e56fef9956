"""What each process of the multi-process test runs (importable by spawned processes)."""

from __future__ import annotations

import asyncio
import contextlib
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from failover import BreakerPolicy, BreakerState, FailoverError
from failover._coordinator.coordinator import Coordinator
from failover.errors import Unavailable
from failover.health import HealthCheckConfig
from failover.redis_storage import RedisStorage
from failover.retry import RetryPolicy
from failover.testing import ScriptedProvider, ScriptedRequest

__all__ = ["POLICY", "run_worker"]

POLICY = BreakerPolicy(
    max_consecutive_failures=3, open_duration=0.3, open_backoff=1.0, open_jitter=0.0
)


def run_worker(
    index: int, url: str, prefix: str, failing: Event, stop: Event, ready: Queue[Any]
) -> None:
    """Run one process's coordinator until ``stop``; put its figures on ``ready`` at the end.

    Process 0 sends requests from the start; the others wait until their breaker has left
    CLOSED (adopted from the shared state) and only then send, so that every request they
    send is a probe.
    """
    asyncio.run(_main(index, url, prefix, failing, stop, ready))


async def _main(
    index: int, url: str, prefix: str, failing: Event, stop: Event, ready: Queue[Any]
) -> None:
    figures = {"index": index, "failed_closed": 0, "probes": 0, "other": 0, "sent_before": 0}

    def answer(request: ScriptedRequest) -> str:
        state = breaker.state
        if not failing.is_set():
            figures["sent_before"] += 1
            return "ok"
        key = "probes" if state is BreakerState.HALF_OPEN else "failed_closed"
        figures[key if state in (BreakerState.HALF_OPEN, BreakerState.CLOSED) else "other"] += 1
        raise Unavailable("503", provider="p")

    coordinator = Coordinator(
        [ScriptedProvider("p", answer)],
        policy=POLICY,
        retry=RetryPolicy(max_attempts=1),
        hooks=(),
        health=HealthCheckConfig(enabled=False),
        storage=RedisStorage(url, prefix=prefix),
    )
    breaker = coordinator.breaker("p")
    async with coordinator:
        ready.put(("ready", index))
        active = index == 0
        while not stop.is_set():
            if not active:
                active = breaker.state is not BreakerState.CLOSED
                figures["adopted_open"] = breaker.state is BreakerState.OPEN
            if active:
                with contextlib.suppress(FailoverError):
                    await coordinator.generate("hi")
            await asyncio.sleep(0.002)  # pacing of this load generator
    ready.put(("figures", figures))
