"""Times for people: a rejection and an all-down request say how many seconds until a call may
be admitted again (``retry_after``), beside ``retry_at`` on the monotonic clock, in the field
and in the message."""

from __future__ import annotations

import pytest

from failover import (
    AllProvidersUnavailable,
    BreakerPolicy,
    CallNotPermitted,
    CircuitBreaker,
    ManualClock,
    RetryPolicy,
)
from failover._coordinator.coordinator import Coordinator
from failover.health import HealthCheckConfig
from failover.testing import ScriptedProvider
from statemachines import BreakerState

POLICY = BreakerPolicy(max_consecutive_failures=1, open_duration=30.0, open_jitter=0.0)


def fail() -> int:
    raise ConnectionError("down")


def test_a_rejection_says_the_seconds_left_from_when_it_was_raised() -> None:
    clock = ManualClock(100.0)
    breaker = CircuitBreaker("gemini", POLICY, clock=clock, hooks=())
    with pytest.raises(ConnectionError):
        breaker.call(fail)
    clock.advance(12.5)
    with pytest.raises(CallNotPermitted) as caught:
        breaker.call(lambda: 1)
    assert (caught.value.retry_at, caught.value.retry_after) == (130.0, 17.5)
    assert str(caught.value) == (
        "provider 'gemini' is open: call not permitted until t=130.000 (in 17.5 s)"
    )


def test_forced_open_has_no_time_to_give() -> None:
    breaker = CircuitBreaker("gemini", POLICY, clock=ManualClock(), hooks=())
    breaker.force_open()
    with pytest.raises(CallNotPermitted) as caught:
        breaker.call(lambda: 1)
    assert (caught.value.state, caught.value.retry_at, caught.value.retry_after) == (
        BreakerState.FORCED_OPEN,
        None,
        None,
    )
    assert str(caught.value).endswith("call not permitted until reset")


def test_built_without_the_time_it_has_no_retry_after() -> None:
    error = CallNotPermitted("p", BreakerState.OPEN, 42.0)
    assert (error.retry_at, error.retry_after) == (42.0, None)
    assert str(error) == "provider 'p' is open: call not permitted until t=42.000"
    late = CallNotPermitted("p", BreakerState.OPEN, 42.0, 50.0)
    assert late.retry_after == 0.0  # never negative


@pytest.mark.asyncio
async def test_all_down_says_the_seconds_until_the_earliest_provider_admits() -> None:
    clock = ManualClock()
    coordinator = Coordinator(
        [ScriptedProvider("a", lambda r: "ok"), ScriptedProvider("b", lambda r: "ok")],
        clock=clock,
        hooks=(),
        policy=POLICY,
        retry=RetryPolicy(max_attempts=1),
        health=HealthCheckConfig(enabled=False),
    )
    coordinator.breaker("a").force_open()
    with pytest.raises(ConnectionError):
        coordinator.breaker("b").call(fail)  # b: OPEN until t=30
    clock.advance(10.0)
    status = {p.name: p for p in coordinator.status().providers}
    assert (status["a"].retry_at, status["a"].retry_after) == (None, None)  # FORCED_OPEN
    assert (status["b"].retry_at, status["b"].retry_after) == (30.0, 20.0)
    with pytest.raises(AllProvidersUnavailable) as caught:
        await coordinator.generate("hi")
    assert (caught.value.retry_at, caught.value.retry_after) == (30.0, 20.0)
    assert str(caught.value) == (
        "no provider admits a call (a: forced_open (until an operator's reset); b: open, retry "
        "in 20.0 s); earliest retry at t=30.000 (in 20.0 s)"
    )
