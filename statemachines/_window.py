"""The sliding windows a circuit breaker records call outcomes into.

Two frozen, hashable specs, held by a policy, each ``create()`` a fresh mutable `Window`:
`CountWindow` (the last ``size`` outcomes, in a ring) and `TimeWindow` (the last ``seconds``,
in ``buckets`` equal time buckets). Pure: no I/O, no clock reads; time comes in as ``now``,
monotonic seconds. Recording is O(1) (a time window also rolls past expired buckets, at most
O(buckets) for any gap); memory is O(size) or O(buckets).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import attrs

from statemachines._checks import MAX_WINDOW_SECONDS, MAX_WINDOW_SIZE, shown
from statemachines._errors import ConfigurationError

__all__ = ["CountWindow", "TimeWindow", "Window"]

_FAILED = 1
_SLOW = 2
_MAX_BUCKETS = 10_000


class Window(Protocol):
    """A mutable window of recent call outcomes.

    The three counts are plain attributes, read on every call; they always describe the
    outcomes inside the window as of the latest time the window has seen.

    Attributes:
        calls: Outcomes currently inside the window.
        failures: Failed outcomes currently inside the window.
        slow_calls: Slow outcomes (failed or not) currently inside the window.
        expired: Set when outcomes have left the window by age (a time window rolling past
            them); whoever reads it resets it. A count window never sets it: its outcomes leave
            only when a record pushes them out.
    """

    calls: int
    failures: int
    slow_calls: int
    expired: bool

    def record(self, failed: bool, slow: bool, now: float) -> None:
        """Bring the window up to ``now``, then add one outcome.

        Args:
            failed: Whether the call failed.
            slow: Whether the call was slow.
            now: The current monotonic time, in seconds.
        """

    def record_success(self, now: float) -> None:
        """``record(False, False, now)``, faster: the common case."""

    def record_successes(self, count: int, now: float) -> None:
        """``record_success(now)`` ``count`` times, at once (``count`` >= 0)."""

    def advance(self, now: float) -> None:
        """Bring the counts up to date at ``now`` without recording anything.

        Args:
            now: The current monotonic time, in seconds.
        """

    def clear(self) -> None:
        """Empty the window."""


def _field_name(instance: object, attribute: attrs.Attribute[Any]) -> str:
    return f"{type(instance).__name__}.{attribute.name}"


def _check_size(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        name = _field_name(instance, attribute)
        raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}")
    if value > MAX_WINDOW_SIZE:
        name = _field_name(instance, attribute)
        raise ConfigurationError(
            f"{name} must be an int from 1 to {MAX_WINDOW_SIZE} (the window keeps one slot per "
            f"call), got {shown(value)}"
        )


def _check_buckets(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_BUCKETS:
        name = _field_name(instance, attribute)
        raise ConfigurationError(f"{name} must be an int >= 1 and <= {_MAX_BUCKETS}, got {value!r}")


def _finite_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too big for a float
        return None
    return number if math.isfinite(number) else None


def _check_seconds(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    number = _finite_float(value)
    if number is None or number <= 0:
        name = _field_name(instance, attribute)
        raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")
    if number > MAX_WINDOW_SECONDS:
        name = _field_name(instance, attribute)
        raise ConfigurationError(
            f"{name} must be a finite number > 0 and <= {MAX_WINDOW_SECONDS:g} (one day), "
            f"got {shown(value)}"
        )


@attrs.frozen
class CountWindow:
    """A window of the last ``size`` outcomes.

    Attributes:
        size: How many of the most recent outcomes the window holds (an int from 1 to
            ``MAX_WINDOW_SIZE``, 10,000).

    Raises:
        ConfigurationError: If ``size`` is not an int from 1 to 10,000.
    """

    size: int = attrs.field(default=100, validator=_check_size)

    def create(self) -> Window:
        """Return a fresh, empty window of this shape."""
        return CountRing(self.size)


@attrs.frozen
class TimeWindow:
    """A window of the outcomes of the last ``seconds``, kept in ``buckets`` equal buckets.

    Time is cut into buckets of width ``seconds / buckets``; an outcome recorded at time ``t``
    is inside the window at time ``now`` iff ``t // width > now // width - buckets``. So the
    window slides one bucket at a time and its oldest bucket may hold up to ``width`` seconds
    less than ``seconds`` of history.

    Attributes:
        seconds: The span of the window, in seconds (a finite number > 0 and at most
            ``MAX_WINDOW_SECONDS``, 86,400: one day).
        buckets: How many buckets the span is cut into (an int from 1 to 10000).

    Raises:
        ConfigurationError: If a value is outside the ranges above, or if ``seconds / buckets``
            is too small to be a float greater than zero.
    """

    seconds: float = attrs.field(default=60.0, validator=_check_seconds)
    buckets: int = attrs.field(default=10, validator=_check_buckets)

    def __attrs_post_init__(self) -> None:
        if self.seconds / self.buckets <= 0:
            raise ConfigurationError(
                f"TimeWindow bucket width seconds / buckets must be > 0, got "
                f"{self.seconds!r} / {self.buckets!r} == 0.0; use more seconds or fewer buckets"
            )

    def create(self) -> Window:
        """Return a fresh, empty window of this shape."""
        return _TimeBuckets(self.seconds / self.buckets, self.buckets)


class CountRing:
    """The last ``size`` outcomes, as small int codes in a preallocated ring."""

    __slots__ = ("_codes", "_next", "_size", "calls", "expired", "failures", "slow_calls")

    def __init__(self, size: int) -> None:
        self._size = size
        self._codes = [0] * size  # empty slots hold 0, which subtracts nothing
        self._next = 0
        self.calls = 0
        self.failures = 0
        self.slow_calls = 0
        self.expired = False  # outcomes leave a count window only when pushed out by a record

    def __repr__(self) -> str:
        return (
            f"<CountWindow ring size={self._size} calls={self.calls} "
            f"failures={self.failures} slow_calls={self.slow_calls}>"
        )

    def record(self, failed: bool, slow: bool, now: float) -> None:
        code = (_FAILED if failed else 0) | (_SLOW if slow else 0)
        index = self._next
        old = self._codes[index]
        self._codes[index] = code
        self._next = index + 1 if index + 1 < self._size else 0
        if self.calls < self._size:
            self.calls += 1
        self.failures += (code & _FAILED) - (old & _FAILED)
        self.slow_calls += (code >> 1) - (old >> 1)

    def record_success(self, now: float) -> None:
        index = self._next
        codes = self._codes
        old = codes[index]
        if old:
            codes[index] = 0
            self.failures -= old & _FAILED
            self.slow_calls -= old >> 1
        index += 1
        self._next = index if index < self._size else 0
        if self.calls < self._size:
            self.calls += 1

    def record_successes(self, count: int, now: float) -> None:
        size = self._size
        if count >= size:  # every slot is now a plain success
            self._codes = [0] * size
            self._next = (self._next + count) % size
            self.calls, self.failures, self.slow_calls = size, 0, 0
            return
        codes, index = self._codes, self._next
        for _ in range(count):
            old = codes[index]
            if old:
                codes[index] = 0
                self.failures -= old & _FAILED
                self.slow_calls -= old >> 1
            index = index + 1 if index + 1 < size else 0
        self._next = index
        self.calls = min(self.calls + count, size)

    def advance(self, now: float) -> None:
        pass

    def clear(self) -> None:
        self._codes = [0] * self._size
        self._next = 0
        self.calls = self.failures = self.slow_calls = 0


class _TimeBuckets:
    """Per-bucket counts in preallocated lists, rolled forward as time passes."""

    __slots__ = (
        "_bucket_calls",
        "_bucket_failures",
        "_bucket_slow",
        "_current",
        "_size",
        "_slot",
        "_width",
        "calls",
        "expired",
        "failures",
        "slow_calls",
    )

    def __init__(self, width: float, buckets: int) -> None:
        self._width = width
        self._size = buckets
        self._current: int | None = None  # index of the latest bucket seen
        self._slot = 0  # where the latest bucket lives: _current % _size
        self._bucket_calls = [0] * buckets
        self._bucket_failures = [0] * buckets
        self._bucket_slow = [0] * buckets
        self.calls = 0
        self.failures = 0
        self.slow_calls = 0
        self.expired = False

    def __repr__(self) -> str:
        return (
            f"<TimeWindow buckets width={self._width!r} buckets={self._size} "
            f"calls={self.calls} failures={self.failures} slow_calls={self.slow_calls}>"
        )

    def record(self, failed: bool, slow: bool, now: float) -> None:
        self.advance(now)
        slot = self._slot
        self._bucket_calls[slot] += 1
        self.calls += 1
        if failed:
            self._bucket_failures[slot] += 1
            self.failures += 1
        if slow:
            self._bucket_slow[slot] += 1
            self.slow_calls += 1

    def record_success(self, now: float) -> None:
        if now // self._width != self._current:
            self.advance(now)
        self._bucket_calls[self._slot] += 1
        self.calls += 1

    def record_successes(self, count: int, now: float) -> None:
        if now // self._width != self._current:
            self.advance(now)
        self._bucket_calls[self._slot] += count
        self.calls += count

    def advance(self, now: float) -> None:
        index = int(now // self._width)
        current = self._current
        if current is None or index > current:
            if current is None or index - current >= self._size:
                self.expired = self.expired or self.calls > 0
                self.clear()
            else:
                for expired in range(current + 1, index + 1):
                    self._expire(expired % self._size)
            self._current = index
            self._slot = index % self._size
        # An earlier ``now`` (never from a monotonic clock) counts as the latest bucket seen.

    def clear(self) -> None:
        if self.calls:  # a bucket with no calls has no failures and no slow calls either
            self._bucket_calls = [0] * self._size
            self._bucket_failures = [0] * self._size
            self._bucket_slow = [0] * self._size
            self.calls = self.failures = self.slow_calls = 0

    def _expire(self, slot: int) -> None:
        if self._bucket_calls[slot]:
            self.expired = True
            self.calls -= self._bucket_calls[slot]
            self.failures -= self._bucket_failures[slot]
            self.slow_calls -= self._bucket_slow[slot]
            self._bucket_calls[slot] = self._bucket_failures[slot] = self._bucket_slow[slot] = 0
