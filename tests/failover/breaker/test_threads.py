"""Threads and stampedes: one CircuitBreaker under real concurrency.

The stress test runs 8 threads x 10,000 calls with seeded random outcomes on one breaker whose
policy trips and recovers many times during the run (the calls themselves advance a ManualClock),
then checks I1 (gapless seq, declared transitions, hooks in seq order), I2, I3 (probes inside the
provider never exceed half_open_max_calls), I6 (each call returned the provider's result, raised
its own error, or CallNotPermitted) and that the counts add up. The stampede tests send 1,000
tasks (or a crowd of threads) at a breaker whose cooldown just ended.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import FrameType

import attrs
import pytest

from failover import (
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
    FailoverEvent,
    ManualClock,
    Unavailable,
)
from statemachines import BreakerMachine, CountWindow, FailoverReason, Outcome, State, replay

S = BreakerState
THREADS, CALLS = 8, 10_000
STEP = 0.01  # manual seconds each attempt moves the clock

STRESS_POLICY = BreakerPolicy(
    failure_rate_threshold=0.5,
    minimum_calls=10,
    max_consecutive_failures=5,
    window=CountWindow(20),
    slow_call_duration=10**6,
    open_duration=1.0,
    open_backoff=1.0,
    max_open_duration=1.0,
    open_jitter=0.0,
    half_open_max_calls=3,
    max_half_open_duration=30.0,
)


@pytest.fixture(params=[5e-3, 1e-5], ids=["default-switching", "busy-switching"])
def switching(request: pytest.FixtureRequest) -> Iterator[None]:
    """Python's default thread switch interval (many calls, many transitions), then a far
    shorter one (threads preempted inside the provider: probes overlap up to the limit)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(request.param)
    yield
    sys.setswitchinterval(interval)


@attrs.frozen
class Entry:
    """A call inside the provider: the generation seen before calling, and at entry."""

    call: int
    before: int
    generation: int
    state: State


class Stress:
    """The shared side of the stress test: clock, breaker, provider, and what it saw."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.time_lock = threading.Lock()
        self.delivered: list[FailoverEvent] = []
        self.breaker = CircuitBreaker(
            "p",
            STRESS_POLICY,
            clock=self.clock,
            hooks=[self.delivered.append],
            history=1_000_000,
        )
        self.log_lock = threading.Lock()
        self.log: list[Entry | int] = []  # an Entry on the way in, the call number on the way out
        self.numbers = itertools.count()
        self.seen = Counter[str]()
        self.barrier = threading.Barrier(THREADS)

    def tick(self, until: float | None = None) -> None:
        """Advance the clock by STEP, or to ``until`` if that is later."""
        with self.time_lock:  # ManualClock.advance is not atomic; reads need no lock
            now = self.clock.monotonic()
            self.clock.advance(max(STEP, (until or now) - now))

    def provider(self, number: int, before: int, error: Exception | None) -> object:
        snapshot = self.breaker.statistics()
        entry = Entry(number, before, snapshot.generation, snapshot.state)
        with self.log_lock:
            self.log.append(entry)
            self.seen["failure" if error else "success"] += 1
        self.tick()
        os.sched_yield()  # let other threads in while this call is inside the provider
        with self.log_lock:
            self.log.append(number)
        if error is not None:
            raise error
        return entry

    def worker(self, seed: int) -> Counter[str]:
        rng, counts = random.Random(seed), Counter[str]()
        self.barrier.wait()
        for _ in range(CALLS):
            counts[self.one_call(rng)] += 1
        return counts

    def one_call(self, rng: random.Random) -> str:
        number = next(self.numbers)
        error = Unavailable("503", provider="p") if rng.random() < 0.45 else None
        before = self.breaker.statistics().generation
        try:
            result = self.breaker.call(self.provider, number, before, error)
        except (Unavailable, CallNotPermitted) as exc:
            return self.failed(exc, error)
        assert isinstance(result, Entry)  # I6: the provider's own result
        assert result.call == number
        return "success"

    def failed(self, exc: Exception, error: Exception | None) -> str:
        """Check how a call that raised ended (I6), and name it."""
        if not isinstance(exc, CallNotPermitted):
            assert exc is error  # the provider's own exception
            return "failure"
        assert exc.provider == "p"
        assert exc.state in (S.OPEN, S.HALF_OPEN)
        self.tick(exc.retry_at if exc.state is S.OPEN else None)  # OPEN: wait out the cooldown
        return "rejected"


def is_probe(entry: Entry, state_of: dict[int, State]) -> bool:
    """Whether a call found in HALF_OPEN at entry was admitted in that generation: it was
    admitted in one between ``before`` and the one at entry, and OPEN admits no call."""
    return entry.state is S.HALF_OPEN and all(
        state_of[g] in (S.OPEN, S.FORCED_OPEN) for g in range(entry.before, entry.generation)
    )


def most_probes_inside(log: list[Entry | int], events: tuple[FailoverEvent, ...]) -> Counter[int]:
    """For each HALF_OPEN generation, the most of its probes inside the provider at once."""
    state_of: dict[int, State] = {0: S.CLOSED} | {e.generation: e.dest for e in events}
    inside: dict[int, int] = {}  # call -> generation, for the probes inside the provider
    most = Counter[int]()
    for item in log:
        if isinstance(item, int):
            inside.pop(item, None)
        elif is_probe(item, state_of):
            inside[item.call] = item.generation
            together = sum(1 for g in inside.values() if g == item.generation)
            most[item.generation] = max(most[item.generation], together)
    return most


def assert_declared_and_gapless(events: tuple[FailoverEvent, ...], policy: BreakerPolicy) -> None:
    """I1 over a breaker's whole history: gapless seq, declared transitions only."""
    table = policy.transition_table()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert any(t.name == e.trigger and t.leaves(e.source) and t.dest == e.dest for t in table)


def test_eight_threads_keep_the_invariants(switching: None) -> None:
    stress = Stress()
    with ThreadPoolExecutor(THREADS) as pool:
        counts = [pool.submit(stress.worker, seed) for seed in range(THREADS)]
        totals = sum((c.result() for c in counts), Counter[str]())
    breaker = stress.breaker
    state = breaker.state  # read first: reading it fires a transition that is due (L1)
    events = breaker.events
    assert_declared_and_gapless(events, STRESS_POLICY)  # I1
    assert stress.delivered == list(events)  # every event reached the hook once, in seq order
    assert replay(events, STRESS_POLICY) == state  # I2
    reasons = Counter(e.reason for e in events)
    assert reasons[FailoverReason.PROBES_SUCCEEDED] > 0  # it recovered...
    assert reasons[FailoverReason.PROBE_FAILED] > 0  # ...and failed probes, many times
    most = most_probes_inside(stress.log, events)
    assert most  # probes were seen from the provider's side
    assert max(most.values()) <= STRESS_POLICY.half_open_max_calls  # I3
    stats = breaker.statistics()
    assert totals.total() == THREADS * CALLS  # I6: every call ended in one of three ways
    assert stats.lifetime_calls == stress.seen.total() == totals["success"] + totals["failure"]
    assert stats.lifetime_failures == stress.seen["failure"] == totals["failure"]
    assert stats.lifetime_rejected == totals["rejected"]
    assert stats.lifetime_ignored == 0


# --- stampedes --------------------------------------------------------------------------------


def tripped(max_probes: int) -> CircuitBreaker:
    """A breaker on a ManualClock, OPEN after one failure, cooling down for 10 s."""
    policy = BreakerPolicy(
        max_consecutive_failures=1,
        open_duration=10.0,
        open_jitter=0.0,
        half_open_max_calls=max_probes,
    )
    breaker = CircuitBreaker("p", policy, clock=ManualClock(), hooks=())
    with pytest.raises(Unavailable):
        breaker.call(raise_unavailable)
    assert breaker.state is S.OPEN
    return breaker


def raise_unavailable() -> None:
    raise Unavailable("503", provider="p")


@pytest.mark.asyncio
@pytest.mark.parametrize("max_probes", [1, 2, 4])
async def test_a_stampede_of_tasks_at_the_end_of_the_cooldown_sends_only_the_probes(
    max_probes: int,
) -> None:
    breaker = tripped(max_probes)
    clock = breaker.clock
    assert isinstance(clock, ManualClock)
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    reached = 0

    async def provider() -> str:
        nonlocal reached
        reached += 1
        return await gate

    async def caller() -> str:
        assert breaker.retry_at is not None
        await clock.sleep(breaker.retry_at - clock.monotonic())
        return await breaker.acall(provider)

    tasks = [asyncio.create_task(caller()) for _ in range(1000)]
    await asyncio.sleep(0)
    assert clock.sleepers == 1000
    clock.advance(10.0)  # the cooldown ends: every caller wakes in the same loop turn
    for _ in range(3):
        await asyncio.sleep(0)
    assert reached == max_probes
    rejected = [t for t in tasks if t.done()]
    assert len(rejected) == 1000 - max_probes
    for task in rejected:
        exc = task.exception()
        assert isinstance(exc, CallNotPermitted)
        assert exc.state is S.HALF_OPEN
    gate.set_result("ok")
    probes = [t for t in tasks if not t.done()]
    assert await asyncio.gather(*probes) == ["ok"] * max_probes
    assert breaker.state is S.CLOSED
    assert breaker.events[-1].reason is FailoverReason.PROBES_SUCCEEDED


@pytest.mark.parametrize("max_probes", [1, 3])
def test_a_stampede_of_threads_at_the_end_of_the_cooldown_sends_only_the_probes(
    max_probes: int,
) -> None:
    breaker, crowd = tripped(max_probes), 32
    assert isinstance(breaker.clock, ManualClock)
    breaker.clock.advance(10.0)
    done, release = threading.Condition(), threading.Event()
    reached = rejected = 0

    def provider() -> str:
        nonlocal reached
        with done:
            reached += 1
            done.notify_all()
        release.wait()
        return "ok"

    def caller(start: threading.Barrier) -> str | None:
        nonlocal rejected
        start.wait()
        try:
            return breaker.call(provider)
        except CallNotPermitted:
            with done:
                rejected += 1
                done.notify_all()
            return None

    start = threading.Barrier(crowd)
    with ThreadPoolExecutor(crowd) as pool:
        results = [pool.submit(caller, start) for _ in range(crowd)]
        try:
            with done:  # a deadlock guard, not a timing assert: returns once all are in
                assert done.wait_for(lambda: reached + rejected == crowd, timeout=60)
            assert reached == max_probes  # I3: the others were turned away
        finally:
            release.set()
        assert sorted(r.result() or "" for r in results) == [""] * rejected + ["ok"] * reached
    assert breaker.state is S.CLOSED


# --- the lock-free admission's contract -------------------------------------------------------


def flags_seen_during(
    machine: BreakerMachine, transition: Callable[[], object]
) -> set[tuple[int, bool]]:
    """(generation, free_admission) as another thread could read them between any two lines of
    the transition (``BreakerMachine._enter``)."""
    seen: set[tuple[int, bool]] = set()
    enter = BreakerMachine._enter.__code__

    def each_line(frame: FrameType, event: str, arg: object) -> object:
        seen.add((machine.generation, machine.free_admission))
        return each_line

    def trace(frame: FrameType, event: str, arg: object) -> object:
        return each_line if frame.f_code is enter else None

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        transition()
    finally:
        sys.settrace(previous)
    return seen


@pytest.mark.parametrize("how", ["trip", "force_open", "force_open_from_disabled"])
def test_a_thread_preempted_inside_a_transition_never_admits_into_the_new_state(how: str) -> None:
    """CircuitBreaker.call and .admit skip the lock while ``machine.free_admission`` holds and
    use ``machine.generation`` read just before it. So no thread may ever see the generation of
    a state that does not admit freely (OPEN, FORCED_OPEN) with the flag still True: its call
    would reach the provider in that state without ``admit`` and be recorded in its generation.
    """
    policy = BreakerPolicy(max_consecutive_failures=1, open_jitter=0.0)
    machine = BreakerMachine("p", policy)
    if how == "force_open_from_disabled":
        machine.disable(0.0)
    start = machine.generation
    if how == "trip":
        seen = flags_seen_during(machine, lambda: machine.record(start, Outcome.FAILURE, 1.0))
    else:
        seen = flags_seen_during(machine, lambda: machine.force_open(1.0))
    assert machine.state in (S.OPEN, S.FORCED_OPEN)
    assert (start, True) in seen  # the trace did watch the transition
    assert (start + 1, True) not in seen
