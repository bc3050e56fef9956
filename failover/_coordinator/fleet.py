"""The fleet state of a Coordinator: NORMAL, DEGRADED or BASIC, and one event per change.

The fleet is the coordinator's primary providers (its fallbacks are not part of it). A primary
*admits* when its breaker's state admits calls (CLOSED, HALF_OPEN, DISABLED, an admitting custom
state) or its open duration is over (its next admission is a probe); quota and probe permits
aside. NORMAL: every primary admits; DEGRADED: some do not, at least one does; BASIC: none does
(requests are served by the fallbacks, if any).

The state is re-evaluated (O(primaries)) after every transition of a primary's breaker (an
internal breaker hook), at every pick that reaches the fallbacks, and at ``status()``; never on
the common path of a request. Each change is one FleetEvent, with a gapless ``seq``, delivered
to the coordinator's ``fleet_hooks``.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from failover._base.hooks import BreakerHook
from failover._base.log import get_logger
from statemachines import BreakerState, ConfigurationError, FailoverEvent

if TYPE_CHECKING:
    from failover._breaker.breaker import CircuitBreaker
    from failover.clock import Clock

__all__ = ["Fleet", "FleetEvent", "FleetHook", "FleetState", "fleet_state"]

logger = get_logger(__name__)

_FORCED_OPEN = BreakerState.FORCED_OPEN


class FleetState(enum.Enum):
    """How many of a coordinator's primary providers admit calls."""

    NORMAL = "normal"
    """Every primary admits calls."""
    DEGRADED = "degraded"
    """Some primary does not admit calls; at least one does."""
    BASIC = "basic"
    """No primary admits calls: requests are served by the fallbacks."""


@attrs.frozen
class FleetEvent:
    """One change of a coordinator's fleet state.

    Attributes:
        seq: 1 for the coordinator's first change, then one more each time.
        source: The state left.
        dest: The state entered.
        at: When, on the coordinator's clock.
        admitting: The primaries that admitted calls then, in registration order.
        change: None for a change of the fleet state; for a change of its members (source
            and dest are then the same): "added" and "removed" (``Coordinator.add`` /
            ``remove``), "not_built" (a provider of the settings that could not be built at
            start: ``managed_failover(on_build_error="degrade")``).
        provider: The provider the ``change`` is about.
        detail: Why, for people (the build error, redacted).
    """

    seq: int
    source: FleetState
    dest: FleetState
    at: float
    admitting: tuple[str, ...]
    change: str | None = None
    provider: str | None = None
    detail: str = ""


FleetHook = Callable[[FleetEvent], object]
"""A listener of fleet events: a callable taking a FleetEvent (an awaitable it returns is
scheduled on the running event loop)."""


def fleet_state(admitting: int, primaries: int) -> FleetState:
    """The fleet state when ``admitting`` of ``primaries`` primaries admit calls."""
    if admitting == primaries:
        return FleetState.NORMAL
    return FleetState.BASIC if admitting == 0 else FleetState.DEGRADED


def admits(breaker: CircuitBreaker, now: float) -> bool:
    """Whether ``breaker`` admits calls at ``now`` as the fleet state counts it (its state
    admits calls, or its open duration is over); read through the breaker's public reads."""
    state = breaker.state
    if state.admits_calls:
        return True
    retry_at = breaker.retry_at
    return state is not _FORCED_OPEN and retry_at is not None and now >= retry_at


def check_fleet_hooks(hooks: Iterable[FleetHook]) -> tuple[FleetHook, ...]:
    """``fleet_hooks`` as a tuple; ConfigurationError for anything not callable."""
    hooks = tuple(hooks)
    for hook in hooks:
        if not callable(hook):
            raise ConfigurationError(
                f"fleet_hooks must hold callables taking a FleetEvent, got {hook!r}"
            )
    return hooks


class _Watch(BreakerHook):
    """The internal hook on each primary's breaker: a transition re-evaluates the fleet."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def on_transition(self, event: FailoverEvent) -> None:
        self.fleet.refresh()

    def __repr__(self) -> str:
        return "<fleet state watch>"


class Fleet:
    """The fleet state of one coordinator (internal): evaluated on demand, never per request.

    ``refresh`` may be called from any thread and re-entered from a listener: whoever finds the
    lock free evaluates, and evaluates again if someone asked meanwhile.
    """

    def __init__(self, clock: Clock, hooks: Iterable[FleetHook]) -> None:
        self.clock = clock
        self.hooks = check_fleet_hooks(hooks)
        self.breakers: tuple[CircuitBreaker, ...] = ()
        self.state = FleetState.NORMAL
        self.last_event: FleetEvent | None = None
        self.watch = _Watch(self)
        self._lock = threading.Lock()
        self._dirty = False
        self._tasks: set[asyncio.Task[None]] = set()

    def follow(self, breakers: Sequence[CircuitBreaker]) -> None:
        """Watch the primaries' breakers (each built with ``self.watch`` among its hooks)."""
        self.breakers = tuple(breakers)
        self.refresh()

    def refresh(self) -> None:
        """Re-evaluate the state now; a change is one FleetEvent, delivered to the hooks."""
        self._dirty = True
        while self._dirty:
            if not self._lock.acquire(blocking=False):
                return  # the holder evaluates again before it lets go
            try:
                self._dirty = False
                self._evaluate()
            finally:
                self._lock.release()

    def _evaluate(self) -> None:
        now = self.clock.monotonic()
        admitting = tuple(b.name for b in self.breakers if admits(b, now))
        dest = fleet_state(len(admitting), len(self.breakers))
        if dest is self.state:
            return
        seq = 1 if self.last_event is None else self.last_event.seq + 1
        event = FleetEvent(seq, self.state, dest, now, admitting)
        self.state, self.last_event = dest, event
        self._deliver(event)

    def announce(self, change: str, provider: str, detail: str) -> FleetEvent:
        """A change of the fleet's members (the state is the same): one FleetEvent, delivered
        to the hooks like a change of state."""
        with self._lock:
            seq = 1 if self.last_event is None else self.last_event.seq + 1
            admitting = tuple(b.name for b in self.breakers if admits(b, self.clock.monotonic()))
            event = FleetEvent(
                seq,
                self.state,
                self.state,
                self.clock.monotonic(),
                admitting,
                change,
                provider,
                detail,
            )
            self.last_event = event
        self._deliver(event)
        return event

    def _deliver(self, event: FleetEvent) -> None:
        for hook in self.hooks:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    self._schedule(hook, result)
            except Exception:
                logger.exception("failover fleet hook %r raised on %r; ignored", hook, event)

    def _schedule(self, hook: FleetHook, awaitable: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception:
                logger.exception("failover async fleet hook %r raised; ignored", hook)

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(run())  # no loop in this thread: run it to completion here
            return
        task = loop.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
