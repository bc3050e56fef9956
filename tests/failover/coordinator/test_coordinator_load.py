"""I6 and I7 under load: every request ends in a Result or exactly one library error, the
counts add up, and no request reaches a rejecting provider while another admits."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BreakerPolicy,
    FailoverError,
    ManualClock,
    Unavailable,
)
from failover._base.records import Result
from failover.retry import RetryPolicy
from failover.strategies import STRATEGIES
from failover.testing import ScriptedProvider, ScriptedRequest
from statemachines import FailoverReason
from tests.failover.coordinator.test_coordinator_support import answers, coordinator

REQUESTS = 10_000


async def settle(clock: ManualClock, tasks: list[asyncio.Task[object]]) -> None:
    """Run ``tasks`` to their end, moving the clock whenever they all wait on it."""
    while not all(t.done() for t in tasks):
        for _ in range(20):
            await asyncio.sleep(0)
        wake = clock.next_wakeup
        if wake is not None:
            clock.advance(max(wake - clock.monotonic(), 0.0))


@pytest.mark.asyncio
async def test_ten_thousand_concurrent_requests_each_end_once_and_the_counts_add_up() -> None:
    rng = random.Random(2024)
    clock = ManualClock()

    def flaky(name: str, failure_rate: float) -> ScriptedProvider:
        async def handler(request: ScriptedRequest) -> str:
            await asyncio.sleep(0)  # interleave with the other requests
            if rng.random() < failure_rate:
                raise Unavailable("503", provider=name)
            return name

        return ScriptedProvider(name, handler)

    providers = [flaky("a", 0.5), flaky("b", 0.2), flaky("c", 0.05)]
    c, _ = coordinator(
        *providers,
        clock=clock,
        policy=BreakerPolicy(open_duration=5.0),
        retry=RetryPolicy(max_attempts=3, request_timeout=30.0),
    )
    tasks = [asyncio.ensure_future(c.generate("x")) for _ in range(REQUESTS)]
    await settle(clock, tasks)  # type: ignore[arg-type]

    attempts = outcomes = 0
    kinds: dict[str, int] = {}
    for task in tasks:
        error = task.exception()
        if error is None:
            result = task.result()
            assert isinstance(result, Result)
            assert result.attempts[-1].error is None
            assert all(a.error is not None for a in result.attempts[:-1])
            attempts += len(result.attempts)
            kind = "result"
        else:
            assert isinstance(error, AllProvidersFailed | AllProvidersUnavailable), error
            if isinstance(error, AllProvidersFailed):
                assert error.__cause__ is error.attempts[-1].error
                attempts += len(error.attempts)
            kind = type(error).__name__
        kinds[kind] = kinds.get(kind, 0) + 1
        outcomes += 1
    assert outcomes == REQUESTS
    assert kinds["result"] > REQUESTS // 2
    assert sum(len(p.requests) for p in providers) == attempts
    finished = sum(
        c.breaker(p.name).statistics().lifetime_calls
        + c.breaker(p.name).statistics().lifetime_ignored
        for p in providers
    )
    assert finished == attempts  # every attempt told its breaker exactly once


# --- I7 over random provider states ------------------------------------------------------------

SHAPES = ("closed", "disabled", "forced_open", "open", "cooled", "half_open", "probing")
ADMITTING = {"closed", "disabled", "cooled", "half_open"}
NOW = 100.0


def shape(c: object, name: str, how: str) -> None:
    """Put ``name``'s breaker in the shape ``how`` (at t=0; the test then moves to NOW)."""
    breaker = c.breaker(name)  # type: ignore[attr-defined]
    if how == "disabled":
        breaker.disable()
    elif how == "forced_open":
        breaker.force_open()
    elif how != "closed":
        cooldown = 1000.0 if how == "open" else 50.0
        breaker.record_signal(FailoverReason.RATE_LIMITED, retry_after=cooldown)


@given(
    st.lists(st.sampled_from(SHAPES), min_size=1, max_size=6),
    st.sampled_from(STRATEGIES),
    st.integers(0, 2**16),
)
def test_no_request_reaches_a_rejecting_provider_while_another_admits(
    shapes: list[str], strategy: str, seed: int
) -> None:
    names = [f"p{i}" for i in range(len(shapes))]
    providers = [answers(n) for n in names]
    c, clock = coordinator(*providers, strategy=strategy, seed=seed,
                           policy=BreakerPolicy(open_jitter=0.0, open_duration=1.0))  # fmt: skip
    for name, how in zip(names, shapes, strict=True):
        shape(c, name, how)
    clock.advance(NOW)
    for name, how in zip(names, shapes, strict=True):
        if how in ("half_open", "probing"):
            c.breaker(name).tick()
        if how == "probing":
            c.breaker(name).admit()  # the one probe permit is taken
    admitting = {n for n, how in zip(names, shapes, strict=True) if how in ADMITTING}

    async def request() -> object:
        try:
            return await c.generate("x")
        except FailoverError as exc:
            return exc

    outcome = asyncio.run(request())
    called = {p.name for p in providers if p.requests}
    assert called <= admitting
    if admitting:
        assert isinstance(outcome, Result)
        assert outcome.provider in admitting
    else:
        assert isinstance(outcome, AllProvidersUnavailable)
        assert called == set()
