"""Coordinator: how long an attempt may take (attempt timeout, request deadline), on the manual
clock and on the system clock, and what cancelling a request records.

An attempt's timer is armed only if the provider suspends (a coroutine is stepped once first);
these tests cover both sides of that: answering at once, and answering or failing after a
suspension, with the limit counted from the attempt's start either way.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from failover import AllProvidersFailed, ManualClock, ProviderTimeout, Unavailable
from failover._coordinator.coordinator import Coordinator
from failover.retry import RetryPolicy
from failover.testing import ScriptedProvider, ScriptedRequest
from tests.failover.coordinator.test_coordinator_support import answers, coordinator, drive

# --- timeouts and cancellation -------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("busy", [0.0, 1.5])
async def test_an_attempt_timeout_is_a_provider_timeout_failure_then_failover(busy: float) -> None:
    clock = ManualClock()

    async def slow(request: ScriptedRequest) -> str:
        # busy before its first await: the timer, armed only at the await, still counts the
        # attempt's limit from its start
        clock.advance(busy)
        await clock.sleep(10.0)
        return "late"

    c, _ = coordinator(
        ScriptedProvider("a", slow),
        answers("b"),
        retry=RetryPolicy(attempt_timeout=2.0),
        clock=clock,
    )
    result = await drive(clock, c.generate("x"))
    assert result.provider == "b"
    first = result.attempts[0]
    assert isinstance(first.error, ProviderTimeout)
    assert (first.provider, first.duration) == ("a", 2.0)
    assert c.breaker("a").statistics().failures == 1


@pytest.mark.asyncio
async def test_the_request_deadline_cuts_the_attempt() -> None:
    clock = ManualClock()

    async def hang(request: ScriptedRequest) -> str:
        await clock.sleep(1000.0)
        return "never"

    c, _ = coordinator(
        ScriptedProvider("a", hang), retry=RetryPolicy(request_timeout=5.0), clock=clock
    )
    with pytest.raises(AllProvidersFailed) as caught:
        await drive(clock, c.generate("x"))
    assert isinstance(caught.value.__cause__, ProviderTimeout)
    assert clock.monotonic() == 5.0


@pytest.mark.asyncio
async def test_cancelling_the_request_cancels_the_attempt_and_records_nothing() -> None:
    started = asyncio.Event()

    async def hang(request: ScriptedRequest) -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    c, _ = coordinator(ScriptedProvider("a", hang))
    task = asyncio.ensure_future(c.generate("x"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = c.breaker("a").statistics()
    assert (stats.calls, stats.lifetime_ignored) == (0, 1)


# --- on the system clock: the deadline armed only after a suspension --------------------------


def suspends(name: str, times: int, then: object) -> ScriptedProvider:
    """A provider that yields to the event loop ``times`` times, then answers ``then`` (or
    raises it)."""

    async def handler(request: ScriptedRequest) -> object:
        for _ in range(times):
            await asyncio.sleep(0)
        if isinstance(then, BaseException):
            raise then
        return then

    return ScriptedProvider(name, handler)


@pytest.mark.asyncio
async def test_an_answer_after_suspending_comes_through_the_armed_deadline() -> None:
    c = Coordinator([suspends("a", 3, "a"), answers("b")], hooks=())  # SystemClock, deadline 60 s
    result = await c.generate("x")
    assert (result.value.text, result.provider, len(result.attempts)) == ("a", "a", 1)
    assert c.breaker("a").statistics().lifetime_calls == 1


@pytest.mark.asyncio
async def test_an_error_after_suspending_is_a_failure_that_fails_over() -> None:
    failing = suspends("a", 2, Unavailable("503", provider="a"))
    c = Coordinator([failing, answers("b")], hooks=())
    result = await c.generate("x")
    assert [(t.provider, type(t.error)) for t in result.attempts] == [
        ("a", Unavailable),
        ("b", type(None)),
    ]
    assert c.breaker("a").statistics().failures == 1


@pytest.mark.asyncio
async def test_cancelling_a_suspended_attempt_is_a_cancellation_not_a_timeout() -> None:
    started = asyncio.Event()

    async def hang(request: ScriptedRequest) -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    c = Coordinator([ScriptedProvider("a", hang)], hooks=(), retry=RetryPolicy())
    task = asyncio.ensure_future(c.generate("x"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = c.breaker("a").statistics()
    assert (stats.calls, stats.lifetime_ignored) == (0, 1)


# --- call() with an awaitable that is not a coroutine -------------------------------------------


@pytest.mark.asyncio
async def test_call_awaits_a_future_under_the_deadline() -> None:
    c, clock = coordinator(answers("a"), answers("b"), retry=RetryPolicy(attempt_timeout=2.0))
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Future[Any]] = []

    def future_of(provider: Any) -> asyncio.Future[Any]:
        future = loop.create_future()
        if provider.name == "a":
            pending.append(future)  # never resolved: a times out
        else:
            future.set_result(provider.name)
        return future

    result = await drive(clock, c.call(future_of))
    assert (result.value, [t.provider for t in result.attempts]) == ("b", ["a", "b"])
    assert isinstance(result.attempts[0].error, ProviderTimeout)
    assert result.attempts[0].duration == 2.0
    assert pending[0].cancelled()
