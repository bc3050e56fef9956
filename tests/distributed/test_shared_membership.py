"""Run-time fleet changes on coordinators that share state (issue 15, item 4): a provider
added to a started coordinator with a storage shares its breaker (its transitions reach the
other processes, and it adopts what they decided before it joined) and its rate limit; a
removed one stops sharing (MemoryStorage and RedisStorage)."""

from __future__ import annotations

from functools import partial

import pytest

from failover import RateLimit
from failover._distributed.shared_quota import SharedQuota
from failover.testing import ScriptedProvider
from statemachines import BreakerState, FailoverReason
from tests.distributed.support import POLICY, Fleet, Process, eventually

S = BreakerState


def answering(name: str) -> ScriptedProvider:
    return ScriptedProvider(name, lambda request: request.provider)


def settled(process: Process) -> bool:
    """No lease of "q"'s shared limit is wanted or on its way (asking wakes the refill)."""
    quota = process.coordinator._by_name["q"].quota
    assert isinstance(quota, SharedQuota)
    now = process.coordinator.clock.monotonic()
    quota.available_at(now)
    return not any(budget.low(now) for budget in quota.budgets)


@pytest.mark.asyncio
async def test_an_added_providers_trip_reaches_every_process(processes: Fleet) -> None:
    a, b = await processes(), await processes()
    await a.coordinator.add(answering("q"), policy=POLICY)
    await b.coordinator.add(answering("q"), policy=POLICY)
    a.coordinator.breaker("q").record_signal(FailoverReason.AUTH_FAILED)
    await eventually(lambda: b.coordinator.breaker("q").state is S.OPEN, what="q open in b")
    logged = await b.coordinator.events()
    assert [(e.provider, e.seq, e.dest) for e in logged] == [("q", 1, S.OPEN)]
    assert [e.provider for e in a.heard if e.seq] == ["q"]  # the hooks of the new breaker
    assert b.breaker.state is S.CLOSED  # "p" is untouched


@pytest.mark.asyncio
async def test_a_provider_added_later_adopts_what_the_others_decided(processes: Fleet) -> None:
    a = await processes()
    await a.coordinator.add(answering("q"), policy=POLICY)
    a.coordinator.breaker("q").record_signal(FailoverReason.AUTH_FAILED)
    await eventually(lambda: not a.coordinator._replica.members["q"].pending)  # type: ignore[union-attr]
    b = await processes()
    await b.coordinator.add(answering("q"), policy=POLICY)
    await eventually(lambda: b.coordinator.breaker("q").state is S.OPEN, what="q adopted in b")
    assert [e for e in b.heard if e.seq] == []  # adopted, not a transition of its own


@pytest.mark.asyncio
async def test_an_added_providers_rate_limit_is_shared(processes: Fleet) -> None:
    a, b = await processes(), await processes()
    for process in (a, b):  # "q" alone serves: per process, each could send it 4 a day
        await process.coordinator.add(
            answering("q"), policy=POLICY, rate_limit=RateLimit(per_minute=None, per_day=4)
        )
        await process.coordinator.remove("p")
        assert isinstance(process.coordinator._by_name["q"].quota, SharedQuota)
    answers = []
    for _ in range(6):
        for process in (a, b):
            answers.append(await process.call())
            await eventually(partial(settled, process), what="no lease on its way")
    assert 1 <= answers.count("q") <= 4  # together, never more than the limit
    assert answers.count("unavailable") == len(answers) - answers.count("q")


@pytest.mark.asyncio
async def test_a_removed_provider_stops_sharing(processes: Fleet) -> None:
    a, b = await processes(), await processes()
    for process in (a, b):
        await process.coordinator.add(
            answering("q"), policy=POLICY, rate_limit=RateLimit(per_minute=None, per_day=5)
        )
    await a.coordinator.remove("q")
    replica = a.coordinator._replica
    assert replica is not None
    assert "q" not in replica.members
    assert [q.provider for q in replica.quotas] == []
    b.coordinator.breaker("q").record_signal(FailoverReason.AUTH_FAILED)
    await eventually(lambda: not b.coordinator._replica.members["q"].pending)  # type: ignore[union-attr]
    b.failing = False
    assert await a.call() == "ok"  # a goes on with "p", ignoring q's shared change
    assert [p.name for p in a.coordinator.providers] == ["p"]
