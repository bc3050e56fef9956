"""Helpers shared by the runtime breaker's tests: breakers on a ManualClock, and one way to run
a body through each of the breaker's entry points (call, acall, guard, decorator)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import pytest

from failover import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    ManualClock,
    Unavailable,
)

__all__ = [
    "ENTRY_POINTS",
    "PROBING",
    "fail",
    "half_open",
    "make",
    "raising",
    "run_through",
    "tripped",
]

T = TypeVar("T")

PROBING = BreakerPolicy(
    max_consecutive_failures=1,
    open_duration=10.0,
    open_jitter=0.0,
    half_open_max_calls=2,
    max_half_open_duration=60.0,
)
"""Trips on the first failure, cools down for exactly 10 s, then admits 2 probes."""

ENTRY_POINTS = ("call", "acall", "guard", "async_guard", "decorator", "async_decorator")


def make(policy: BreakerPolicy = PROBING, **kwargs: Any) -> tuple[CircuitBreaker, ManualClock]:
    """A breaker named "p" on a fresh ManualClock, with no hooks unless given."""
    clock = ManualClock()
    kwargs.setdefault("hooks", ())
    return CircuitBreaker("p", policy, clock=clock, **kwargs), clock


def fail() -> None:
    """A provider call that fails."""
    raise Unavailable("503", provider="p")


def raising(error: BaseException) -> Callable[[], NoReturn]:
    """A provider call that raises ``error``."""

    def provider() -> NoReturn:
        raise error

    return provider


def tripped(policy: BreakerPolicy = PROBING, **kwargs: Any) -> tuple[CircuitBreaker, ManualClock]:
    """A breaker OPEN after failures, its cooldown not yet over."""
    breaker, clock = make(policy, **kwargs)
    for _ in range(1000):
        if breaker.state is not BreakerState.CLOSED:
            break
        with pytest.raises(Unavailable):
            breaker.call(fail)
    assert breaker.state is BreakerState.OPEN
    return breaker, clock


def half_open(policy: BreakerPolicy = PROBING, **kwargs: Any) -> tuple[CircuitBreaker, ManualClock]:
    """A breaker just moved to HALF_OPEN, no probe admitted yet."""
    breaker, clock = tripped(policy, **kwargs)
    assert breaker.retry_at is not None
    clock.advance(breaker.retry_at - clock.monotonic())
    breaker.tick()
    assert breaker.state is BreakerState.HALF_OPEN
    return breaker, clock


def run_through(breaker: CircuitBreaker, how: str, body: Callable[[], T]) -> T:
    """Run ``body`` through one of ENTRY_POINTS (the async ones on a fresh event loop).

    Through a guard, ``body``'s result is returned but the breaker never sees it.
    """
    if how == "call":
        return breaker.call(body)
    if how == "decorator":
        return breaker(body)()
    if how == "guard":
        with breaker.guard():
            return body()

    async def coroutine() -> T:
        return body()

    async def guarded() -> T:
        async with breaker.guard():
            return body()

    if how == "acall":
        return asyncio.run(breaker.acall(coroutine))
    if how == "async_decorator":
        return asyncio.run(breaker(coroutine)())
    assert how == "async_guard", how
    return asyncio.run(guarded())
