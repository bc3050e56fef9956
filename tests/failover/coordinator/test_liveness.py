"""Liveness through the runtime: time-driven transitions happen when time passes (L1), a
provider that admits calls again gets real requests within its strategy's bound (L2), and a
raising condition neither strands a breaker nor loses the provider's answer (L4)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover import BreakerPolicy, BreakerState, CircuitBreaker, ManualClock, Unavailable
from failover.status import ProviderStatus
from failover.strategies import STRATEGIES
from failover.testing import ScriptedProvider, ScriptedRequest
from statemachines import ConditionContext, FailoverReason, Verdict
from tests.failover.coordinator.test_coordinator_support import answers, coordinator

POLICY = BreakerPolicy(open_jitter=0.0)  # trips on 3 failures in a row, OPEN for 30 s


def outage(name: str, clock: ManualClock, start: float, end: float) -> ScriptedProvider:
    """A provider that fails from ``start`` until ``end`` (clock time) and answers otherwise."""

    def handler(request: ScriptedRequest) -> object:
        if start <= clock.monotonic() < end:
            raise Unavailable("503", provider=name)
        return name

    return ScriptedProvider(name, handler)


# --- L1 ---------------------------------------------------------------------------------------


def test_l1_reading_the_state_ends_a_half_open_that_nobody_probes() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("a", POLICY, clock=clock, hooks=())
    for _ in range(3):
        with pytest.raises(ZeroDivisionError):
            breaker.call(lambda: 1 / 0)
    clock.advance(30.0)
    assert breaker.state is BreakerState.HALF_OPEN  # read, not admitted: the cooldown is over
    clock.advance(POLICY.max_half_open_duration)
    assert breaker.state is BreakerState.OPEN
    assert [e.reason for e in breaker.events] == [
        FailoverReason.CONSECUTIVE_FAILURES,
        FailoverReason.COOLDOWN_ELAPSED,
        FailoverReason.PROBE_TIMEOUT,
    ]
    assert [e.at for e in breaker.events] == [0.0, 30.0, 90.0]


@pytest.mark.asyncio
async def test_l1_status_shows_the_state_time_has_moved_to() -> None:
    clock = ManualClock()
    c, _ = coordinator(outage("a", clock, 0.0, 1.0), answers("b"), policy=POLICY, clock=clock)
    for _ in range(3):
        await c.generate("x")
    assert c.status().provider("a").state is BreakerState.OPEN
    clock.advance(30.0)
    assert c.status().provider("a").state is BreakerState.HALF_OPEN
    clock.advance(60.0)
    status = c.status().provider("a")
    assert (status.state, status.retry_at) == (BreakerState.OPEN, 90.0 + 60.0)


@pytest.mark.asyncio
async def test_l1_selection_moves_a_provider_its_strategy_never_reaches() -> None:
    def only_b(statuses: Sequence[ProviderStatus]) -> Sequence[ProviderStatus]:
        return [s for s in statuses if s.name == "b"]

    policy = POLICY.with_changes(open_duration=5.0)
    c, clock = coordinator(answers("a"), answers("b"), strategy=only_b, policy=policy)
    c.breaker("a").record_signal(FailoverReason.RATE_LIMITED)  # OPEN until 5
    clock.advance(5.0)
    assert (await c.generate("x")).provider == "b"  # the pick moved a to HALF_OPEN...
    clock.advance(60.0)
    assert (await c.generate("x")).provider == "b"  # ...and, unprobed, back to OPEN
    assert [e.reason for e in c.breaker("a").events][-2:] == [
        FailoverReason.COOLDOWN_ELAPSED,
        FailoverReason.PROBE_TIMEOUT,
    ]
    assert [e.at for e in c.breaker("a").events][-2:] == [5.0, 65.0]


# --- L2 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.asyncio
async def test_l2_the_first_request_after_the_cooldown_probes_the_provider(strategy: str) -> None:
    """The recovery bound every built-in strategy shares: once a provider's OPEN deadline has
    passed, the next request is sent to it first (as a probe)."""
    clock = ManualClock()
    a = outage("a", clock, 0.0, 20.0)
    c, _ = coordinator(a, answers("b"), answers("c"), strategy=strategy, policy=POLICY, clock=clock)
    while c.breaker("a").state is not BreakerState.OPEN:
        await c.generate("x")  # every strategy reaches a within a few requests
        clock.advance(0.5)
    retry_at = c.breaker("a").retry_at
    assert retry_at is not None
    served = []
    while clock.monotonic() < retry_at:
        served.append((await c.generate("x")).attempts[0].provider)
        clock.advance(1.0)
    assert "a" not in served  # rejecting: nothing sent (I4, I7)
    result = await c.generate("x")
    assert (result.attempts[0].provider, result.provider) == ("a", "a")
    assert c.breaker("a").state is BreakerState.CLOSED


@given(
    outage_end=st.floats(1.0, 200.0),
    priority=st.sampled_from([0.0, 1.0]),
    every=st.sampled_from([0.1, 0.5, 2.0]),
)
@settings(max_examples=25, deadline=None)
def test_l2_a_recovered_primary_wins_its_traffic_back(
    outage_end: float, priority: float, every: float
) -> None:
    """success_rate: once the primary is CLOSED again its score cannot be told from the
    backup's, so priority (at equal priority: latency, then registration order) gives it every
    request again, within one open duration (at most max_open_duration) of its outage's end."""

    async def run() -> list[tuple[float, str]]:
        clock = ManualClock()
        primary = outage("primary", clock, 0.0, outage_end)
        c, _ = coordinator(
            primary, answers("backup"), policy=POLICY, clock=clock,
            priorities={"primary": priority},
        )  # fmt: skip
        served: list[tuple[float, str]] = []
        while clock.monotonic() < outage_end + POLICY.max_open_duration + 20 * every:
            served.append((clock.monotonic(), (await c.generate("x")).provider))
            clock.advance(every)
        return served

    served = asyncio.run(run())
    last_elsewhere = max(t for t, provider in served if provider != "primary")
    # the open duration in force when the outage ended is at most max_open_duration
    assert last_elsewhere <= outage_end + POLICY.max_open_duration + every
    assert [p for t, p in served if t > last_elsewhere] == ["primary"] * sum(
        t > last_elsewhere for t, _ in served
    )


# --- L4: a raising condition ----------------------------------------------------------------


def _broken(ctx: ConditionContext) -> Verdict:
    raise KeyError("threshold")


def test_l4_a_raising_condition_keeps_the_answer_logs_once_and_shows_in_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("a", BreakerPolicy(trip_condition=_broken), clock=clock, hooks=())
    with caplog.at_level(logging.ERROR, logger="failover"):
        assert [breaker.call(lambda: "answer") for _ in range(3)] == ["answer"] * 3
        for _ in range(3):
            with pytest.raises(ZeroDivisionError):  # the provider's own error, unchanged
                breaker.call(lambda: 1 / 0)
    stats = breaker.statistics()
    assert stats.condition_errors == 6  # a plain callable is evaluated after every outcome
    assert stats.last_condition_error == "trip: KeyError: 'threshold'"
    assert breaker.state is BreakerState.CLOSED
    assert breaker.events == ()
    logged = [r.getMessage() for r in caplog.records if "raised KeyError" in r.getMessage()]
    assert len(logged) == 1
    assert "provider 'a'" in logged[0]


@pytest.mark.asyncio
async def test_l4_status_carries_a_raising_conditions_count() -> None:
    policy = BreakerPolicy(trip_condition=_broken)
    c, _ = coordinator(answers("a"), policy=policy)
    assert (await c.generate("x")).provider == "a"  # the answer evaluates the broken rule
    status = c.status().provider("a")
    assert status.condition_errors == 1
    assert status.last_condition_error is not None
    assert status.last_condition_error.startswith("trip: KeyError")
