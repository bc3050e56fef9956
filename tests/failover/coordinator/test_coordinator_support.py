"""Helpers shared by the coordinator's tests (no tests here): scripted providers, a coordinator
on a ManualClock, and ``drive`` to run a request while moving the manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from failover import BreakerPolicy, ManualClock, Unavailable
from failover._coordinator.coordinator import Coordinator
from failover.provider import SearchResult
from failover.testing import ScriptedProvider, ScriptedRequest

__all__ = ["QUIET", "answers", "coordinator", "down", "drive", "script"]

T = TypeVar("T")

QUIET = BreakerPolicy(max_consecutive_failures=1000, minimum_calls=1000, open_jitter=0.0)
"""A policy that never trips on failures (signals such as AUTH_FAILED still trip it)."""


def answers(name: str) -> ScriptedProvider:
    """A provider that answers ``"<name>"`` at once (a one-chunk stream, one search hit
    titled so)."""

    def handler(request: ScriptedRequest) -> object:
        if request.kind == "stream":
            return [name]
        if request.kind == "search":
            return [SearchResult(name, f"https://{name}.example")]
        return name

    return ScriptedProvider(name, handler)


def down(name: str, error: Callable[[str], BaseException] | None = None) -> ScriptedProvider:
    """A provider that always fails with ``error(name)`` (default Unavailable)."""

    def handler(request: ScriptedRequest) -> object:
        raise error(name) if error else Unavailable("503", provider=name)

    return ScriptedProvider(name, handler)


def script(name: str, *outcomes: object) -> ScriptedProvider:
    """A provider whose n-th request gets the n-th outcome (an exception is raised); the last
    outcome repeats."""
    calls = [0]

    def handler(request: ScriptedRequest) -> object:
        outcome = outcomes[min(calls[0], len(outcomes) - 1)]
        calls[0] += 1
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return ScriptedProvider(name, handler)


def coordinator(*providers: Any, **kwargs: Any) -> tuple[Coordinator, ManualClock]:
    """A Coordinator over ``providers`` on a fresh ManualClock, no hooks, seed 0."""
    clock = kwargs.pop("clock", None) or ManualClock()
    kwargs.setdefault("hooks", ())
    kwargs.setdefault("seed", 0)
    return Coordinator(providers, clock=clock, **kwargs), clock


async def drive(clock: ManualClock, awaitable: Awaitable[T], *, limit: int = 1000) -> T:
    """Await ``awaitable``, moving ``clock`` to each next sleeper's wake-up time whenever
    everything else is stuck (so no test sleeps for real)."""
    task = asyncio.ensure_future(awaitable)
    for _ in range(limit):
        for _ in range(10):
            if task.done():
                return task.result()
            await asyncio.sleep(0)
        wake = clock.next_wakeup
        if wake is not None:
            clock.advance(max(wake - clock.monotonic(), 0.0))
    task.cancel()
    raise AssertionError(f"{awaitable!r} did not finish after {limit} clock steps")
