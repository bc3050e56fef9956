"""A breaker as the replica (failover._replica) sees it: the local transitions waiting to be
published, the shared state last known, the probe permits held; ``on_event`` and ``permit`` run
under the breaker's lock, the rest on the replica's event loop."""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

import attrs

from failover.storage import SharedState
from statemachines import BreakerState, FailoverEvent, FailoverReason, State

if TYPE_CHECKING:
    from failover._breaker import CircuitBreaker
    from failover._replica import Replica

__all__ = ["MAX_PENDING", "PERMIT_RETRY", "Member"]

logger = logging.getLogger("failover")

PERMIT_RETRY = (0.05, 1.0)
"""First and longest wait (breaker clock) before asking again for a probe permit the storage
refused, doubling in between: how often a request waiting for HALF_OPEN looks again."""
MAX_PENDING = 1024
"""Local transitions kept per breaker while they cannot be published."""

_HALF_OPEN = BreakerState.HALF_OPEN


@attrs.define
class _Pending:
    event: FailoverEvent
    openings: int
    deadline: float | None  # local clock
    delivered: bool


class Member:
    """One breaker as the replica sees it. ``on_event`` and ``permit`` run under the breaker's
    lock (any thread); the rest runs on the replica's event loop."""

    def __init__(self, replica: Replica, breaker: CircuitBreaker) -> None:
        self.replica = replica
        self.breaker = breaker
        self.name = breaker.name
        self.machine = breaker._machine
        self.states: dict[str, State] = {s.value: s for s in breaker.policy.all_states()}
        self.known = SharedState()
        self.known_deadline: float | None = None
        self.pending: deque[_Pending] = deque()
        self.overflowed = False
        self.permits = 0
        self.permits_in_use = 0  # taken by calls of permit_generation still running
        self.permit_generation = -1
        self.permit_expiry = 0.0
        self.want_permit = False
        self.refused_generation = -1
        self.refusals = 0
        self.retry_permit_at = 0.0

    # --- the breaker's side (under its lock) ---------------------------------------------------

    def on_event(self, event: FailoverEvent) -> None:
        """A local transition: queue it for publication (or deliver it, when not shared)."""
        replica = self.replica
        if not replica.online:
            self.local(event)
            return
        degraded = replica.degraded
        if degraded:
            self.local(event)
        if len(self.pending) >= MAX_PENDING:
            self.pending.popleft()
            self.overflowed = True
        self.pending.append(_Pending(event, self.machine.openings, self.machine.deadline, degraded))
        replica.wake()

    def permit(self) -> bool:
        """Whether a call the local machine just admitted may go (HALF_OPEN: a global permit)."""
        replica = self.replica
        if self.machine.state is not _HALF_OPEN or not replica.online or replica.degraded:
            return True
        if self.permits and self.permit_generation == self.known.generation and not self.pending:
            self.permits -= 1
            self.permits_in_use += 1
            return True
        self.want_permit = True
        replica.wake()
        return False

    def finished(self, generation: int, ignored: bool) -> None:
        """A call admitted in ``generation`` ends (under the breaker's lock, before its outcome
        is recorded). A HALF_OPEN probe that took a global permit and ends IGNORED (cancelled,
        released) gives the permit back to this process: the next probe here uses it, or it
        goes back to the storage when its lease ends. (A call admitted without a permit, while
        the storage was away, may use up that count: then the permit simply expires.)"""
        machine = self.machine
        if (
            not self.permits_in_use
            or generation != machine.generation
            or machine.state is not _HALF_OPEN
            or self.permit_generation != self.known.generation
        ):
            return
        self.permits_in_use -= 1
        if ignored:
            self.permits += 1
            self.replica.wake()

    def permit_refused_until(self, now: float) -> float | None:
        """When a probe permit is worth asking for again, if the storage refused this
        generation's lately (None: ask now). Read without the lock, for waits only."""
        replica = self.replica
        if (
            self.refused_generation != self.known.generation
            or now >= self.retry_permit_at
            or not replica.online
            or replica.degraded
        ):
            return None
        return self.retry_permit_at

    def refused(self, generation: int, now: float) -> None:
        """The storage refused a permit of ``generation`` at ``now`` (breaker clock)."""
        same = generation == self.refused_generation
        if same and now < self.retry_permit_at:
            return  # a refusal of the same wait (several admissions asked): it stands
        self.refusals = min(self.refusals + 1, 16) if same else 0
        self.refused_generation = generation
        first, longest = PERMIT_RETRY
        self.retry_permit_at = now + min(first * 2**self.refusals, longest)

    def local(self, event: FailoverEvent, history: bool = True) -> None:
        """Hand ``event`` to the breaker's history and hooks (delivered by whoever drains)."""
        if history:
            self.breaker._history.append(event)
        self.breaker._queue.append(event)

    # --- the replica's side ----------------------------------------------------------------------

    def adopt(self, shared: SharedState) -> None:
        """Take on the shared record: the machine adopts its state; pending events are dropped."""
        state = self.states.get(shared.state)
        if state is None:
            logger.error(
                "failover: provider %r: shared state %r is not a state of this policy (%r); "
                "every process must run the same policy",
                self.name,
                shared.state,
                sorted(self.states),
            )
            return
        breaker = self.breaker
        with breaker._lock:
            now = breaker._now()
            deadline = None if shared.remaining is None else now + shared.remaining
            self.known, self.known_deadline = shared, deadline
            self.pending.clear()
            self.permits = 0
            self.machine.adopt(
                state, now, deadline=deadline, openings=shared.openings, seq=shared.seq
            )

    def seed_record(self) -> SharedState:
        """The known record, with the time left until its deadline now."""
        left = self.known_deadline
        if left is not None:
            left = max(left - self.breaker._now(), 0.0)
        return attrs.evolve(self.known, remaining=left)

    def record_of(self, item: _Pending) -> SharedState:
        """What a pending local transition writes to the storage."""
        left = None if item.deadline is None else max(item.deadline - self.breaker._now(), 0.0)
        event = item.event
        return SharedState(event.dest.value, 0, 0, item.openings, event.reason.value, left)

    def degraded_event(self, error: BaseException) -> FailoverEvent:
        """The one STORAGE_DEGRADED event of an outage (no transition: source == dest)."""
        machine = self.machine
        state = machine.state
        return FailoverEvent(
            self.name,
            0,
            state,
            state,
            FailoverReason.STORAGE_DEGRADED,
            self.breaker._now(),
            machine.generation,
            {"error": repr(error)[:200]},
        )
