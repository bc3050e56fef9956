"""Storage outages: each process goes on with its local state, says so once (one warning, one
STORAGE_DEGRADED event per breaker), and resyncs when the storage is back. No caller sees a
storage error."""

from __future__ import annotations

import logging

import pytest

from failover import ManualClock
from failover._coordinator.coordinator import Coordinator
from failover.health import HealthCheckConfig
from failover.redis_storage import RedisStorage
from failover.storage import MemoryStorage
from failover.testing import ScriptedProvider
from statemachines import BreakerState, FailoverEvent, FailoverReason
from tests.distributed.conftest import free_port
from tests.distributed.support import eventually

S = BreakerState
DEGRADED = FailoverReason.STORAGE_DEGRADED


def process(storage: object, clock: ManualClock, heard: list[FailoverEvent]) -> Coordinator:
    return Coordinator(
        [ScriptedProvider("p", lambda request: "ok"), ScriptedProvider("q", lambda r: "ok")],
        clock=clock,
        hooks=(heard.append,),
        health=HealthCheckConfig(enabled=False),
        storage=storage,  # type: ignore[arg-type]
    )


def published(coordinator: Coordinator) -> bool:
    """Whether the process is back and has published or dropped its local transitions."""
    replica = coordinator._replica
    assert replica is not None
    return not replica.degraded and not any(m.pending for m in replica.members.values())


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.asyncio
async def test_an_outage_is_said_once_and_resynced(caplog: pytest.LogCaptureFixture) -> None:
    clock, storage = ManualClock(), MemoryStorage()
    heard_a: list[FailoverEvent] = []
    heard_b: list[FailoverEvent] = []
    a, b = process(storage, clock, heard_a), process(storage, clock, heard_b)
    async with a, b:
        storage.available = False
        await eventually(lambda: a._replica and a._replica.degraded, what="A sees the outage")
        await eventually(lambda: b._replica and b._replica.degraded, what="B sees the outage")
        a.breaker("p").force_open()  # a local transition while the storage is away
        assert (await a.generate("hi")).provider == "q"
        assert (await b.generate("hi")).provider in ("p", "q")
        assert b.breaker("p").state is S.CLOSED
        degraded = [(e.provider, e.seq, e.source, e.dest) for e in heard_a if e.reason is DEGRADED]
        assert degraded == [("p", 0, S.CLOSED, S.CLOSED), ("q", 0, S.CLOSED, S.CLOSED)]
        assert [(e.source, e.dest) for e in heard_a if e.reason is not DEGRADED] == [
            (S.CLOSED, S.FORCED_OPEN)
        ]  # heard at once, while degraded
        assert len([w for w in warnings(caplog) if "unavailable" in w]) == 2  # one per process
        storage.available = True
        await eventually(lambda: b.breaker("p").state is S.FORCED_OPEN, what="B resyncs")
        assert a._replica is not None
        assert not a._replica.degraded
        logged = await b.events("p")
        assert [(e.seq, e.dest) for e in logged] == [(1, S.FORCED_OPEN)]
        assert len([e for e in heard_a if e.reason is not DEGRADED]) == 1  # not heard again
        assert len([e for e in heard_a if e.reason is DEGRADED]) == 2


@pytest.mark.asyncio
async def test_the_newer_shared_state_wins_a_resync() -> None:
    clock, storage = ManualClock(), MemoryStorage()
    heard: list[FailoverEvent] = []
    a, b = process(storage, clock, heard), process(storage, clock, [])
    async with a, b:
        storage.available = False
        await eventually(lambda: a._replica is not None and a._replica.degraded)
        await eventually(lambda: b._replica is not None and b._replica.degraded)
        a.breaker("p").record_signal(FailoverReason.AUTH_FAILED)  # both trip meanwhile
        b.breaker("p").record_signal(FailoverReason.RATE_LIMITED)
        storage.available = True
        await eventually(lambda: published(a) and published(b), what="both resynced")
        logged = await a.events("p")
        assert len(logged) == 1  # one trip won; the other process adopted it
        assert logged[0].reason in (FailoverReason.AUTH_FAILED, FailoverReason.RATE_LIMITED)
        assert a.breaker("p").state is b.breaker("p").state is S.OPEN


@pytest.mark.asyncio
async def test_an_unreachable_redis_at_start_means_local_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[FailoverEvent] = []
    storage = RedisStorage(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    coordinator = process(storage, ManualClock(), heard)
    async with coordinator:
        assert (await coordinator.generate("hi")).provider == "p"
        coordinator.breaker("p").force_open()
        assert coordinator.breaker("p").state is S.FORCED_OPEN
        assert (await coordinator.generate("hi")).provider == "q"
        assert [(e.provider, e.reason) for e in heard if e.reason is DEGRADED] == [
            ("p", DEGRADED),
            ("q", DEGRADED),
        ]
        assert len([w for w in warnings(caplog) if "unavailable" in w]) == 1
        local = await coordinator.events("p")
        assert [(e.seq, e.dest) for e in local] == [(1, S.FORCED_OPEN)]
