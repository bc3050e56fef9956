"""How distributed mode plugs into a breaker (internal): the protocol the breaker defines for
its shared state, and the link it hands back.

A breaker alone decides on its own; in distributed mode its replica member
(``failover._distributed.shared_breaker``) takes part. The breaker calls the member only through
``SharedBreaker`` (under the breaker's lock: a transition to publish, a global probe permit, a
finished call the shared round counts), and the member reaches the breaker only through the
``BreakerLink`` that ``CircuitBreaker.link`` returns: its lock, machine and clock, and the
delivery of events to its history and hooks. Neither reads the other's private attributes. The
testing kit reads a breaker's figures as recorded through the link too (``recorded``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from failover._base.hooks import Dispatcher
from statemachines import BreakerMachine, FailoverEvent, FailoverReason, MachineSnapshot, Outcome

__all__ = ["BreakerLink", "SharedBreaker"]


class SharedBreaker(Protocol):
    """What a breaker in distributed mode calls, under its lock (a replica member)."""

    def on_event(self, event: FailoverEvent) -> None:
        """A local transition happened: publish it (or deliver it, when not shared)."""

    def permit(self) -> bool:
        """Whether a call the machine just admitted may go (HALF_OPEN: a global permit)."""

    def finished(
        self,
        generation: int,
        outcome: Outcome,
        signal: FailoverReason | None = None,
        retry_after: float | None = None,
    ) -> bool:
        """A call of ``generation`` ended: True when the shared side records it."""

    def permit_refused_until(self, now: float) -> float | None:
        """Until when the storage refused a HALF_OPEN probe permit (read without the lock)."""


class BreakerLink:
    """What a breaker lends the shared state attached to it.

    Attributes:
        lock: The breaker's lock: hold it to read or change the machine.
        machine: The breaker's BreakerMachine.
        now: The breaker's clock (monotonic seconds).
    """

    __slots__ = ("_dispatcher", "_fold", "_history", "lock", "machine", "now")

    def __init__(
        self,
        lock: threading.Lock,
        machine: BreakerMachine,
        now: Callable[[], float],
        history: deque[FailoverEvent],
        dispatcher: Dispatcher,
        fold: Callable[[], None],
    ) -> None:
        self.lock = lock
        self.machine = machine
        self.now = now
        self._history = history
        self._dispatcher = dispatcher
        self._fold = fold

    def recorded(self) -> MachineSnapshot:
        """The figures as recorded: the successes the fast path counted folded in, a time
        window not aged to the clock's now, no transition fired."""
        with self.lock:
            self._fold()
            return self.machine.snapshot()

    def deliver(self, event: FailoverEvent, *, history: bool = True) -> None:
        """Queue ``event`` for the breaker's hooks (and its history), delivered at the next
        ``drain`` by whoever drains."""
        if history:
            self._history.append(event)
        self._dispatcher.queue.append(event)

    def drain(self) -> None:
        """Deliver the queued events to the hooks (outside the lock)."""
        self._dispatcher.drain()
