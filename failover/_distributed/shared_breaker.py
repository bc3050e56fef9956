"""A shared breaker: a breaker as the replica (failover._distributed.replica) sees it
(``Member``, which fills in the breaker's ``SharedBreaker`` protocol): the local transitions
waiting to be published, the shared state last known, the probe permits held, the probe
outcomes waiting to be counted in the shared round; ``on_event``, ``permit`` and ``finished``
run under the breaker's lock, the rest on the replica's event loop.

Operator actions are ordered. Each local transition an operator fired (``force_open``,
``disable``, ``reset``, a policy's own MANUAL transition; not ``probe_now``, which the
coordinator fires too) carries a stamp: the wall-clock time in nanoseconds, at least one more
than any stamp this breaker made or saw, then the replica's id; stamps compare as strings. The
shared record keeps the stamp of the last operator action in its history. When a newer shared
record arrives while an operator action made here is not published yet, the action is dropped
only if the record's stamp is later; otherwise it (and what followed it here) is published on
top of the record. So the last action made wins in every process, even when a storage stall
delivered an earlier one late.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

import attrs

from failover._base.log import get_logger
from failover.clock import wall_ns
from failover.storage import SharedState
from statemachines import (
    BreakerState,
    FailoverEvent,
    FailoverReason,
    Outcome,
    State,
    Stimulus,
)

if TYPE_CHECKING:
    from failover._breaker.breaker import CircuitBreaker

__all__ = ["MAX_PENDING", "PERMIT_RETRY", "Member", "Pending", "ReplicaLink"]

logger = get_logger(__name__)

PERMIT_RETRY = (0.05, 1.0)
"""First and longest wait (breaker clock) before asking again for a probe permit the storage
refused, doubling in between: how often a request waiting for HALF_OPEN looks again."""
MAX_PENDING = 1024
"""Local transitions kept per breaker while they cannot be published."""

_HALF_OPEN = BreakerState.HALF_OPEN
_IGNORED = Outcome.IGNORED
_STALE = -1
"""A generation no machine is in: recording an outcome with it counts it as stale (I5)."""


class ReplicaLink(Protocol):
    """What a member (and a shared quota) reads of its replica: whether it is connected and
    its storage answering, its id, and how to wake its background task (thread-safe)."""

    origin: str
    online: bool
    degraded: bool

    def wake(self) -> None: ...


@attrs.define
class Pending:
    """A local transition waiting to be published."""

    event: FailoverEvent
    openings: int
    deadline: float | None  # local clock
    delivered: bool
    operator: str = ""  # the stamp of an operator action


@attrs.frozen
class _Probe:
    """A probe's outcome, waiting to be counted in the shared round of ``shared``."""

    generation: int  # the local machine's
    shared: int
    outcome: Outcome
    signal: FailoverReason | None
    retry_after: float | None


class Member:
    """One breaker as the replica sees it. ``on_event``, ``permit`` and ``finished`` run under
    the breaker's lock (any thread); the rest runs on the replica's event loop."""

    def __init__(self, replica: ReplicaLink, breaker: CircuitBreaker) -> None:
        self.replica = replica
        self.breaker = breaker
        self.name = breaker.name
        self.link = breaker.link()  # attached by the replica once made
        self.machine = self.link.machine
        policy = breaker.policy
        self.states: dict[str, State] = {s.value: s for s in policy.all_states()}
        self.operators = frozenset(
            t.name
            for t in policy.transition_table()
            if t.on is Stimulus.MANUAL and t.name != "probe_now"
        )
        self.operator_ns = 0  # the latest stamp made or seen here
        self.known = SharedState()
        self.known_deadline: float | None = None
        self.pending: deque[Pending] = deque()
        self.overflowed = False
        self.probes: deque[_Probe] = deque()  # outcomes for the storage to count
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
        stamp = self.stamp() if event.trigger in self.operators else ""
        machine = self.machine
        self.pending.append(Pending(event, machine.openings, machine.deadline, degraded, stamp))
        replica.wake()

    def stamp(self) -> str:
        """A new operator stamp, later than every one made or seen here."""
        self.operator_ns = max(wall_ns(), self.operator_ns + 1)
        return f"{self.operator_ns:020d}:{self.replica.origin}"

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

    def finished(
        self,
        generation: int,
        outcome: Outcome,
        signal: FailoverReason | None = None,
        retry_after: float | None = None,
    ) -> bool:
        """A call admitted in ``generation`` ends with ``outcome`` (under the breaker's lock);
        True when the replica records it, False when the breaker records it now.

        A HALF_OPEN probe that took a global permit is the replica's: its outcome is recorded
        once the storage has counted it in the shared round (``count``). One that ends IGNORED
        (cancelled, released) gives the permit back to this process instead: the next probe
        here uses it, or it goes back to the storage when its lease ends. (A call admitted
        without a permit, while the storage was away, may use up that count: then the permit
        simply expires.)"""
        machine, replica = self.machine, self.replica
        if (
            not self.permits_in_use
            or generation != machine.generation
            or machine.state is not _HALF_OPEN
            or self.permit_generation != self.known.generation
            or not replica.online
            or replica.degraded
        ):
            return False
        self.permits_in_use -= 1
        replica.wake()
        if outcome is _IGNORED:
            self.permits += 1
            return False
        self.probes.append(_Probe(generation, self.permit_generation, outcome, signal, retry_after))
        return True

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
        self.link.deliver(event, history=history)

    # --- the replica's side ----------------------------------------------------------------------

    def adopt(self, shared: SharedState, *, force: bool = False) -> None:
        """Take on a shared record newer than the known one (any, with ``force``): the machine
        adopts its state and the pending transitions are dropped, unless one of them is an
        operator action later than the record's last: then the record is what they are
        published on, from that action on (see the module docstring)."""
        link = self.link
        with link.lock:
            if not force and shared.generation <= self.known.generation:
                return
            now = link.now()
            deadline = None if shared.remaining is None else now + shared.remaining
            self.known, self.known_deadline = shared, deadline
            self.permits = 0
            self._observe(shared.operator)
            if self._rebase(shared.operator):
                return
            self.pending.clear()
            state = self.states.get(shared.state)
            if state is not None:
                self.machine.adopt(
                    state, now, deadline=deadline, openings=shared.openings, seq=shared.seq
                )
        if state is None:
            logger.error(
                "failover: provider %r: shared state %r is not a state of this policy (%r); "
                "every process must run the same policy",
                self.name,
                shared.state,
                sorted(self.states),
            )

    def _observe(self, stamp: str) -> None:
        ns = stamp.partition(":")[0]
        if ns.isdigit():
            self.operator_ns = max(self.operator_ns, int(ns))

    def _rebase(self, stamp: str) -> bool:
        """Drop the pending transitions before the last operator action later than ``stamp``;
        whether there is one (then it heads the queue)."""
        pending = self.pending
        later = [i for i, item in enumerate(pending) if item.operator > stamp]
        if not later:
            return False
        for _ in range(later[-1]):
            pending.popleft()
        return True

    def source_of(self, item: Pending) -> State:
        """The state ``item`` leaves in the shared log: an operator action leaves the known
        shared state (it may have been rebased onto it); any other its own source."""
        if item.operator:
            return self.states.get(self.known.state, item.event.source)
        return item.event.source

    def count(self, probe: _Probe, counts: tuple[int, int] | None) -> None:
        """Record a probe's outcome once the storage counted it: ``counts`` are the shared
        round's successes and failures with it (None: its generation is over, so it is stale).
        The machine takes the round's counts first, so that its own conditions decide on the
        probes of every process: the one process whose probe completes a decision fires it."""
        machine = self.machine
        link = self.link
        with link.lock:
            generation = probe.generation if counts is not None else _STALE
            current = generation == machine.generation and machine.state is _HALF_OPEN
            if counts is not None and current:
                self._catch_up(counts, probe.outcome.failed)
            machine.record(generation, probe.outcome, link.now(), probe.signal, probe.retry_after)
        link.drain()

    def _catch_up(self, counts: tuple[int, int], failed: bool) -> None:
        """Raise the machine's probe counts to the round's without the probe being recorded
        (other processes' probes count as admitted and finished here)."""
        machine = self.machine
        more_ok = max(counts[0] - (not failed) - machine.probes_succeeded, 0)
        more_failed = max(counts[1] - failed - machine.probes_failed, 0)
        machine.probes_succeeded += more_ok
        machine.probes_failed += more_failed
        machine.probes_admitted += more_ok + more_failed

    def settle(self) -> None:
        """Record the probe outcomes the storage has not counted on local counts alone (it
        went away, or the replica stops): as every probe while the storage is down."""
        link = self.link
        with link.lock:
            while self.probes:
                probe = self.probes.popleft()
                self.machine.record(
                    probe.generation, probe.outcome, link.now(), probe.signal, probe.retry_after
                )
        link.drain()

    def seed_record(self) -> SharedState:
        """The known record, with the time left until its deadline now."""
        left = self.known_deadline
        if left is not None:
            left = max(left - self.link.now(), 0.0)
        return attrs.evolve(self.known, remaining=left)

    def record_of(self, item: Pending) -> SharedState:
        """What a pending local transition writes to the storage."""
        left = None if item.deadline is None else max(item.deadline - self.link.now(), 0.0)
        event = item.event
        return SharedState(
            event.dest.value, 0, 0, item.openings, event.reason.value, left, item.operator
        )

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
            now := self.link.now(),
            machine.generation,
            {"error": repr(error)[:200]},
            None if machine.wall_offset is None else now + machine.wall_offset,
        )
