"""A real Redis outage: SIGKILL redis-server while two coordinators serve requests, restart it
(empty) on the same port. No request fails because of it; both say so once; a transition made
during the outage reaches the other process once Redis is back; the shared log goes on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from failover import FailoverError, ManualClock
from failover._coordinator.coordinator import Coordinator
from failover.health import HealthCheckConfig
from failover.redis_storage import RedisStorage
from failover.testing import ScriptedProvider
from statemachines import BreakerState, FailoverEvent, FailoverReason
from tests.distributed.conftest import RedisServer
from tests.distributed.support import eventually

S = BreakerState
DEGRADED = FailoverReason.STORAGE_DEGRADED


@pytest.mark.asyncio
async def test_redis_killed_and_restarted_mid_run(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    server, clock = own_redis_server, ManualClock()
    heard: dict[str, list[FailoverEvent]] = {"a": [], "b": []}
    made = {
        name: Coordinator(
            [ScriptedProvider("p", lambda r: "ok"), ScriptedProvider("q", lambda r: "ok")],
            clock=clock,
            hooks=(heard[name].append,),
            health=HealthCheckConfig(enabled=False),
            storage=RedisStorage(server.url, prefix="fault", timeout=0.5),
        )
        for name in ("a", "b")
    }
    a, b = made["a"], made["b"]
    errors: list[BaseException] = []
    served = [0]
    running = True

    async def serve(coordinator: Coordinator) -> None:
        while running:
            try:
                await coordinator.generate("hi")
                served[0] += 1
            except FailoverError as exc:  # none expected: every provider answers
                errors.append(exc)
            await asyncio.sleep(0.001)

    async with a, b:
        a.breaker("q").force_open()
        await eventually(lambda: b.breaker("q").state is S.FORCED_OPEN, what="b adopts")
        a.breaker("q").reset()
        await eventually(lambda: b.breaker("q").state is S.CLOSED, what="b adopts the reset")
        tasks = [asyncio.ensure_future(serve(c)) for c in (a, b)]
        await eventually(lambda: served[0] > 20)
        server.kill()
        await eventually(lambda: all(c._replica and c._replica.degraded for c in (a, b)))
        a.breaker("p").force_open()  # during the outage: b cannot know yet
        before = served[0]
        await eventually(lambda: served[0] > before + 20, what="requests go on during the outage")
        assert b.breaker("p").state is S.CLOSED
        server.start()
        await eventually(lambda: b.breaker("p").state is S.FORCED_OPEN, what="b resyncs")
        await eventually(lambda: not any(c._replica and c._replica.degraded for c in (a, b)))
        before = served[0]
        await eventually(lambda: served[0] > before + 20, what="requests go on after it")
        running = False
        await asyncio.gather(*tasks)
        b.breaker("q").force_open()  # after the restart: the log of q goes on from seq 2
        await eventually(lambda: a.breaker("q").state is S.FORCED_OPEN, what="a adopts")
        logged = await b.events("p")
        logged_q = await a.events("q")
    assert errors == []
    for name in ("a", "b"):
        assert [e.provider for e in heard[name] if e.reason is DEGRADED] == ["p", "q"]
    outage = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "unavailable" in r.getMessage()
    ]
    assert len(outage) == 2  # one per process
    assert [(e.seq, e.source, e.dest) for e in logged] == [(1, S.CLOSED, S.FORCED_OPEN)]
    # the restarted Redis was empty: the processes re-seeded q's record (generation 2, seq 2),
    # so q's seq goes on where it was (its earlier events went with the old server's memory)
    assert [(e.seq, e.generation, e.dest) for e in logged_q] == [(3, 3, S.FORCED_OPEN)]
