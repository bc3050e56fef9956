"""Interop with pybreaker, for services already on it: its state changes as FailoverEvents.

Attach a ``PybreakerListener`` to an existing ``pybreaker.CircuitBreaker`` and each of its state
changes becomes a FailoverEvent, kept in ``listener.events`` and delivered to failover's hooks
(logging, metrics, your own)::

    listener = PybreakerListener(hooks=[LoggingHook()])
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60, listeners=[listener])
    ...
    assert replay(listener.events, policy_for(breaker)) is BreakerState.OPEN

Needs the ``pybreaker`` extra: ``pip install 'failover[pybreaker]'``.
"""

from __future__ import annotations

import inspect
import threading
import types
import weakref
from collections import deque
from collections.abc import Iterable, Mapping

from failover._base.hooks import Dispatcher
from failover._base.log import get_logger
from failover.clock import Clock, SystemClock, wall_of
from failover.hooks import Hook, resolve_hooks
from statemachines import (
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    FailoverEvent,
    FailoverReason,
    pybreaker_compatible,
)

try:
    import pybreaker
except ImportError as exc:
    raise ImportError(
        "failover.interop needs pybreaker, which is not installed; install the extra: "
        "pip install 'failover[pybreaker]'"
    ) from exc

__all__ = ["PYBREAKER_STATES", "PybreakerListener", "policy_for"]

logger = get_logger(__name__)

_S, _R = BreakerState, FailoverReason
PYBREAKER_STATES: Mapping[str, BreakerState] = types.MappingProxyType(
    {
        pybreaker.STATE_CLOSED: _S.CLOSED,
        pybreaker.STATE_OPEN: _S.OPEN,
        pybreaker.STATE_HALF_OPEN: _S.HALF_OPEN,
    }
)
"""pybreaker's state names and the states they map to."""

_Cause = tuple[str, FailoverReason]  # the trigger's name (as in pybreaker_compatible), the reason

_CB = pybreaker.CircuitBreaker
_OPEN, _HALF_OPEN, _CLOSE = _CB.open.__code__, _CB.half_open.__code__, _CB.close.__code__
_STATE_GETTER = inspect.getattr_static(_CB, "state").fget.__code__
# pybreaker moves itself only from these places; the same methods called from anywhere else
# are an operator's (manual) calls.
_AUTOMATIC: dict[tuple[types.CodeType, types.CodeType], _Cause] = {
    (_OPEN, pybreaker.CircuitClosedState.on_failure.__code__): (
        "trip",
        _R.CONSECUTIVE_FAILURES,
    ),
    (_OPEN, pybreaker.CircuitHalfOpenState.on_failure.__code__): ("reopen", _R.PROBE_FAILED),
    (_HALF_OPEN, pybreaker.CircuitOpenState.before_call.__code__): (
        "probe",
        _R.COOLDOWN_ELAPSED,
    ),
    (_CLOSE, pybreaker.CircuitHalfOpenState.on_success.__code__): (
        "recover",
        _R.PROBES_SUCCEEDED,
    ),
}
_MANUAL: dict[types.CodeType, _Cause] = {
    _OPEN: ("open", _R.MANUAL),
    _HALF_OPEN: ("half_open", _R.MANUAL),
    _CLOSE: ("reset", _R.MANUAL),
}
# A change made elsewhere (another process sharing pybreaker's Redis storage) and noticed here:
# the automatic cause it would have, MANUAL when it has none.
_BY_ROUTE: dict[tuple[BreakerState, BreakerState], _Cause] = {
    (_S.CLOSED, _S.OPEN): ("trip", _R.CONSECUTIVE_FAILURES),
    (_S.HALF_OPEN, _S.OPEN): ("reopen", _R.PROBE_FAILED),
    (_S.OPEN, _S.HALF_OPEN): ("probe", _R.COOLDOWN_ELAPSED),
    (_S.HALF_OPEN, _S.CLOSED): ("recover", _R.PROBES_SUCCEEDED),
}
_MANUAL_INTO = {_S.OPEN: "open", _S.HALF_OPEN: "half_open", _S.CLOSED: "reset"}
# pybreaker 1.4: open/half_open/close is the 5th frame above state_change
_SEARCH_DEPTH = 12


def policy_for(breaker: pybreaker.CircuitBreaker) -> BreakerPolicy:
    """The policy with ``breaker``'s semantics (``pybreaker_compatible`` of its settings):
    ``replay(listener.events, policy_for(breaker))`` gives the breaker's state."""
    return pybreaker_compatible(breaker.fail_max, breaker.reset_timeout, breaker.success_threshold)


class _Track:
    """What the listener knows of one pybreaker breaker."""

    __slots__ = ("provider", "seq", "state")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.seq = 0
        self.state: BreakerState = _S.CLOSED


class PybreakerListener(pybreaker.CircuitBreakerListener):
    """A pybreaker listener that turns a breaker's state changes into FailoverEvents.

    Each change gives one event: provider, a gapless ``seq`` per breaker (1, 2, 3, ...), source
    and dest (pybreaker's 'closed', 'open', 'half-open' as CLOSED, OPEN, HALF_OPEN), reason,
    ``at`` from ``clock``, ``generation`` (one per transition, as ``seq``) and details (the
    trigger, as named in ``pybreaker_compatible`` policies, and ``synced``). Reasons:
    closed -> open CONSECUTIVE_FAILURES, open -> half-open COOLDOWN_ELAPSED, half-open ->
    closed PROBES_SUCCEEDED, half-open -> open PROBE_FAILED, and MANUAL when ``open()``,
    ``half_open()`` or ``close()`` was called by hand (told apart by who called pybreaker's
    method). A change made by another process through pybreaker's Redis storage is reported
    when this process notices it, with the reason it would have had (``details["synced"]``).
    The first event's source is the state pybreaker reports: attach the listener before the
    breaker first moves, or replay with ``initial=``.

    Hooks run as for a ``failover.CircuitBreaker`` (in seq order; a hook that raises is logged
    and never fails the call), but inside pybreaker's lock: pybreaker calls its listeners while
    holding it. One listener may serve several breakers.

    Args:
        hooks: Callables taking a FailoverEvent, or BreakerHook objects; None for the defaults
            (logging, and metrics when opentelemetry-api is installed); () for none.
        clock: Where ``at`` comes from (default SystemClock: monotonic seconds).
        name: The provider name of the events; default the breaker's ``name``, or
            ``"pybreaker-<id>"`` for an unnamed breaker. Give it only for a listener of one
            breaker.
        history: How many recent events ``events`` keeps, all breakers together.
    """

    def __init__(
        self,
        hooks: Iterable[Hook] | None = None,
        *,
        clock: Clock | None = None,
        name: str | None = None,
        history: int = 100,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"name must be a non-empty str or None, got {name!r}")
        if not isinstance(history, int) or isinstance(history, bool) or history < 0:
            raise ConfigurationError(f"history must be an int >= 0, got {history!r}")
        self.clock = clock if clock is not None else SystemClock()
        self.name = name
        self._dispatcher = Dispatcher(resolve_hooks(hooks))
        self._history: deque[FailoverEvent] = deque(maxlen=history)
        self._tracks: weakref.WeakKeyDictionary[pybreaker.CircuitBreaker, _Track] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    @property
    def events(self) -> tuple[FailoverEvent, ...]:
        """The most recent events of every breaker listened to, oldest first."""
        return tuple(self._history)

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        """Called by pybreaker on each state change: record the event and deliver it."""
        try:
            cause = _cause(inspect.currentframe())
            with self._lock:
                event = self._event(cb, old_state, new_state, cause)
                self._history.append(event)
                self._dispatcher.queue.append(event)
        except Exception:  # never break pybreaker's call; say so loudly
            logger.exception("failover PybreakerListener failed on %r; event lost", cb)
            return
        self._dispatcher.drain()

    def _event(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
        cause: _Cause | None,
    ) -> FailoverEvent:
        track = self._tracks.get(cb)
        if track is None:
            track = self._tracks[cb] = _Track(self.name or cb.name or f"pybreaker-{id(cb):x}")
        source = track.state if old_state is None else PYBREAKER_STATES[old_state.name]
        dest = PYBREAKER_STATES[new_state.name]
        synced = cause is None
        if cause is None:
            cause = _BY_ROUTE.get((source, dest), (_MANUAL_INTO[dest], _R.MANUAL))
        track.seq += 1
        track.state = dest
        details: dict[str, str | bool] = {"trigger": cause[0], "synced": synced}
        at = self.clock.monotonic()
        wall = wall_of(self.clock)
        return FailoverEvent(
            track.provider, track.seq, source, dest, cause[1], at, track.seq, details, wall
        )

    def __repr__(self) -> str:
        return f"<PybreakerListener breakers={len(self._tracks)} events={len(self._history)}>"


def _cause(frame: types.FrameType | None) -> _Cause | None:
    """Who moved the breaker: find pybreaker's open/half_open/close on the stack, then its
    caller. None when the change came from reading a state changed elsewhere (or no frames)."""
    for _ in range(_SEARCH_DEPTH):
        if frame is None:
            return None
        code = frame.f_code
        if code is _STATE_GETTER:
            return None
        manual = _MANUAL.get(code)
        if manual is not None:
            caller = frame.f_back
            while caller is not None and caller.f_code.co_name == code.co_name:
                caller = caller.f_back  # a subclass's override calling super()
            if caller is None:
                return manual
            return _AUTOMATIC.get((code, caller.f_code), manual)
        frame = frame.f_back
    return None
