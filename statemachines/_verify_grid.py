"""The sample grid of ``verify_policy``: the concrete contexts its conditions are evaluated on.

For every state and every stimulus that can reach it, ``_verify`` evaluates each automatic
transition leaving the state on that stimulus on a finite grid of concrete sample contexts
(``Sample``, a ``ConditionContext``), which ``Grid`` builds. The grid is built from the
boundary values of the policy's thresholds and of the built-in conditions its transitions compose
(``failure_rate(0.8, min_calls=20)`` adds 20 and 0.8), each value and the one just below it:

- window (states that record outcomes: CLOSED and admitting custom states; elsewhere empty):
  calls in {0, 1, min_calls - 1, min_calls, the window's size (1000 for a time window)};
  failures and slow calls at 0, 1, all, and either side of each rate threshold and streak;
  consecutive failures at 0, 1 and either side of each streak count;
- time: now at entry, at each timeout after entry, at the deadline and after it; the deadline
  is OPEN's open_until, HALF_OPEN's decision time, a custom state's duration (or a Retry-After:
  both None and a deadline when it has no duration), None elsewhere;
- stimulus: OUTCOME (only where outcomes are recorded) with each outcome but IGNORED, a failure
  also with RATE_LIMITED (and a Retry-After) or AUTH_FAILED; TICK; HEALTH_CHECK passed (no
  failures in a row) or failed (1, n - 1 or n in a row);
- probes (HALF_OPEN only): admitted in {0, 1, max - 1, max}, failed and succeeded at the edges.

Combinations that the machine cannot reach are left out: the newest outcomes of a window are
its current streak (a streak outgrows the window only when it is full, or in a time window), a
recorded outcome is in the window and in its streak, finished probes never exceed admitted ones
and include the one just recorded. Each sample is therefore a context the machine can reach.

A condition that reads what a context does not have fails on a ``Sample`` (the class name in
the error that ``verify_policy`` reports).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Iterator
from typing import NamedTuple, TypeVar

from statemachines._builtin_conditions import (
    ConsecutiveFailures,
    FailureRate,
    HealthChecksFailed,
    ProbesFailed,
    ProbesSucceeded,
    SlowCallRate,
    TimedOut,
)
from statemachines._conditions import AllOf, AnyOf, Condition, Not
from statemachines._graph import Node
from statemachines._policy import BreakerPolicy
from statemachines._states import (
    BreakerState,
    CustomState,
    FailoverReason,
    Outcome,
    State,
    Stimulus,
)
from statemachines._window import CountWindow

__all__ = ["Grid", "Sample"]

_S, _R = Stimulus, FailoverReason
_ENTERED = 1000.0  # the samples' entered_at: a clock that has been running for a while
_LARGE_WINDOW = 1000  # "many calls" in a time window, which has no fixed size


class Sample(NamedTuple):
    """One concrete context a condition is evaluated on (a ``ConditionContext``): a named
    tuple, as thousands are made per policy verified."""

    policy: BreakerPolicy
    state: State
    stimulus: Stimulus
    now: float
    entered_at: float
    deadline: float | None
    outcome: Outcome | None
    signal: FailoverReason | None
    retry_after: float | None
    health_check_passed: bool | None
    calls: int
    failures: int
    slow_calls: int
    consecutive_failures: int
    consecutive_successes: int
    probes_admitted: int
    probes_succeeded: int
    probes_failed: int
    consecutive_health_failures: int

    @property
    def failure_rate(self) -> float:
        """failures / calls (0.0 when empty)."""
        return self.failures / self.calls if self.calls else 0.0

    @property
    def slow_call_rate(self) -> float:
        """slow_calls / calls (0.0 when empty)."""
        return self.slow_calls / self.calls if self.calls else 0.0

    def figures(self) -> str:
        """The sample's key figures, those that are set."""
        shown = [f"{self.state.value} on {self.stimulus.name}"]
        shown.append(f"now=entered_at+{self.now - self.entered_at:g}s")
        if self.deadline is not None:
            shown.append(f"deadline=entered_at+{self.deadline - self.entered_at:g}s")
        names = ("outcome", "signal", "retry_after", "health_check_passed")
        shown += [f"{n}={_show(getattr(self, n))}" for n in names if getattr(self, n) is not None]
        shown += [f"{n}={getattr(self, n)}" for n in _COUNTS if getattr(self, n)]
        return ", ".join(shown)

    def __repr__(self) -> str:
        return f"Sample({self.figures()})"


_COUNTS = (
    "calls",
    "failures",
    "slow_calls",
    "consecutive_failures",
    "consecutive_successes",
    "probes_admitted",
    "probes_succeeded",
    "probes_failed",
    "consecutive_health_failures",
)


def _show(value: object) -> str:
    return value.name if isinstance(value, enum.Enum) else repr(value)


_Window = tuple[int, int, int, int, int]  # calls, failures, slow, consecutive fail / success
_Probes = tuple[int, int, int]  # admitted, succeeded, failed
_Event = tuple[Outcome | None, FailoverReason | None, float | None, bool | None]
_C = TypeVar("_C", bound=Condition)


def _leaves(condition: Condition | None) -> Iterator[Condition]:
    if isinstance(condition, AnyOf | AllOf):
        for part in condition.parts:
            yield from _leaves(part)
    elif isinstance(condition, Not):
        yield from _leaves(condition.inner)
    elif condition is not None:
        yield condition


def _around(values: Iterable[int], low: int, high: int) -> list[int]:
    """Each value and the one below it, clipped to [low, high], sorted, without repeats."""
    return sorted({v for x in values for v in (x - 1, x) if low <= v <= high})


class Grid:
    """The boundary values of one policy, and the consistent samples made from them.

    Args:
        policy: The policy whose thresholds, and whose table's built-in conditions, bound the grid.
    """

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._harvest([c for t in policy.transition_table() for c in _leaves(t.condition)])
        window = policy.window
        if isinstance(window, CountWindow):
            self.size, self.overflow = window.size, False
        else:  # no fixed size: "many calls"; outcomes leave it while streaks go on
            self.size, self.overflow = max(_LARGE_WINDOW, *self.min_calls), True
        windows, probe_counts = self._windows(), self._probes()
        outcomes: tuple[Outcome | None, ...] = (None, *Outcome)
        self.window_cache = {o: [w for w in windows if _fits(w, o)] for o in outcomes}
        self.probe_cache = {o: [c for c in probe_counts if _probe_fits(c, o)] for o in outcomes}

    def _harvest(self, leaves: list[Condition]) -> None:
        """The policy's thresholds and those of the built-in conditions in its table."""
        p = self.policy
        rates, slow = _of(leaves, FailureRate), _of(leaves, SlowCallRate)
        self.min_calls = {p.minimum_calls, *(c.min_calls for c in rates)}
        self.min_calls |= {c.min_calls for c in slow}
        self.rates = {p.failure_rate_threshold, *(c.threshold for c in rates)}
        self.slow_rates = {p.slow_call_rate_threshold, *(c.threshold for c in slow)}
        streaks = (c.count for c in _of(leaves, ConsecutiveFailures))
        self.streaks = {1, p.max_consecutive_failures, *streaks}
        health = {p.health_failures_to_trip, *(c.count for c in _of(leaves, HealthChecksFailed))}
        self.health = _around([1, *health], 0, max(health))
        self.timeouts = {p.max_half_open_duration, *(c.seconds for c in _of(leaves, TimedOut))}
        probes: list[ProbesFailed | ProbesSucceeded] = _of(leaves, ProbesFailed)
        probes += _of(leaves, ProbesSucceeded)
        self.probe_failures = {math.ceil(c.threshold * c.max_calls) for c in probes}
        self.probe_failures.add(math.ceil(p.failure_rate_threshold * p.half_open_max_calls))

    def _windows(self) -> list[_Window]:
        out: list[_Window] = []
        limit = max(self.size, *self.streaks)
        calls_values = {0, self.size, *_around([1, *self.min_calls], 0, self.size)}
        for calls in sorted(calls_values):
            failures = _around([1, calls, *self.streaks, *_ceil(self.rates, calls)], 0, calls)
            slow = _around([1, calls, *_ceil(self.slow_rates, calls)], 0, calls)
            streaks = _around(self.streaks, 0, limit)
            for f, s, cf in itertools.product(failures, slow, streaks):
                runs = {0, 1, calls - f} if cf == 0 else {0}  # consecutive successes
                out += [(calls, f, s, cf, cs) for cs in runs if self._consistent(calls, f, cf, cs)]
        return out

    def _consistent(self, calls: int, failures: int, cf: int, cs: int) -> bool:
        if (cf and cs) or (calls and not (cf or cs)):
            return False  # the latest outcome is a failure or a success, not both or neither
        if failures < min(cf, calls) or calls - failures < min(cs, calls):
            return False  # the window's newest outcomes are the streak
        return self.overflow or calls == self.size or max(cf, cs) <= calls

    def _probes(self) -> list[_Probes]:
        most = self.policy.half_open_max_calls
        out: list[_Probes] = []
        for admitted in _around([1, most], 0, most):
            for failed in _around([1, admitted, *self.probe_failures], 0, admitted):
                rest = admitted - failed
                out += [(admitted, s, failed) for s in _around([1, rest], 0, rest)]
        return out

    def _timings(self, state: State) -> list[tuple[float | None, float]]:
        out: list[tuple[float | None, float]] = []
        for deadline in self._deadlines(state):
            nows = {_ENTERED, *(_ENTERED + t for t in self.timeouts)}
            if deadline is not None:
                nows |= {deadline, deadline + 1.0}
            out += [(deadline, now) for now in sorted(nows)]
        return out

    def _deadlines(self, state: State) -> tuple[float | None, ...]:
        p = self.policy
        if state is BreakerState.OPEN:
            return (_ENTERED + p.open_duration,)
        if state is BreakerState.HALF_OPEN:
            return (_ENTERED + p.max_half_open_duration,)
        if isinstance(state, CustomState):
            if state.duration is not None:
                return (_ENTERED + state.duration,)
            return (None, _ENTERED + p.open_duration)  # a deadline only from a Retry-After
        return (None,)

    def _events(self, stimulus: Stimulus) -> list[_Event]:
        if stimulus is _S.HEALTH_CHECK:
            return [(None, None, None, True), (None, None, None, False)]
        if stimulus is not _S.OUTCOME:
            return [(None, None, None, None)]
        retry_after = self.policy.open_duration
        out: list[_Event] = []
        for o in (Outcome.SUCCESS, Outcome.SLOW_SUCCESS, Outcome.FAILURE, Outcome.SLOW_FAILURE):
            out.append((o, None, None, None))
            if o.failed:
                out += [(o, _R.RATE_LIMITED, retry_after, None), (o, _R.AUTH_FAILED, None, None)]
        return out

    def _health_failures(self, passed: bool | None) -> list[int]:
        if passed is None:  # no health check now: the count left by earlier ones
            return [0, self.health[-1]]
        return [n for n in self.health if n] if passed is False else [0]

    def samples(self, node: Node, stimulus: Stimulus) -> Iterator[Sample]:
        """Every sample of ``node``'s state on ``stimulus``.

        Args:
            node: The compiled state: which state, whether it records outcomes, whether it probes.
            stimulus: What the machine reacts to in the samples.

        Yields:
            Each consistent sample context, in grid order (time, event, window, probes, health).
        """
        for deadline, now in self._timings(node.state):
            head = (self.policy, node.state, stimulus, now, _ENTERED, deadline)
            for event in self._events(stimulus):
                outcome, passed = event[0], event[3]
                windows = self.window_cache[outcome] if node.records else [(0, 0, 0, 0, 0)]
                probes = self.probe_cache[outcome] if node.probing else [(0, 0, 0)]
                grid = itertools.product(windows, probes, self._health_failures(passed))
                for w, p, chf in grid:
                    yield Sample(*(head + event + w + p + (chf,)))


def _of(leaves: list[Condition], kind: type[_C]) -> list[_C]:
    return [c for c in leaves if isinstance(c, kind)]


def _ceil(rates: Iterable[float], calls: int) -> list[int]:
    return [math.ceil(r * calls) for r in rates]


def _fits(window: _Window, outcome: Outcome | None) -> bool:
    """Whether the window can be the one just after recording ``outcome``."""
    calls, _, slow, cf, cs = window
    if outcome is None:
        return True
    streak = cf if outcome.failed else cs
    return calls > 0 and streak > 0 and (slow > 0 if outcome.slow else slow < calls)


def _probe_fits(probes: _Probes, outcome: Outcome | None) -> bool:
    _, succeeded, failed = probes
    return outcome is None or (failed if outcome.failed else succeeded) > 0
