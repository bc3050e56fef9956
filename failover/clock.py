"""Time for the runtime: one Clock protocol injected everywhere, the system clock, and a manual
clock for tests and simulations. No other module of the library reads time."""

from __future__ import annotations

import asyncio
import datetime
import heapq
import itertools
import math
import time
from typing import Final, Protocol, runtime_checkable

from failover._base.numbers import finite, in_range
from statemachines import ConfigurationError

__all__ = [
    "MANUAL_WALL_START",
    "Clock",
    "ManualClock",
    "SystemClock",
    "utc_text",
    "wall_ns",
    "wall_of",
]


def wall_ns() -> int:
    """Unix time in nanoseconds: what hosts can compare, to order what they do (operator
    actions in distributed mode, ``failover._distributed.shared_breaker``); never a duration
    (the Clock's job)."""
    return time.time_ns()


MANUAL_WALL_START: Final = 1_767_225_600.0
"""The wall-clock time (UTC epoch seconds: 2026-01-01T00:00:00Z) a ManualClock reads when its
monotonic time is its start, unless given another: its wall time is deterministic too."""


def wall_of(clock: object) -> float:
    """The wall-clock time (UTC epoch seconds) of ``clock``: its ``wall()`` when it has one (a
    ManualClock's is deterministic), else the system's."""
    wall = getattr(clock, "wall", None)
    return float(wall()) if callable(wall) else time.time()


def utc_text(wall: float | None) -> str | None:
    """UTC epoch seconds as ISO 8601 with milliseconds (``2026-12-05T04:31:07.123Z``)."""
    if wall is None or not math.isfinite(wall):
        return None
    try:
        moment = datetime.datetime.fromtimestamp(wall, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@runtime_checkable
class Clock(Protocol):
    """A monotonic clock and a way to wait on it."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The real thing: ``time.monotonic`` and ``asyncio.sleep``."""

    __slots__ = ()

    # The builtin itself: clock.monotonic() costs no Python frame on the hot path.
    monotonic = staticmethod(time.monotonic)
    wall = staticmethod(time.time)  # UTC epoch seconds, for people (never a duration)

    async def sleep(self, seconds: float) -> None:
        """Wait on the event loop."""
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to (``advance``): tests and simulations.

    Sleepers wake in the order of their wake-up time (then of their call) as ``advance`` passes
    it; ``sleep(0)`` or a negative duration yields once without waiting.
    """

    def __init__(self, start: float = 0.0, *, wall_start: float = MANUAL_WALL_START) -> None:
        for name, value in (("start", start), ("wall_start", wall_start)):
            if not finite(value):
                raise ConfigurationError(
                    f"ManualClock({name}) must be a finite number, got {value!r}"
                )
        self._now = float(start)
        self._wall_offset = float(wall_start) - float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        """The current manual time."""
        return self._now

    def wall(self) -> float:
        """The wall-clock time (UTC epoch seconds): ``wall_start`` plus the time advanced."""
        return self._now + self._wall_offset

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for time to pass."""
        return sum(1 for *_, f in self._sleepers if not f.done())

    @property
    def next_wakeup(self) -> float | None:
        """The earliest time a sleeper waits for, if any."""
        pending = [when for when, _, f in self._sleepers if not f.done()]
        return min(pending) if pending else None

    async def sleep(self, seconds: float) -> None:
        """Wait until ``advance`` has moved the clock ``seconds`` forward."""
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or math.isnan(seconds):
            raise ConfigurationError(
                f"ManualClock.sleep(seconds) takes a number (inf waits forever), got {seconds!r}"
            )
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward and wake, in order, every sleeper whose time has come.

        Woken tasks run when the event loop next gets control (e.g. ``await asyncio.sleep(0)``).
        """
        if not in_range(seconds, 0, math.inf):
            raise ConfigurationError(
                f"ManualClock.advance(seconds) takes a finite number >= 0, got {seconds!r}; "
                "a monotonic clock never goes back"
            )
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r}, sleepers={self.sleepers})"
