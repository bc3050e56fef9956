"""The built-in atomic conditions and their public factories.

Each factory validates its arguments and returns a private frozen Condition with a readable
``repr``. Besides holding or not, an atom tells the machine what it can skip: the window sizes at
which a plain success could make it newly hold (``success_boundaries``), the earliest time it may
hold (``earliest``), and a Python expression equal to it (``inline``) for compiled composites.
"""

from __future__ import annotations

import math

import attrs

from statemachines._checks import check_fraction, check_int, check_seconds
from statemachines._conditions import Condition, ConditionContext, Verdict
from statemachines._errors import ConfigurationError
from statemachines._states import FailoverReason

__all__ = [
    "consecutive_failures",
    "deadline_passed",
    "failure_rate",
    "health_check_passed",
    "health_checks_failed",
    "probes_failed",
    "probes_succeeded",
    "signalled",
    "slow_call_rate",
    "timed_out",
]


@attrs.frozen(repr=False)
class ConsecutiveFailures(Condition):
    count: int

    def __call__(self, ctx: ConditionContext) -> Verdict:
        if ctx.consecutive_failures >= self.count:
            return FailoverReason.CONSECUTIVE_FAILURES
        return None

    def __repr__(self) -> str:
        return f"consecutive_failures({self.count})"

    def success_boundaries(self) -> frozenset[int]:
        return frozenset()

    def inline(self) -> tuple[str, FailoverReason]:
        return f"ctx.consecutive_failures >= {self.count!r}", FailoverReason.CONSECUTIVE_FAILURES


@attrs.frozen(repr=False)
class FailureRate(Condition):
    threshold: float
    min_calls: int

    def __call__(self, ctx: ConditionContext) -> Verdict:
        calls = ctx.calls
        if calls >= self.min_calls and calls and ctx.failures / calls >= self.threshold:
            return FailoverReason.ERROR_RATE
        return None

    def __repr__(self) -> str:
        return f"failure_rate({self.threshold:g}, min_calls={self.min_calls})"

    def success_boundaries(self) -> frozenset[int]:
        return frozenset({self.min_calls})

    def inline(self) -> tuple[str, FailoverReason]:
        return (
            f"ctx.calls >= {self.min_calls!r} and ctx.failures / ctx.calls >= {self.threshold!r}",
            FailoverReason.ERROR_RATE,
        )


@attrs.frozen(repr=False)
class SlowCallRate(Condition):
    threshold: float
    min_calls: int

    def __call__(self, ctx: ConditionContext) -> Verdict:
        calls = ctx.calls
        if calls >= self.min_calls and calls and ctx.slow_calls / calls >= self.threshold:
            return FailoverReason.SLOW_CALLS
        return None

    def __repr__(self) -> str:
        return f"slow_call_rate({self.threshold:g}, min_calls={self.min_calls})"

    def success_boundaries(self) -> frozenset[int]:
        return frozenset({self.min_calls})

    def inline(self) -> tuple[str, FailoverReason]:
        return (
            f"ctx.calls >= {self.min_calls!r} and ctx.slow_calls / ctx.calls >= {self.threshold!r}",
            FailoverReason.SLOW_CALLS,
        )


@attrs.frozen(repr=False)
class Signalled(Condition):
    reason: FailoverReason

    def __call__(self, ctx: ConditionContext) -> Verdict:
        return self.reason if ctx.signal is self.reason else None

    def required_signal(self) -> FailoverReason | None:
        return self.reason

    def __repr__(self) -> str:
        return f"signalled({self.reason.name})"

    def success_boundaries(self) -> frozenset[int]:
        return frozenset()


@attrs.frozen(repr=False)
class HealthChecksFailed(Condition):
    count: int

    def __call__(self, ctx: ConditionContext) -> Verdict:
        if ctx.health_check_passed is False and ctx.consecutive_health_failures >= self.count:
            return FailoverReason.HEALTH_CHECK_FAILED
        return None

    def __repr__(self) -> str:
        return f"health_checks_failed({self.count})"

    def success_boundaries(self) -> frozenset[int]:
        return frozenset()


@attrs.frozen(repr=False)
class HealthCheckPassed(Condition):
    def __call__(self, ctx: ConditionContext) -> Verdict:
        return FailoverReason.HEALTH_CHECK_PASSED if ctx.health_check_passed else None

    def __repr__(self) -> str:
        return "health_check_passed()"

    def success_boundaries(self) -> frozenset[int]:
        return frozenset()


@attrs.frozen(repr=False)
class DeadlinePassed(Condition):
    def __call__(self, ctx: ConditionContext) -> Verdict:
        deadline = ctx.deadline
        if deadline is not None and ctx.now >= deadline:
            return FailoverReason.COOLDOWN_ELAPSED
        return None

    def __repr__(self) -> str:
        return "deadline_passed()"

    def earliest(self, ctx: ConditionContext) -> float | None:
        return math.inf if ctx.deadline is None else ctx.deadline


@attrs.frozen(repr=False)
class TimedOut(Condition):
    seconds: float

    def __call__(self, ctx: ConditionContext) -> Verdict:
        if ctx.now >= ctx.entered_at + self.seconds:
            return FailoverReason.PROBE_TIMEOUT
        return None

    def __repr__(self) -> str:
        return f"timed_out({self.seconds:g})"

    def earliest(self, ctx: ConditionContext) -> float | None:
        return ctx.entered_at + self.seconds


@attrs.frozen(repr=False)
class ProbesFailed(Condition):
    threshold: float
    max_calls: int

    def __call__(self, ctx: ConditionContext) -> Verdict:
        if ctx.probes_failed / self.max_calls >= self.threshold:
            return FailoverReason.PROBE_FAILED
        return None

    def __repr__(self) -> str:
        return f"probes_failed({self.threshold:g}, max_calls={self.max_calls})"


@attrs.frozen(repr=False)
class ProbesSucceeded(Condition):
    threshold: float
    max_calls: int

    def __call__(self, ctx: ConditionContext) -> Verdict:
        failed = ctx.probes_failed
        finished = ctx.probes_succeeded + failed
        if finished >= self.max_calls and failed / self.max_calls < self.threshold:
            return FailoverReason.PROBES_SUCCEEDED
        return None

    def __repr__(self) -> str:
        return f"probes_succeeded({self.threshold:g}, max_calls={self.max_calls})"


def consecutive_failures(count: int) -> Condition:
    """Holds once ``count`` calls in a row have failed (CONSECUTIVE_FAILURES)."""
    check_int("consecutive_failures(count)", count, minimum=1)
    return ConsecutiveFailures(count)


def failure_rate(threshold: float, *, min_calls: int) -> Condition:
    """Holds when the window has >= min_calls outcomes and their failure rate >= threshold."""
    check_fraction("failure_rate(threshold)", threshold)
    check_int("failure_rate(min_calls)", min_calls, minimum=1)
    return FailureRate(threshold, min_calls)


def slow_call_rate(threshold: float, *, min_calls: int) -> Condition:
    """Holds when the window has >= min_calls outcomes and their slow rate >= threshold."""
    check_fraction("slow_call_rate(threshold)", threshold)
    check_int("slow_call_rate(min_calls)", min_calls, minimum=1)
    return SlowCallRate(threshold, min_calls)


def signalled(reason: FailoverReason) -> Condition:
    """Holds when the outcome being recorded carries ``reason`` (RATE_LIMITED, AUTH_FAILED)."""
    if not isinstance(reason, FailoverReason):
        raise ConfigurationError(
            f"signalled(reason) takes a FailoverReason such as FailoverReason.RATE_LIMITED, "
            f"got {reason!r}"
        )
    return Signalled(reason)


def health_checks_failed(count: int) -> Condition:
    """Holds when a health check just failed and ``count`` have failed in a row."""
    check_int("health_checks_failed(count)", count, minimum=1)
    return HealthChecksFailed(count)


def health_check_passed() -> Condition:
    """Holds when a health check just passed."""
    return HealthCheckPassed()


def deadline_passed() -> Condition:
    """Holds once the current state's deadline (OPEN: open_until) has passed."""
    return DeadlinePassed()


def timed_out(seconds: float) -> Condition:
    """Holds once ``seconds`` have passed since the current state was entered."""
    check_seconds("timed_out(seconds)", seconds)
    return TimedOut(seconds)


def probes_failed(threshold: float, *, max_calls: int) -> Condition:
    """Holds once enough probes failed that their rate over max_calls reaches threshold."""
    check_fraction("probes_failed(threshold)", threshold)
    check_int("probes_failed(max_calls)", max_calls, minimum=1)
    return ProbesFailed(threshold, max_calls)


def probes_succeeded(threshold: float, *, max_calls: int) -> Condition:
    """Holds once max_calls probes finished and their failure rate is below threshold."""
    check_fraction("probes_succeeded(threshold)", threshold)
    check_int("probes_succeeded(max_calls)", max_calls, minimum=1)
    return ProbesSucceeded(threshold, max_calls)
