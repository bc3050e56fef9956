"""The breaker's fast path and its counters (internal: CircuitBreaker's base).

In a *quiet* CLOSED generation (``BreakerMachine.quiet_successes``: a count window, free
admission, and no window size left at which a plain success could make a rule hold), a plain
success needs neither the lock nor the machine: when the breaker's classifier is the default
one, no hook runs per call and the breaker is not distributed, ``call``, ``acall`` and the
decorator count it on that generation's ``SuccessCounter``, an ``itertools.count`` whose
``__next__`` is atomic under the GIL. Everything else (a failure, a slow call, an admission
outside free admission, an operator action, a read of the statistics) takes the lock and first
*folds* the counted successes into the machine (``_fold``), so the machine sees every outcome,
in an order in which they could have happened: a success counted without the lock finished
before the fold that takes it. A success whose call was admitted in an earlier generation is
counted on that generation's counter and folds as stale, as ``record`` would have it.

The same counts feed ``call_counts`` and ``rejection_counts``, which metrics read at collection
time (``failover.telemetry``): nothing is pushed per call.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable
from typing import TypeAlias

from statemachines import BreakerMachine, Outcome, State

__all__ = ["Counting", "FastPath", "SuccessCounter"]

FastPath: TypeAlias = tuple[Callable[[], int], Callable[[], float], float, int]
"""What the fast path reads in one attribute load: (count a success, the clock, the
slow-call duration, the generation)."""

_SUCCESS = Outcome.SUCCESS
_RETIRED_CHECK = 8  # retired counters kept before they are checked on a transition
_UNREFERENCED = 2  # sys.getrefcount of a counter's bump held by the counter alone


class SuccessCounter:
    """The plain successes of one generation, counted without a lock."""

    __slots__ = ("_mark", "bump", "generation")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.bump: Callable[[], int] = itertools.count().__next__
        self._mark = 0

    def take(self) -> int:
        """The successes counted since the last take (call it under the breaker's lock)."""
        taken = self.bump()  # its own value is not a success: skipped by the mark
        pending = taken - self._mark
        self._mark = taken + 1
        return pending


class Counting:
    """The fast path's state and the breaker's own call and rejection counters."""

    __slots__ = (
        "_counter",
        "_fast",
        "_fastable",
        "_outcomes",
        "_rejected_in",
        "_rejected_mark",
        "_rejections",
        "_retired",
    )

    _lock: threading.Lock
    _machine: BreakerMachine
    _now: Callable[[], float]
    _slow: float

    def _init_counting(self) -> None:
        self._counter: SuccessCounter | None = None
        self._fast: FastPath | None = None
        self._fastable = False  # set by the breaker: its configuration allows the fast path
        self._outcomes = dict.fromkeys(Outcome, 0)
        # rejections: the machine counts them all (lifetime_rejected); those made before the
        # last state change are kept here by state, the rest belong to the current state
        self._rejections: dict[State, int] = {}
        self._rejected_in: State = self._machine.state
        self._rejected_mark = self._machine.lifetime_rejected
        self._retired: list[SuccessCounter] = []  # earlier generations' counters in use

    def _fold(self) -> None:
        """Fold the successes counted without the lock into the machine (the lock held)."""
        counter = self._counter
        if counter is None:
            return
        pending = counter.take()
        if pending:
            self._outcomes[_SUCCESS] += pending
            self._machine.record_successes(counter.generation, pending, self._now())

    def _arm(self) -> None:
        """Open or close the fast path after the machine moved (the lock held, folded)."""
        machine = self._machine
        counter = self._counter
        if counter is not None and counter.generation != machine.generation:
            self._retired.append(counter)
            self._counter = counter = None
            if len(self._retired) > _RETIRED_CHECK:  # bounded without any reader
                self._fold_retired()
        if self._fastable and machine.quiet_successes:
            if counter is None:
                self._counter = counter = SuccessCounter(machine.generation)
            self._fast = (counter.bump, self._now, self._slow, counter.generation)
        else:
            self._fast = None

    def _fold_retired(self) -> None:
        """Late successes of earlier generations' calls, folded as stale (the lock held).

        A retired counter is dropped once nothing can bump it any more: no call in flight
        holds its ``bump`` (CPython's reference count says so exactly), so no success is lost.
        """
        kept = []
        for counter in self._retired:
            done = sys.getrefcount(counter.bump) <= _UNREFERENCED  # checked before the take
            pending = counter.take()
            if pending:
                self._outcomes[_SUCCESS] += pending
                self._machine.record_successes(counter.generation, pending, self._now())
            if not done:
                kept.append(counter)
        self._retired = kept

    def _fold_all(self) -> None:
        """``_fold`` and ``_fold_retired``: every success counted so far (the lock held)."""
        self._fold()
        if self._retired:
            self._fold_retired()

    def call_counts(self) -> dict[Outcome, int]:
        """Calls finished since the breaker was made, by outcome (every Outcome present).

        Cumulative and monotonic: what a metrics exporter reads at collection time. A call
        given back unrun (``release``) is not counted; one rejected is in
        ``rejection_counts``.
        """
        with self._lock:
            self._fold_all()
            return dict(self._outcomes)

    def _left_state(self) -> None:
        """The machine changed state: its rejections so far belong to the one it left."""
        machine = self._machine
        total = machine.lifetime_rejected
        if total != self._rejected_mark:
            left = self._rejected_in
            self._rejections[left] = self._rejections.get(left, 0) + total - self._rejected_mark
            self._rejected_mark = total
        self._rejected_in = machine.state

    def rejection_counts(self) -> dict[State, int]:
        """Calls rejected with CallNotPermitted since the breaker was made, by the state that
        rejected them (only states that rejected one). Cumulative and monotonic."""
        with self._lock:
            counts = dict(self._rejections)
            pending = self._machine.lifetime_rejected - self._rejected_mark
            if pending:
                state = self._rejected_in
                counts[state] = counts.get(state, 0) + pending
        return counts
