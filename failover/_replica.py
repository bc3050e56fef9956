"""The replica: keeps the breakers of one process in step with a shared Storage.

Each breaker keeps its local BreakerMachine, so a call through a CLOSED breaker touches no
storage. A local transition is queued here (under the breaker's lock) and a background task
publishes it with ``Storage.compare_and_set`` on the shared generation: when it wins, the event
(with the shared seq and generation) goes to the breaker's hooks; when another process won
first, the machine adopts the winner's state and the local event is dropped. Changes made
elsewhere arrive through the storage's subscription and are adopted likewise.

In HALF_OPEN a probe needs a global permit (``Storage.acquire_probe``): the first admission
asks for one and is rejected; the background task takes one, and the next admission uses it.
An unused permit is given back after ``PERMIT_LEASE`` seconds. When the storage refuses one
(another process holds them), no permit is asked for again before a wait (``PERMIT_RETRY``,
doubling): ``permit_refused_until`` tells the coordinator how long a waiting request sleeps.

When the storage fails, the replica says so once (a warning on logger ``failover`` and one
STORAGE_DEGRADED event per breaker), lets the breakers run on their own (local transitions go
to hooks at once, probes are capped locally), and reconnects with backoff; once back it
re-seeds a storage that lost its data, publishes the local transitions made meanwhile (or
adopts the newer shared state if another process moved first) and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from failover.storage import SharedState, StateUpdate, Storage, StorageUnavailable, Subscription
from statemachines import BreakerState, ConfigurationError, FailoverEvent, FailoverReason, State

if TYPE_CHECKING:
    from failover._breaker import CircuitBreaker
    from failover._shared_quota import SharedQuota

__all__ = [
    "MAX_PENDING",
    "PERMIT_LEASE",
    "PERMIT_RETRY",
    "RECONNECT_DELAY",
    "Member",
    "Replica",
    "local_events",
]

logger = logging.getLogger("failover")

PERMIT_LEASE = 2.0
"""Seconds a process keeps a probe permit it has not used before giving it back."""
PERMIT_RETRY = (0.05, 1.0)
"""First and longest wait (breaker clock) before asking again for a probe permit the storage
refused, doubling in between: how often a request waiting for HALF_OPEN looks again."""
RECONNECT_DELAY = (0.05, 2.0)
"""First and longest wait between reconnection attempts (doubling in between)."""
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
            return True
        self.want_permit = True
        replica.wake()
        return False

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


class Replica:
    """Keeps ``breakers`` in step with ``storage`` while started (see the module docstring)."""

    def __init__(self, storage: Storage, breakers: Sequence[CircuitBreaker]) -> None:
        if not isinstance(storage, Storage):
            raise ConfigurationError(
                f"storage must be a Storage, got {storage!r}; "
                "e.g. storage=MemoryStorage() or storage=RedisStorage('redis://localhost:6379/0')"
            )
        self.storage = storage
        self.origin = uuid.uuid4().hex[:16]
        self.members = {b.name: Member(self, b) for b in breakers}
        self.online = False
        self.degraded = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_event: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._lost: BaseException | None = None
        self.quotas: list[SharedQuota] = []  # global rate limits (failover._shared_quota)
        for member in self.members.values():
            member.breaker._replica = member
            storage.register_policy(member.name, member.breaker.policy)

    def wake(self) -> None:
        """Have the background task look at the members (thread-safe)."""
        loop, event = self._loop, self._wake_event
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, adopt the shared states and start the background task; never raises (an
        unreachable storage means local state, a warning, and reconnection in the background)."""
        self._loop = asyncio.get_running_loop()
        self._wake_event = asyncio.Event()
        self.online = True
        try:
            await self._connect()
        except Exception as exc:
            self._degrade(exc)
        self._task = self._loop.create_task(self._run())

    async def stop(self) -> None:
        """Publish what is pending (best effort), stop the tasks and close the storage."""
        if not self.online:
            return
        if not self.degraded:
            with contextlib.suppress(Exception):
                await self._step()
        self.online = False
        for task in (self._task, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._unsubscribe()
        with contextlib.suppress(Exception):
            await self.storage.aclose()

    # --- the background task -----------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake_event is not None
        delay = RECONNECT_DELAY[0]
        while True:
            try:
                if self.degraded:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RECONNECT_DELAY[1])
                    await self._connect()
                    self._restored()
                    delay = RECONNECT_DELAY[0]
                await self._wake_event.wait()
                self._wake_event.clear()
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._degrade(exc)

    async def _step(self) -> None:
        if self._lost is not None:
            raise StorageUnavailable(f"subscription lost: {self._lost}") from self._lost
        for member in self.members.values():
            await self._flush(member)
            await self._permits(member)
        for quota in self.quotas:
            await quota.refill(self.storage)

    async def _connect(self) -> None:
        await self._unsubscribe()
        await self.storage.connect()
        self._subscription = subscription = await self.storage.subscribe()
        self._lost = None
        assert self._loop is not None
        self._listener = self._loop.create_task(self._listen(subscription))
        for member in self.members.values():
            await self._resync(member)
        for quota in self.quotas:
            await quota.refill(self.storage)
        self.wake()

    async def _unsubscribe(self) -> None:
        listener, subscription = self._listener, self._subscription
        self._listener = self._subscription = None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.aclose()

    async def _listen(self, subscription: Subscription) -> None:
        try:
            async for update in subscription:
                self._on_update(update)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._lost = exc
            self.wake()

    def _on_update(self, update: StateUpdate) -> None:
        member = self.members.get(update.provider)
        if member is None or update.origin == self.origin:
            return
        if update.state.generation > member.known.generation:
            member.adopt(update.state)

    async def _resync(self, member: Member) -> None:
        stored = await self.storage.load(member.name)
        if stored is None or stored.generation < member.known.generation:
            stored = await self.storage.seed(member.name, member.seed_record())
        if member.overflowed or stored.generation > member.known.generation:
            member.overflowed = False
            member.adopt(stored)

    async def _flush(self, member: Member) -> None:
        while member.pending:
            item = member.pending[0]
            expected = member.known.generation
            details = {**item.event.details, "origin": self.origin}
            event = attrs.evolve(item.event, generation=expected + 1, details=details)
            won, stored = await self.storage.compare_and_set(
                member.name, expected, member.record_of(item), event, self.origin
            )
            if not won and stored.generation < expected:  # the storage lost its data
                raise StorageUnavailable(f"{member.name!r}: stored generation went back")
            with member.breaker._lock:
                if member.pending and member.pending[0] is item:
                    member.pending.popleft()
                newer = stored.generation > member.known.generation
                if won and newer:
                    member.known, member.known_deadline = stored, item.deadline
            if not won and newer:
                member.adopt(stored)
            if won and not item.delivered:
                member.local(attrs.evolve(event, seq=stored.seq))
                member.breaker._dispatcher.drain()

    async def _permits(self, member: Member) -> None:
        assert self._loop is not None
        if member.permits and self._loop.time() >= member.permit_expiry:
            member.permits = 0
            await self.storage.release_probe(member.name, member.permit_generation)
        if not member.want_permit or member.pending or member.permits:
            return
        member.want_permit = False
        known = member.known
        if known.state != _HALF_OPEN.value or member.machine.state is not _HALF_OPEN:
            return
        policy = member.breaker.policy
        cap, ttl = policy.half_open_max_calls, policy.max_half_open_duration
        if not await self.storage.acquire_probe(member.name, known.generation, cap, ttl):
            member.refused(known.generation, member.breaker._now())
            return
        with member.breaker._lock:
            current = member.known.generation == known.generation
            if current:
                member.permits, member.permit_generation = 1, known.generation
                member.permit_expiry = self._loop.time() + PERMIT_LEASE
        if current:
            self._loop.call_later(PERMIT_LEASE, self.wake)
        else:
            await self.storage.release_probe(member.name, known.generation)

    # --- degraded mode -------------------------------------------------------------------------

    def _degrade(self, error: BaseException) -> None:
        if self.degraded:
            return
        self.degraded = True
        if not isinstance(error, StorageUnavailable):
            logger.error("failover storage %r failed", self.storage, exc_info=error)
        logger.warning(
            "failover storage %r unavailable (%s): breakers go on with local state; reconnecting",
            self.storage,
            error,
        )
        for member in self.members.values():
            with member.breaker._lock:
                member.permits = 0
                for item in member.pending:
                    if not item.delivered:
                        item.delivered = True
                        member.local(item.event)
                member.local(member.degraded_event(error), history=False)
            member.breaker._dispatcher.drain()

    def _restored(self) -> None:
        self.degraded = False
        logger.info("failover storage %r is back: breaker states resynced", self.storage)

    # --- the shared log -------------------------------------------------------------------------

    async def events(
        self, names: Sequence[str], since: int, limit: int | None
    ) -> tuple[FailoverEvent, ...]:
        """The shared log of ``names`` (a breaker's local history while the storage fails)."""
        found: list[FailoverEvent] = []
        for name in names:
            try:
                found += await self.storage.events(name, since, limit)
            except Exception as exc:
                logger.warning("failover storage %r: events unavailable (%s)", self.storage, exc)
                found += local_events([self.members[name].breaker], since, limit)
        return tuple(found)


def local_events(
    breakers: Sequence[CircuitBreaker], since: int, limit: int | None
) -> tuple[FailoverEvent, ...]:
    """The breakers' recent events with seq > ``since``, at most ``limit`` per breaker."""
    found: list[FailoverEvent] = []
    for breaker in breakers:
        events = [e for e in breaker.events if e.seq > since]
        found += events if limit is None else events[:limit]
    return tuple(found)
