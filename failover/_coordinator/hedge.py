"""Hedged requests: when an attempt has not answered after ``hedge_after`` seconds, the next
candidate is started beside it; the first success wins and the others are cancelled.

A cancelled hedge is a cancellation, not a failure: its breaker records it as IGNORED (as any
cancelled call) and it is not one of the request's attempts. Hedges count against
``max_attempts`` from the moment they start, and the request's deadline bounds them all. A
hedge is only started when a provider admits a call at that moment: hedging never waits for a
backoff or a cooldown; failing over after a failure does, as without hedging. Hedges go to
providers only, never to a fallback (a fallback is tried only when nothing is running), and a
running fallback does not count against ``max_attempts``. A request-level error (BadRequest,
...) from any attempt cancels the others and is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from failover._base.records import Result, traced_result
from failover._coordinator.plan import Plan
from failover._coordinator.slot import Slot

__all__ = ["run_hedged"]

T = TypeVar("T")
_Outcome = tuple[Any, BaseException | None]


async def run_hedged(
    plan: Plan, fn: Callable[[Any], Awaitable[T]], hedge_after: float
) -> Result[T]:
    """Run one request with hedging (see the module docstring)."""
    running: dict[asyncio.Task[_Outcome], Slot] = {}
    try:
        return await _race(plan, fn, hedge_after, running)
    finally:
        await _cancel(running)


async def _race(
    plan: Plan,
    fn: Callable[[Any], Awaitable[T]],
    hedge_after: float,
    running: dict[asyncio.Task[_Outcome], Slot],
) -> Result[T]:
    settings = plan.pool.settings
    clock = settings.clock
    max_attempts = settings.retry.max_attempts
    can_hedge = True
    while True:
        if not running:
            picked = await plan.next()
            if picked is None:
                raise plan.unavailable()
            _start(plan, fn, picked, running)
            can_hedge = True
        timer = None
        if can_hedge and plan.spent + _ranked(plan, running) < max_attempts:
            timer = asyncio.ensure_future(clock.sleep(hedge_after))
        try:
            waiting: set[asyncio.Future[Any]] = set(running)
            if timer is not None:
                waiting.add(timer)
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if timer is not None and not timer.done():
                timer.cancel()
                await asyncio.wait((timer,))  # gone before we go on: no task left behind
        for task in [t for t in running if t in done]:
            slot = running.pop(task)
            value, error = task.result()  # a request-level error propagates from here
            if error is None:
                return traced_result(value, slot.name, tuple(plan.attempts), plan.skipped())
            can_hedge = True
        if timer is not None and timer in done:
            picked = plan.pick_now()
            if picked is None:
                can_hedge = False  # nobody to hedge to now: wait for what runs
            else:
                _start(plan, fn, picked, running)


def _ranked(plan: Plan, running: dict[asyncio.Task[_Outcome], Slot]) -> int:
    """How many of the running attempts are at providers (fallbacks do not count)."""
    return sum(slot.ordering is not None for slot in running.values())


def _start(
    plan: Plan,
    fn: Callable[[Any], Awaitable[T]],
    picked: tuple[Slot, int],
    running: dict[asyncio.Task[_Outcome], Slot],
) -> None:
    slot, generation = picked
    plan.tries.setdefault(slot.index, 0)  # running: not fresh any more for the next pick
    task = asyncio.ensure_future(plan.attempt(slot, generation, fn))
    running[task] = slot


async def _cancel(running: dict[asyncio.Task[_Outcome], Slot]) -> None:
    """Cancel the losers and wait for them (each records its cancellation as IGNORED)."""
    tasks = list(running)
    running.clear()
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: a loser's late error is not the request's
