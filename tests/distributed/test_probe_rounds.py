"""Shared half-open rounds (liveness L3), on MemoryStorage and on a real redis-server: the
probes of a round count across every process, so a round whose probes ran in several
processes closes once ``half_open_max_calls`` of them succeeded and reopens as soon as the
failures reach the policy's threshold; the process whose probe completes the decision makes
the one transition, which every other process adopts."""

from __future__ import annotations

import asyncio
import math

import pytest

from failover import BreakerPolicy
from statemachines import BreakerState, FailoverEvent, FailoverReason
from tests.distributed.support import Fleet, Process, eventually

S = BreakerState
R = FailoverReason
POLICY = BreakerPolicy(max_consecutive_failures=1, open_duration=10.0, open_jitter=0.0)


async def half_open(processes: Fleet, replicas: int, max_calls: int) -> list[Process]:
    """``replicas`` processes whose shared breaker has just entered HALF_OPEN."""
    policy = POLICY.with_changes(half_open_max_calls=max_calls)
    group = [await processes(policy) for _ in range(replicas)]
    group[0].failing = True
    assert await group[0].call() == "failed"
    await eventually(lambda: all(p.breaker.state is S.OPEN for p in group), what="all OPEN")
    group[0].failing = False
    processes.clock.advance(POLICY.open_duration)
    await eventually(lambda: all(p.breaker.state is S.HALF_OPEN for p in group))
    await eventually(lambda: all(settled(p) for p in group), what="one HALF_OPEN won")
    return group


def settled(process: Process) -> bool:
    """Whether the process has published (or dropped) its transitions and had its probes
    counted by the storage."""
    replica = process.coordinator._replica
    assert replica is not None
    member = replica.members["p"]
    return not member.pending and not member.probes


async def probe(process: Process, fails: bool) -> None:
    """Have ``process`` run one probe (asking until it holds a global permit), and wait until
    the storage has counted it."""
    process.failing = fails
    before = process.probes

    async def until_probed() -> None:
        while process.probes == before:
            await process.call()  # "unavailable" until the permit is there
            await asyncio.sleep(0.001)

    await asyncio.wait_for(until_probed(), timeout=10)
    assert process.probes == before + 1
    await eventually(lambda: settled(process), what="the probe is counted")


def deciding(group: list[Process], event: FailoverEvent) -> list[int]:
    """The processes whose hooks heard ``event`` (the one that made the transition)."""
    return [i for i, p in enumerate(group) if any(e.seq == event.seq for e in p.heard)]


async def run_round(group: list[Process], outcomes: list[bool]) -> FailoverEvent:
    """Probes in turn, process 0, 1, 2, 0, ... (``outcomes``: True for a failure); returns
    the event that ended the round, once every process is in its state."""
    for i, fails in enumerate(outcomes):
        await probe(group[i % len(group)], fails)
    await eventually(lambda: all(p.breaker.state is not S.HALF_OPEN for p in group))
    logged = await group[0].coordinator.events()
    assert [(e.seq, e.dest) for e in logged[:2]] == [(1, S.OPEN), (2, S.HALF_OPEN)]
    assert len(logged) == 3  # exactly one event ends the round, fleet-wide
    heard = sorted(t for p in group for t in p.transitions())
    assert heard == [(e.seq, e.source, e.dest) for e in logged]  # each heard once (I1)
    assert all(p.breaker.state is logged[2].dest for p in group)
    return logged[2]


ROUNDS = pytest.mark.parametrize(
    ("replicas", "max_calls"), [(r, m) for r in (2, 3) for m in (1, 2, 3)]
)


@ROUNDS
@pytest.mark.asyncio
async def test_a_round_closes_once_enough_probes_succeeded_across_processes(
    processes: Fleet, replicas: int, max_calls: int
) -> None:
    group = await half_open(processes, replicas, max_calls)
    ended = await run_round(group, [False] * max_calls)
    assert (ended.source, ended.dest, ended.reason) == (S.HALF_OPEN, S.CLOSED, R.PROBES_SUCCEEDED)
    assert (ended.details["probes_succeeded"], ended.details["probes_failed"]) == (max_calls, 0)
    assert [p.probes for p in group] == [len(range(i, max_calls, replicas)) for i in range(3)][
        :replicas
    ]
    assert deciding(group, ended) == [(max_calls - 1) % replicas]  # the last probe's process
    assert [await p.call() for p in group] == ["ok"] * replicas


@ROUNDS
@pytest.mark.asyncio
async def test_a_round_reopens_once_enough_probes_failed_across_processes(
    processes: Fleet, replicas: int, max_calls: int
) -> None:
    group = await half_open(processes, replicas, max_calls)
    failures = math.ceil(POLICY.failure_rate_threshold * max_calls)  # 1, 1, 2
    outcomes = [False] * (max_calls - failures) + [True] * failures  # the last ones fail
    ended = await run_round(group, outcomes)
    assert (ended.source, ended.dest, ended.reason) == (S.HALF_OPEN, S.OPEN, R.PROBE_FAILED)
    counts = (ended.details["probes_succeeded"], ended.details["probes_failed"])
    assert counts == (max_calls - failures, failures)
    assert deciding(group, ended) == [(max_calls - 1) % replicas]
    retry_at = [p.breaker.retry_at for p in group]
    assert all(r == retry_at[0] for r in retry_at)  # one deadline fleet-wide (the 2nd opening)
    assert retry_at[0] == processes.clock.monotonic() + 2 * POLICY.open_duration


@pytest.mark.asyncio
async def test_a_probe_of_an_earlier_generation_counts_in_no_round(processes: Fleet) -> None:
    group = await half_open(processes, 2, 2)
    a, b = group
    a.hold = asyncio.Event()
    slow = asyncio.ensure_future(probe(a, fails=False))  # a's probe is in flight ...
    await eventually(lambda: a.requests == 2, what="a's probe is sent")
    b.breaker.force_open()  # ... when an operator moves the shared state on
    await eventually(lambda: a.breaker.state is S.FORCED_OPEN)
    b.breaker.reset()
    await eventually(lambda: a.breaker.state is S.CLOSED)
    a.hold.set()
    await slow
    stats = a.breaker.statistics()
    assert stats.state is S.CLOSED
    assert stats.lifetime_stale == 1  # counted nowhere but in the lifetime figures (I5)
