"""``call`` and ``acall``: the breaker around one function call (internal: CircuitBreaker's base).

Each has a fast path and a slow one. The fast path (``failover._breaker.fast``) runs while the
breaker is in a quiet CLOSED generation: the clock read twice, the function called, a plain success
counted without a lock. Anything else (a raise, a slow call, a coroutine handed to ``call``)
leaves it for ``finish``, which takes the lock; and while the fast path is closed, the slow
path admits with ``admit`` and records under the lock, then opens the fast path when the
generation has become quiet.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from failover._base.hooks import Dispatcher
from failover._breaker.fast import Counting
from statemachines import FailoverEvent, Outcome

if TYPE_CHECKING:
    from failover._breaker.link import SharedBreaker

__all__ = ["Calling", "NotAwaitable"]

P = ParamSpec("P")
R = TypeVar("R")

_SUCCESS, _SLOW = Outcome.SUCCESS, Outcome.SLOW_SUCCESS
_COROUTINE = types.CoroutineType


class NotAwaitable(Exception):
    """``acall``'s function returned something that is not awaitable (internal)."""

    def __init__(self, fn: object) -> None:
        self.fn = fn


class Calling(Counting):
    """``call`` and ``acall`` on top of ``admit``, ``release`` and ``finish``."""

    __slots__ = ()

    _dispatcher: Dispatcher
    _plain_success: bool
    _queue: deque[FailoverEvent]
    _replica: SharedBreaker | None

    if TYPE_CHECKING:

        def admit(self) -> int: ...
        def release(self, generation: int) -> None: ...
        def finish(
            self,
            generation: int,
            started: float,
            exc: BaseException | None,
            result: object = None,
        ) -> float: ...

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn(*args, **kwargs)`` through the breaker.

        Returns its result or raises its own exception unchanged, or CallNotPermitted (I6).
        """
        fast = self._fast
        if fast is not None:
            bump, now, slow, generation = fast
        else:  # the slow path, in this frame: a rejection unwinds one frame less
            machine = self._machine
            generation = machine.generation  # read before the flag: see free_admission
            if not machine.free_admission:
                if not callable(fn):
                    raise TypeError(f"breaker.call(fn, *args) needs a callable, got {fn!r}")
                generation = self.admit()
            now = self._now
        started = now()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self.raised(fn, generation, started, exc)
            raise
        if fast is not None and now() - started < slow and type(result) is not _COROUTINE:
            bump()
            return result
        return self.ended(fn, generation, started, result)

    def ended(self, fn: object, generation: int, started: float, result: R) -> R:
        """A call returned off the fast path: record it (or refuse a coroutine)."""
        if not self._plain_success or type(result) is _COROUTINE:
            return self.returned(fn, generation, started, result)
        end = self._now()
        self._record_plain(generation, _SUCCESS if end - started < self._slow else _SLOW, end)
        return result

    def raised(self, fn: object, generation: int, started: float, exc: BaseException) -> None:
        """A call admitted in ``generation`` raised ``exc``: record it (or, when ``fn`` was
        not callable, give the admission back and raise TypeError)."""
        if not callable(fn):
            self.release(generation)
            raise TypeError(f"breaker.call(fn, *args) needs a callable, got {fn!r}") from None
        self.finish(generation, started, exc)

    def returned(self, fn: object, generation: int, started: float, result: R) -> R:
        """A call returned ``result`` off the fast path: a coroutine is refused (TypeError),
        anything else recorded by ``finish`` (a slow success, or the classifier's verdict)."""
        if type(result) is _COROUTINE:
            result.close()  # type: ignore[attr-defined]
            self.release(generation)
            raise TypeError(
                f"breaker.call() got a coroutine from {fn!r}; "
                "use `await breaker.acall(fn, *args)` for an async function"
            )
        self.finish(generation, started, None, result)
        return result

    def _record_plain(self, generation: int, outcome: Outcome, end: float) -> None:
        """A plain success or slow success, off the fast path; then maybe open it."""
        lock = self._lock
        lock.acquire()
        try:
            self._fold()
            self._outcomes[outcome] += 1
            replica = self._replica
            if replica is None or not replica.finished(generation, outcome):
                if outcome is _SUCCESS:
                    self._machine.record_success(generation, end)
                else:
                    self._machine.record(generation, outcome, end)
            if self._fast is None and self._fastable:
                self._arm()
        finally:
            lock.release()
        if self._queue:
            self._dispatcher.drain()

    async def acall(self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Await ``fn(*args, **kwargs)`` through the breaker (no lock is held across it)."""
        fast = self._fast
        if fast is not None:
            bump, now, slow, generation = fast
        else:  # the slow path
            if not callable(fn):
                raise TypeError(f"await breaker.acall(fn, *args) needs a callable, got {fn!r}")
            self.bind_loop()
            generation = self.admit()
            now, slow = self._now, self._slow
        started = now()
        try:
            awaitable = fn(*args, **kwargs)
            if type(awaitable) is not _COROUTINE and not inspect.isawaitable(awaitable):
                raise NotAwaitable(fn)
            result = await awaitable
        except BaseException as exc:
            self.araised(fn, generation, started, exc)
            raise
        if fast is not None and now() - started < slow:
            bump()
        else:
            self.aended(generation, started, result)
        return result

    def aended(self, generation: int, started: float, result: object) -> None:
        """An awaited call returned off the fast path: record it."""
        self.bind_loop()
        if self._plain_success:
            end = self._now()
            outcome = _SUCCESS if end - started < self._slow else _SLOW
            self._record_plain(generation, outcome, end)
        else:
            self.finish(generation, started, None, result)

    def araised(self, fn: object, generation: int, started: float, exc: BaseException) -> None:
        """``acall``'s counterpart of ``raised``."""
        if isinstance(exc, NotAwaitable):
            self.release(generation)
            raise TypeError(
                f"breaker.acall() needs an async function; {exc.fn!r} returned a plain value: "
                "use breaker.call(fn, *args) for a plain function"
            ) from None
        if not callable(fn):
            self.release(generation)
            raise TypeError(
                f"await breaker.acall(fn, *args) needs a callable, got {fn!r}"
            ) from None
        self.bind_loop()
        self.finish(generation, started, exc)

    def bind_loop(self) -> None:
        """Remember the running loop, for async hooks fired from another thread."""
        dispatcher = self._dispatcher
        if dispatcher.loop is None and dispatcher.hooks:
            dispatcher.loop = asyncio.get_running_loop()
