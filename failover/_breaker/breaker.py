"""CircuitBreaker: one provider's breaker for sync and async calls, safe under tasks and threads.

The hot path (a plain success through a CLOSED breaker whose window is past every point where a
success could matter) takes no lock: ``call``, ``acall`` and the decorator read the clock twice,
call the function and count the success on the generation's lock-free counter, folded into the
machine before anything else touches it (``failover._breaker.fast``). Every other outcome is
recorded
under the lock; no lock is held across an ``await``.
"""

from __future__ import annotations

import random
import threading
import types
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from failover._base.hooks import Dispatcher, overrides
from failover._base.log import get_logger
from failover._breaker.admission import Admission
from failover._breaker.checks import unexpected_keywords
from failover._breaker.guard import Guard, decorate
from failover._breaker.link import BreakerLink, SharedBreaker
from failover.classify import Classifier, default_classifier
from failover.clock import Clock, SystemClock, wall_of
from failover.hooks import Hook, resolve_hooks
from statemachines import (
    BreakerMachine,
    BreakerPolicy,
    ConfigurationError,
    FailoverEvent,
    FailoverReason,
    MachineSnapshot,
    Outcome,
    ProviderHealth,
    State,
)

__all__ = ["CircuitBreaker"]

logger = get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_COROUTINE = types.CoroutineType


class CircuitBreaker(Admission):
    """Guards one provider: admits or rejects calls and records how they end.

    Args:
        name: The provider's name (in events, errors and metrics).
        policy: The BreakerPolicy (default ``BreakerPolicy()``).
        clock: Where time comes from (default SystemClock; ManualClock in tests).
        classifier: Maps a call's exception or result to SUCCESS/FAILURE/IGNORED
            (``failover.classify``).
        hooks: Transition/call/rejection hooks; None for the defaults (logging, and
            OpenTelemetry metrics when opentelemetry-api is installed); () for none.
        history: How many recent events ``events`` keeps.
        rng: Random source for open-duration jitter (default: seeded from the name).
        **unexpected: Refused (ConfigurationError); pybreaker's keywords name their equivalent.

    Use ``call`` / ``await acall``, ``with breaker.guard():`` / ``async with breaker.guard():``,
    or the breaker as a decorator on a ``def`` or an ``async def``.
    """

    __slots__ = (
        "__weakref__",
        "_call_hooks",
        "_classify",
        "_clock",
        "_condition_errors_logged",
        "_dispatcher",
        "_history",
        "_lock",
        "_machine",
        "_now",
        "_plain_success",
        "_queue",
        "_reject_hooks",
        "_replica",
        "_slow",
        "_watchers",
        "name",
        "policy",
    )

    def __init__(
        self,
        name: str,
        policy: BreakerPolicy | None = None,
        *,
        clock: Clock | None = None,
        classifier: Classifier = default_classifier,
        hooks: Iterable[Hook] | None = None,
        history: int = 100,
        rng: random.Random | None = None,
        **unexpected: object,
    ) -> None:
        if unexpected:
            raise unexpected_keywords(unexpected)
        if policy is not None and not isinstance(policy, BreakerPolicy):
            raise ConfigurationError(
                f"policy must be a BreakerPolicy, got {policy!r}; "
                "e.g. CircuitBreaker('gemini', BreakerPolicy(max_consecutive_failures=5))"
            )
        if not callable(classifier):
            raise ConfigurationError(f"classifier must be callable, got {classifier!r}")
        if not isinstance(history, int) or isinstance(history, bool) or history < 0:
            raise ConfigurationError(f"history must be an int >= 0, got {history!r}")
        self.name = name
        self._clock = clock if clock is not None else SystemClock()
        self._now: Callable[[], float] = self._clock.monotonic
        self._lock = threading.Lock()
        hooks_ = resolve_hooks(hooks)
        self._dispatcher = Dispatcher(hooks_)
        self._call_hooks = tuple(h for h in hooks_ if overrides(h, "on_call"))
        self._reject_hooks = tuple(h for h in hooks_ if overrides(h, "on_rejected"))
        self._history: deque[FailoverEvent] = deque(maxlen=history)
        self._watchers: tuple[Callable[[], object], ...] = ()
        self._condition_errors_logged: set[str] = set()
        self._machine = BreakerMachine(
            name,
            policy,
            now=self._now(),
            rng=rng,
            on_event=self._on_machine_event,
            on_condition_error=self._on_condition_error,
            on_change=self._on_change,
        )
        # wall_at of each event: UTC epoch seconds for people (the offset measured once, here)
        self._machine.wall_offset = wall_of(self._clock) - self._now()
        self.policy = self._machine.policy
        self._slow = self.policy.slow_call_duration
        self._classify = classifier
        # the default classifier says SUCCESS to every result: skip it, and the call hooks if none
        self._plain_success = classifier is default_classifier and not self._call_hooks
        self._queue = self._dispatcher.queue
        # distributed mode: set by failover._distributed.replica
        self._replica: SharedBreaker | None = None
        self._init_counting()
        self._fastable = self._plain_success
        for hook in hooks_:  # a metrics hook reads this breaker's counters when collected
            bind = getattr(hook, "bind", None)
            if callable(bind):
                bind(self)

    def _on_machine_event(self, event: FailoverEvent) -> None:
        if self._replica is not None:  # distributed mode: hooks get the events that won
            self._replica.on_event(event)
            return
        self._history.append(event)
        self._queue.append(event)

    def _on_condition_error(self, transition: str, exc: Exception) -> None:
        # Logged once per transition (every one is counted: statistics().condition_errors).
        if transition not in self._condition_errors_logged:
            self._condition_errors_logged.add(transition)
            logger.error(
                "failover: provider %r: the condition of transition %r raised %s: %s; it counts "
                "as not holding (further errors of it are counted, not logged)",
                self.name,
                transition,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )

    def _on_change(self) -> None:
        self._arm()  # the lock is held, and the machine folded before it moved
        self._left_state()
        for watcher in self._watchers:
            watcher()

    def link(self) -> BreakerLink:
        """Distributed mode (internal: failover/_breaker/link.py): what the shared state
        attached to this breaker reaches it through (its lock, machine, clock, events)."""
        return BreakerLink(
            self._lock, self._machine, self._now, self._history, self._dispatcher, self._fold_all
        )

    def attach_replica(self, shared: SharedBreaker) -> None:
        """Distributed mode (internal: failover/_breaker/link.py): transitions, probe permits
        and finished calls go through ``shared`` from now on."""
        with self._lock:
            self._fold()
            self._replica = shared
            self._fastable = False
            self._arm()

    def watch(self, fn: Callable[[], object]) -> None:
        """Call ``fn()`` (under the breaker's lock: keep it to a few instructions) after every
        change of state, however it came: a call's outcome, time, a health check, an operator,
        or another process (internal: the coordinator's selection listens)."""
        self._watchers = (*self._watchers, fn)

    def unwatch(self, fn: Callable[[], object]) -> None:
        """Stop calling ``fn`` (given to ``watch``); nothing happens if it is not watching."""
        self._watchers = tuple(w for w in self._watchers if w is not fn)

    # --- state --------------------------------------------------------------------------------

    def _due(self) -> None:
        """Fire the time-driven transitions that are due (L1: reading the state moves it)."""
        tick_at = self._machine.tick_at
        if tick_at is not None and self._now() >= tick_at:
            self.tick()

    @property
    def state(self) -> State:
        """The current state, after any time-driven transition that is due now."""
        self._due()
        return self._machine.state

    @property
    def health(self) -> ProviderHealth:
        """The current state's ProviderHealth (after any due time-driven transition)."""
        self._due()
        return self._machine.health

    @property
    def clock(self) -> Clock:
        """The clock this breaker reads."""
        return self._clock

    @property
    def events(self) -> tuple[FailoverEvent, ...]:
        """The most recent events, oldest first (at most ``history``)."""
        return tuple(self._history)

    def statistics(self) -> MachineSnapshot:
        """A frozen snapshot: window counts and rates, generation, open_until (``deadline``),
        probes in flight, lifetime counts."""
        self._due()
        with self._lock:
            self._fold_all()
            return self._machine.snapshot(self._now())

    @property
    def retry_at(self) -> float | None:
        """When a rejected call may be retried (None if admitting or FORCED_OPEN)."""
        self._due()
        return self._machine.retry_at

    # --- calls ----------------------------------------------------------------------------------

    def guard(self) -> Guard:
        """``with breaker.guard():`` / ``async with breaker.guard():`` around a block."""
        return Guard(self)

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a ``def`` or an ``async def`` so that every call goes through the breaker."""
        return decorate(self, fn)

    # --- operator -------------------------------------------------------------------------------

    def _manual(self, name: str) -> FailoverEvent:
        with self._lock:
            self._fold()
            event = self._machine.fire(name, self._now())
        self._dispatcher.drain()
        return event

    def force_open(self) -> FailoverEvent:
        """Reject every call until ``reset()`` (FORCED_OPEN)."""
        return self._manual("force_open")

    def disable(self) -> FailoverEvent:
        """Admit every call and record nothing (DISABLED)."""
        return self._manual("disable")

    def reset(self) -> FailoverEvent:
        """Back to CLOSED with an empty window."""
        return self._manual("reset")

    def fire(self, trigger: str) -> FailoverEvent:
        """Fire a policy's own MANUAL transition by name."""
        return self._manual(trigger)

    def record_health_check(self, passed: bool) -> FailoverEvent | None:
        """Feed an active health check's result to the machine; the event if one fired."""
        with self._lock:
            self._fold()
            event = self._machine.health_check(passed, self._now())
        self._dispatcher.drain()
        return event

    def tick(self) -> FailoverEvent | None:
        """Check time-driven transitions now (cooldown, probe timeout) without a call."""
        with self._lock:
            self._fold()
            event = self._machine.tick(self._now())
        self._dispatcher.drain()
        return event

    def record_signal(self, signal: FailoverReason, retry_after: float | None = None) -> None:
        """Record a failure the provider reported out of band (e.g. a 429 seen elsewhere)."""
        with self._lock:
            self._fold()
            machine = self._machine
            machine.record(machine.generation, Outcome.FAILURE, self._now(), signal, retry_after)
        self._dispatcher.drain()

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self.state.value}>"
