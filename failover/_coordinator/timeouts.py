"""Timeouts on any Clock, and awaiting under a deadline that costs nothing when no one waits.

An attempt that answers at once (the provider's coroutine returns on its first step) never
needed a timer, and no timer could have fired before it answered: the coordinator steps a
coroutine once and arms the deadline (``resume_within``) only if it suspends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator
from types import TracebackType
from types import coroutine as types_coroutine
from typing import Any, TypeVar

from failover.clock import Clock, SystemClock

__all__ = ["await_within", "clock_timeout", "resume_within"]

T = TypeVar("T")


class _ClockTimeout:
    """``asyncio.timeout`` on any Clock: cancels the task when ``seconds`` have passed on it."""

    __slots__ = ("_clock", "_expired", "_seconds", "_task", "_watch")

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock, self._seconds = clock, seconds
        self._expired = False
        self._task: asyncio.Task[Any] | None = None
        self._watch: asyncio.Task[None] | None = None

    async def _watchdog(self) -> None:
        await self._clock.sleep(self._seconds)
        self._expired = True
        assert self._task is not None
        self._task.cancel()

    def expired(self) -> bool:
        """Whether the time ran out."""
        return self._expired

    async def __aenter__(self) -> _ClockTimeout:
        self._task = asyncio.current_task()
        self._watch = asyncio.get_running_loop().create_task(self._watchdog())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._watch is not None
        assert self._task is not None
        self._watch.cancel()
        if self._expired and self._task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc


def clock_timeout(clock: Clock, seconds: float) -> Any:
    """An async context manager raising TimeoutError after ``seconds`` of ``clock`` time."""
    if type(clock) is SystemClock:
        return asyncio.timeout(seconds)  # the loop's clock is time.monotonic too
    return _ClockTimeout(clock, seconds)


def _timeout_at(clock: Clock, deadline: float) -> Any:
    if type(clock) is SystemClock:
        return asyncio.timeout_at(deadline)
    return _ClockTimeout(clock, deadline - clock.monotonic())


@types_coroutine
def _resume(coro: Any, yielded: Any) -> Generator[Any, Any, Any]:
    """Go on awaiting ``coro``, which has already been stepped once and yielded ``yielded``:
    what the task sends or throws in goes on to ``coro``, exactly as if it were awaited."""
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def resume_within(clock: Clock, coro: Any, yielded: Any, deadline: float) -> Any:
    """Go on awaiting ``coro`` (stepped once, it yielded ``yielded``) until ``deadline`` on
    ``clock``: TimeoutError then."""
    async with _timeout_at(clock, deadline):
        return await _resume(coro, yielded)


async def await_within(clock: Clock, awaitable: Awaitable[T], deadline: float) -> T:
    """``await awaitable``, raising TimeoutError at ``deadline`` on ``clock``."""
    async with _timeout_at(clock, deadline):
        return await awaitable
