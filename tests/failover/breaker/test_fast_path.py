"""The fast path (failover/_breaker/fast.py) changes nothing a breaker shows: any sequence of calls,
failures, slow calls, rejections, operator actions and time gives the same statistics, events
and call counts as the same sequence through the slow path (a breaker with a per-call hook,
which never takes the fast path). And a success counted without the lock is never lost: one
whose call began in an earlier generation counts as stale, as ``record`` would count it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import BreakerPolicy, CallNotPermitted, CircuitBreaker, ManualClock
from failover.hooks import BreakerHook
from statemachines import BreakerState, Outcome

POLICY = BreakerPolicy(
    max_consecutive_failures=4,
    minimum_calls=5,
    failure_rate_threshold=0.5,
    slow_call_duration=2.0,
    open_duration=10.0,
    open_jitter=0.0,
    half_open_max_calls=2,
)


class Boom(Exception):
    pass


class PerCall(BreakerHook):
    """A per-call hook: its breaker never takes the fast path (the reference)."""

    def on_call(self, provider: str, outcome: Outcome, duration: float) -> None:
        pass


def pair() -> list[tuple[ManualClock, CircuitBreaker]]:
    """The breaker under test and its reference, each on its own clock kept in step."""
    built = []
    for hooks in ((), (PerCall(),)):
        clock = ManualClock()
        breaker = CircuitBreaker("p", POLICY, clock=clock, hooks=hooks, rng=random.Random(1))
        built.append((clock, breaker))
    return built


def run(breaker: CircuitBreaker, clock: ManualClock, step: str) -> str:
    """One step on one breaker; what the caller saw."""

    def body(seconds: float, fail: bool) -> Callable[[], int]:
        def fn() -> int:
            clock.advance(seconds)
            if fail:
                raise Boom
            return 1

        return fn

    async def abody() -> int:
        return 1

    try:
        if step == "ok":
            breaker.call(body(0.0, False))
        elif step == "fail":
            breaker.call(body(0.0, True))
        elif step == "slow":
            breaker.call(body(3.0, False))
        elif step == "decorated":
            breaker(body(0.0, False))()
        elif step == "async":
            asyncio.run(breaker.acall(abody))
        elif step == "reset":
            breaker.reset()
        return "ok"
    except Boom:
        return "raised"
    except CallNotPermitted:
        return "rejected"


STEPS = st.sampled_from(["ok"] * 6 + ["fail", "slow", "decorated", "async", "reset", "wait"])


@given(st.lists(STEPS, max_size=60))
def test_any_sequence_shows_the_same_as_the_slow_path(steps: list[str]) -> None:
    (fast_clock, fast), (slow_clock, slow) = pair()
    for step in steps:
        if step == "wait":
            fast_clock.advance(6.0)
            slow_clock.advance(6.0)
            continue
        assert run(fast, fast_clock, step) == run(slow, slow_clock, step)
        assert fast.statistics() == slow.statistics()
        assert fast.call_counts() == slow.call_counts()
        assert fast.rejection_counts() == slow.rejection_counts()
    assert [(e.dest, e.reason) for e in fast.events] == [(e.dest, e.reason) for e in slow.events]


def test_plain_successes_after_the_quiet_point_take_no_lock_and_are_all_counted() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("p", POLICY, clock=clock, hooks=())
    for _ in range(POLICY.minimum_calls + 1):  # the slow path, until the generation is quiet
        breaker.call(lambda: 1)
    assert breaker._fast is not None  # armed: what follows is counted without the lock
    decorated = breaker(lambda: 1)
    for _ in range(500):
        breaker.call(lambda: 1)
        decorated()
    stats = breaker.statistics()
    total = POLICY.minimum_calls + 1 + 1000
    assert (stats.lifetime_calls, stats.calls, stats.failures) == (total, 100, 0)
    assert breaker.call_counts()[Outcome.SUCCESS] == total
    with pytest.raises(Boom):  # a failure sees every success before it
        breaker.call(_raise)
    stats = breaker.statistics()
    assert (stats.calls, stats.failures, stats.consecutive_failures) == (100, 1, 1)


def _raise() -> int:
    raise Boom


def test_a_success_that_began_in_an_earlier_generation_counts_as_stale() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("p", POLICY, clock=clock, hooks=())
    for _ in range(POLICY.minimum_calls + 1):
        breaker.call(lambda: 1)
    assert breaker._fast is not None

    def resets_meanwhile() -> int:
        breaker.reset()  # a new generation begins while this call runs
        return 1

    before = breaker.statistics()
    assert breaker.call(resets_meanwhile) == 1
    after = breaker.statistics()
    assert after.generation == before.generation + 1
    assert after.lifetime_stale == before.lifetime_stale + 1
    assert after.lifetime_calls == before.lifetime_calls + 1
    assert after.calls == 0  # not in the new generation's window
    assert breaker._retired == []  # nothing in flight holds the old counter: dropped


def test_the_fast_path_closes_when_the_breaker_leaves_closed_and_reopens_once_quiet() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("p", POLICY, clock=clock, hooks=())
    for _ in range(POLICY.minimum_calls + 1):
        breaker.call(lambda: 1)
    assert breaker._fast is not None
    breaker.force_open()
    assert breaker._fast is None
    with pytest.raises(CallNotPermitted):
        breaker.call(lambda: 1)
    assert breaker.rejection_counts() == {BreakerState.FORCED_OPEN: 1}
    breaker.reset()
    assert breaker._fast is None  # a new window: not quiet before minimum_calls
    for _ in range(POLICY.minimum_calls + 1):
        breaker.call(lambda: 1)
    assert breaker._fast is not None
