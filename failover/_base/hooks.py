"""Hook objects and their dispatch (failover.hooks re-exports the public ones; the
semantics are in its docstring). The logger keeps the public name ``failover.hooks``."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from failover._base.log import get_logger
from failover.secrets import redact
from statemachines import FailoverEvent, Outcome, State

logger = get_logger("failover.hooks")

TransitionHook: TypeAlias = Callable[[FailoverEvent], "Awaitable[None] | None"]


class BreakerHook:
    """Base class for hooks: override what you need; the rest costs nothing.

    Overriding ``on_call`` or ``on_rejected`` puts a call into every call (or rejection) of the
    breakers the hook is given to; ``on_transition`` runs only when a breaker changes state.
    """

    def on_transition(self, event: FailoverEvent) -> Awaitable[None] | None:
        """A breaker changed state (one event per transition)."""
        return None

    def on_call(self, provider: str, outcome: Outcome, duration: float) -> None:
        """A call admitted by the breaker finished (called on the caller's path: keep it cheap)."""

    def on_rejected(self, provider: str, state: State) -> None:
        """A call was rejected with CallNotPermitted."""


Hook: TypeAlias = BreakerHook | TransitionHook


class FunctionHook(BreakerHook):
    def __init__(self, fn: TransitionHook) -> None:
        self.fn = fn

    def on_transition(self, event: FailoverEvent) -> Awaitable[None] | None:
        return self.fn(event)

    def __repr__(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))


class LoggingHook(BreakerHook):
    """One log line per transition on logger ``failover.hooks``, with structured ``extra``.

    At ``level`` (INFO by default), or WARNING when the breaker becomes UNHEALTHY. The library
    logs nothing else but errors; with no logging configured nothing reaches stderr (the
    package logger ``failover`` has a NullHandler).

    The provider's name is passed through ``failover.secrets.redact`` (whatever the logger).
    """

    def __init__(self, logger_: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.logger = logger_ or logger
        self.level = level

    def on_transition(self, event: FailoverEvent) -> None:
        level = logging.WARNING if event.dest.health.value == "unhealthy" else self.level
        if not self.logger.isEnabledFor(level):
            return
        provider = redact(event.provider)  # any logger: not only failover's, which redacts
        self.logger.log(
            level,
            "breaker %s: %s -> %s (%s) seq=%d",
            provider,
            event.source.value,
            event.dest.value,
            event.reason.value,
            event.seq,
            extra={
                "failover_provider": provider,
                "failover_source": event.source.value,
                "failover_dest": event.dest.value,
                "failover_reason": event.reason.value,
                "failover_seq": event.seq,
                "failover_generation": event.generation,
                "failover_at": event.at,
            },
        )

    def __repr__(self) -> str:
        return f"LoggingHook({self.logger.name!r})"


def overrides(hook: BreakerHook, method: str) -> bool:
    """Whether ``hook`` overrides ``method`` of BreakerHook."""
    return getattr(type(hook), method) is not getattr(BreakerHook, method)


class Dispatcher:
    """Delivers queued events to transition hooks in seq order, outside the breaker's lock.

    Any thread may append; whichever finds the delivery lock free drains the queue, and it
    re-checks after releasing, so no event is stranded. A hook that calls back into the breaker
    queues its events behind the one being delivered.
    """

    def __init__(self, hooks: tuple[BreakerHook, ...]) -> None:
        self.hooks = tuple(h for h in hooks if overrides(h, "on_transition"))
        self.queue: deque[FailoverEvent] = deque()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def drain(self) -> None:
        """Deliver every queued event (returns at once if another thread is delivering)."""
        while self.queue:
            if not self._lock.acquire(blocking=False):
                return
            try:
                while self.queue:
                    self._deliver(self.queue.popleft())
            finally:
                self._lock.release()

    def _deliver(self, event: FailoverEvent) -> None:
        for hook in self.hooks:
            try:
                result = hook.on_transition(event)
                if inspect.isawaitable(result):
                    self._schedule(hook, result)
            except Exception:
                logger.exception("failover hook %r raised on %r; ignored", hook, event)

    def _schedule(self, hook: BreakerHook, awaitable: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception:
                logger.exception("failover async hook %r raised; ignored", hook)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            home = self.loop if self.loop is not None and self.loop.is_running() else None
            if home is None:
                asyncio.run(run())  # no loop anywhere: run it to completion here
            else:
                asyncio.run_coroutine_threadsafe(run(), home)
            return
        task = running.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
