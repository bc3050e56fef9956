"""Admission and recording: the breaker's one admit path and its one record path (internal:
CircuitBreaker's base).

``admit`` (raising CallNotPermitted), ``admit_if_due`` (the coordinator's: None instead, and a
breaker known to reject is not asked) and ``would_admit`` (no side effect) are the only places
that decide whether a call may go; the coordinator's slots call them. ``finish`` records how an
admitted call ended, ``release`` gives back an admission whose function never ran. In
distributed mode the breaker's replica member takes part in both (a global probe permit, a
probe's outcome counted in the shared round).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from failover._base.log import get_logger
from failover._breaker.calling import Calling
from failover.classify import IGNORED, Classifier
from failover.errors import CallNotPermitted
from statemachines import BreakerState, Outcome

if TYPE_CHECKING:
    from failover._base.hooks import BreakerHook

__all__ = ["Admission"]

logger = get_logger(__name__)

_SUCCESS = Outcome.SUCCESS
_IGNORED = Outcome.IGNORED
_FORCED_OPEN, _HALF_OPEN = BreakerState.FORCED_OPEN, BreakerState.HALF_OPEN


class Admission(Calling):
    """``admit``, ``admit_if_due``, ``would_admit``, ``release`` and ``finish``."""

    __slots__ = ()

    name: str
    _reject_hooks: tuple[BreakerHook, ...]
    _call_hooks: tuple[BreakerHook, ...]
    _classify: Classifier

    def admit(self) -> int:
        """Admit one call now or raise CallNotPermitted; returns the generation to finish with.

        The low-level half of ``call``: pair it with exactly one ``finish``. The one admission
        path: ``admit_if_due`` and so the coordinator come through here.
        """
        machine = self._machine
        generation = machine.generation
        if machine.free_admission:
            return generation
        lock = self._lock  # acquire/release: cheaper than `with` on the hot path
        lock.acquire()
        try:
            if self._counter is not None:
                self._fold()
            now = self._now()
            admitted = machine.admit(now)
            if admitted is not None and self._replica is not None and not self._replica.permit():
                machine.record(admitted, _IGNORED, self._now())  # no global probe permit
                admitted = None
            if admitted is None:  # counted by the machine (lifetime_rejected): see _fast
                state, retry_at = machine.state, machine.deadline  # a rejecting state's retry_at
        finally:
            lock.release()
        if self._queue:
            self._dispatcher.drain()
        if admitted is None:
            for hook in self._reject_hooks:
                self._safe(hook.on_rejected, self.name, state)
            # raised as built, never held in a local: a local would tie the error to this
            # frame through its traceback, a cycle only the garbage collector frees
            raise CallNotPermitted(self.name, state, retry_at, now)
        return admitted

    def admit_if_due(self, now: float) -> int | None:
        """``admit`` for a caller that has other providers (the coordinator): None where
        ``admit`` would raise. A breaker known to reject at ``now`` (FORCED_OPEN, or rejecting
        until a later ``retry_at``) is not asked: nothing is counted and no hook is told, so
        skipping it costs nothing. A refusal found by asking (the probes all taken, no global
        probe permit) is counted and told to the rejection hooks, as ``admit``'s.
        """
        machine = self._machine
        generation = machine.generation  # read before the flag, as admit does
        if machine.free_admission:
            return generation
        state = machine.state
        if state is _FORCED_OPEN:
            return None
        if not state.admits_calls:
            retry_at = machine.retry_at
            if retry_at is not None and now < retry_at:
                return None
        try:
            return self.admit()
        except CallNotPermitted:  # rare: a transition was due, or every probe is taken
            return None

    def would_admit(self, now: float) -> bool:
        """Whether a call would be admitted at ``now``, with no side effect: nothing taken, no
        rejection counted, no transition made (for waits, status and the decision trace). In
        HALF_OPEN, a probe slot must be free and, in distributed mode, a global probe permit
        not refused; OPEN admits once its ``retry_at`` has come (the transition is due)."""
        machine = self._machine
        if machine.free_admission:
            return True
        state = machine.state
        retry_at = machine.retry_at
        if state is _HALF_OPEN:
            return (
                machine.probes_admitted < machine.policy.half_open_max_calls
                and (retry_at is None or now < retry_at)
                and self.permit_refused_until(now) is None
            )
        if state.admits_calls:
            return True
        return state is not _FORCED_OPEN and retry_at is not None and now >= retry_at

    def permit_refused_until(self, now: float) -> float | None:
        """Distributed mode: until when the storage refused this breaker a HALF_OPEN probe
        permit (None: not refused, or no storage)."""
        replica = self._replica
        return None if replica is None else replica.permit_refused_until(now)

    def release(self, generation: int) -> None:
        """Give back an admission whose function never ran: records nothing, frees a probe."""
        with self._lock:
            self._fold()
            if self._replica is not None:
                self._replica.finished(generation, _IGNORED)  # its probe permit too
            self._machine.record(generation, _IGNORED, self._now())

    def finish(
        self, generation: int, started: float, exc: BaseException | None, result: object = None
    ) -> float:
        """Record how a call admitted in ``generation`` and started at ``started`` ended.

        Returns:
            When it ended: the breaker's clock, read once here.
        """
        end = self._now()
        if exc is None and self._plain_success and end - started < self._slow:
            fast = self._fast  # the common case: a plain success, as in ``call``
            if fast is not None and fast[3] == generation:
                fast[0]()  # counted without the lock (failover._breaker.fast)
                return end
            self._record_plain(generation, _SUCCESS, end)  # as ``call`` records it
            return end
        try:
            verdict = self._classify(exc, result)
        except Exception:  # a broken classifier must not lose the call nor its probe permit
            logger.exception("failover classifier %r raised; the call is ignored", self._classify)
            verdict = IGNORED
        outcome = verdict.outcome
        if outcome is not _IGNORED and end - started >= self._slow:
            outcome = Outcome.of(failed=outcome.failed, slow=True)
        lock = self._lock
        lock.acquire()
        try:
            self._fold()
            self._outcomes[outcome] += 1
            signal, retry_after = verdict.signal, verdict.retry_after
            replica = self._replica  # a probe counts in the shared round first, or gives back
            if replica is None or not replica.finished(generation, outcome, signal, retry_after):
                self._machine.record(generation, outcome, end, signal, retry_after)
        finally:
            lock.release()
        if self._queue:
            self._dispatcher.drain()
        for hook in self._call_hooks:
            self._safe(hook.on_call, self.name, outcome, end - started)
        return end

    @staticmethod
    def _safe(fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except Exception:
            logger.exception("failover hook %r raised; ignored", fn)
