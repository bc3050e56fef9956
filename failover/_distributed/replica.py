"""The replica: keeps the breakers of one process in step with a shared Storage.

Each breaker keeps its local BreakerMachine, so a call through a CLOSED breaker touches no
storage. A local transition is queued here (under the breaker's lock) and a background task
publishes it with ``Storage.compare_and_set`` on the shared generation: when it wins, the event
(with the shared seq and generation) goes to the breaker's hooks; when another process won
first, the machine adopts the winner's state and the local event is dropped. Changes made
elsewhere arrive through the storage's subscription and are adopted likewise.

In HALF_OPEN a probe needs a global permit (``Storage.acquire_probe``): the first admission
asks for one and is rejected; the background task takes one, and the next admission uses it.
An unused permit (also one a cancelled probe handed back, ``Member.finished``) is given back
to the storage ``PERMIT_LEASE`` seconds after it was taken. When the storage refuses one
(another process holds them), no permit is asked for again before a wait (``PERMIT_RETRY``,
doubling): ``permit_refused_until`` tells the coordinator how long a waiting request sleeps.

A half-open round is shared: a probe's outcome is counted in the storage first
(``Storage.record_probe``, on the shared generation), then recorded by the local machine with
the round's counts (``Member.count``). So the round closes once ``half_open_max_calls`` probes
succeeded across every process, and reopens as soon as the failures reach the policy's
threshold, whichever process ran them; the process whose probe completes the decision makes
the transition, and the others adopt it.

Operator actions are ordered (see ``failover._distributed.shared_breaker``): an operator action
made here and not yet published survives a newer shared record unless that record holds a later one.

When the storage fails, the replica says so once (a warning on logger ``failover`` and one
STORAGE_DEGRADED event per breaker), lets the breakers run on their own (local transitions go
to hooks at once, probes are capped locally), and reconnects with backoff; once back it
re-seeds a storage that lost its data, publishes the local transitions made meanwhile (or
adopts the newer shared state if another process moved first) and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from failover._base.log import get_logger
from failover._distributed.shared_breaker import MAX_PENDING, PERMIT_RETRY, Member, Pending
from failover.storage import StateUpdate, Storage, StorageUnavailable, Subscription
from statemachines import BreakerState, ConfigurationError, FailoverEvent

if TYPE_CHECKING:
    from failover._breaker.breaker import CircuitBreaker
    from failover._distributed.shared_quota import SharedQuota

__all__ = [
    "MAX_PENDING",
    "PERMIT_LEASE",
    "PERMIT_RETRY",
    "RECONNECT_DELAY",
    "Member",
    "Replica",
    "local_events",
]

logger = get_logger(__name__)

PERMIT_LEASE = 2.0
"""Seconds a process keeps a probe permit it has not used before giving it back."""
RECONNECT_DELAY = (0.05, 2.0)
"""First and longest wait between reconnection attempts (doubling in between)."""
_HALF_OPEN = BreakerState.HALF_OPEN


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
        # global rate limits (failover._distributed.shared_quota)
        self.quotas: list[SharedQuota] = []
        self._unsynced: set[str] = set()  # joined while started: resynced before published
        for member in self.members.values():
            member.breaker.attach_replica(member)
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
            await _end(task)
        for member in tuple(self.members.values()):
            member.settle()  # probe outcomes the storage did not count: recorded locally
        await self._unsubscribe()
        with contextlib.suppress(Exception):
            await self.storage.aclose()

    # --- the background task -----------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake_event is not None
        delay = RECONNECT_DELAY[0]
        while self.online:  # stop() clears it before cancelling: a cancellation that a
            # storage client swallowed mid-step still ends the task
            try:
                if self.degraded:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RECONNECT_DELAY[1])
                    await self._connect()
                    self._restored()
                await self._wake_event.wait()
                self._wake_event.clear()
                await self._step()
                delay = RECONNECT_DELAY[0]  # only once a step went through: a step that
                # fails at once after each reconnection (a bug) backs off, too
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._degrade(exc)

    async def _step(self) -> None:
        if self._lost is not None:
            raise StorageUnavailable(f"subscription lost: {self._lost}") from self._lost
        while self._unsynced:  # joined since the last step (Coordinator.add)
            name = next(iter(self._unsynced))
            if (joined := self.members.get(name)) is not None:
                await self._resync(joined)
            self._unsynced.discard(name)
        for member in tuple(self.members.values()):  # a change may come while this awaits
            if member.name in self._unsynced:
                continue  # joined while this step ran: the next one resyncs it first
            await self._count(member)
            await self._flush(member)
            await self._permits(member)
        for quota in tuple(self.quotas):
            await quota.refill(self.storage)

    async def _connect(self) -> None:
        await self._unsubscribe()
        await self.storage.connect()
        self._subscription = subscription = await self.storage.subscribe()
        self._lost = None
        assert self._loop is not None
        self._listener = self._loop.create_task(self._listen(subscription))
        for member in tuple(self.members.values()):
            await self._resync(member)
            self._unsynced.discard(member.name)
        for quota in tuple(self.quotas):
            await quota.refill(self.storage)
        self.wake()

    async def _unsubscribe(self) -> None:
        listener, subscription = self._listener, self._subscription
        self._listener = self._subscription = None
        await _end(listener)
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
        if member is not None and update.origin != self.origin:
            member.adopt(update.state)  # when newer

    async def _resync(self, member: Member) -> None:
        stored = await self.storage.load(member.name)
        if stored is None or stored.generation < member.known.generation:
            stored = await self.storage.seed(member.name, member.seed_record())
        forced, member.overflowed = member.overflowed, False
        member.adopt(stored, force=forced)  # when newer, or when local history was lost

    async def _count(self, member: Member) -> None:
        """Count the finished probes in their shared rounds, then record them locally."""
        while member.probes:
            probe = member.probes[0]
            counts = None  # a probe of a generation that is over: stale
            if probe.shared == member.known.generation:
                succeeded = not probe.outcome.failed
                counts = await self.storage.record_probe(member.name, probe.shared, succeeded)
            if member.probes and member.probes[0] is probe:
                member.probes.popleft()
                member.count(probe, counts)

    async def _flush(self, member: Member) -> None:
        while member.pending:
            item = member.pending[0]
            expected = member.known.generation
            event = self._published(member, item, expected)
            won, stored = await self.storage.compare_and_set(
                member.name, expected, member.record_of(item), event, self.origin
            )
            if not won:
                if stored.generation < expected:  # the storage lost its data
                    raise StorageUnavailable(f"{member.name!r}: stored generation went back")
                member.adopt(stored)  # drops the queue, or keeps a later operator action
                continue
            with member.link.lock:
                if member.pending and member.pending[0] is item:
                    member.pending.popleft()
                if stored.generation > member.known.generation:
                    member.known, member.known_deadline = stored, item.deadline
            if not item.delivered:
                member.local(attrs.evolve(event, seq=stored.seq))
                member.link.drain()

    def _published(self, member: Member, item: Pending, expected: int) -> FailoverEvent:
        """The event of a pending transition as the shared log gets it."""
        details = {**item.event.details, "origin": self.origin}
        if item.operator:
            details["operator"] = item.operator
        source = member.source_of(item)
        return attrs.evolve(item.event, source=source, generation=expected + 1, details=details)

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
            member.refused(known.generation, member.link.now())
            return
        with member.link.lock:
            current = member.known.generation == known.generation
            if current:
                member.permits, member.permit_generation = 1, known.generation
                member.permits_in_use = 0
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
            with member.link.lock:
                member.permits = member.permits_in_use = 0
                for item in member.pending:
                    if not item.delivered:
                        item.delivered = True
                        member.local(item.event)
                member.local(member.degraded_event(error), history=False)
            member.link.drain()
            member.settle()  # the probe outcomes not counted yet decide locally

    def _restored(self) -> None:
        self.degraded = False
        logger.info("failover storage %r is back: breaker states resynced", self.storage)

    # --- run-time fleet changes (failover._coordinator.membership) ---------------------------

    def join(self, breaker: CircuitBreaker) -> None:
        """Share ``breaker`` too (``Coordinator.add``; synchronous). A started replica adopts
        its shared state in the background task before publishing any of its transitions."""
        member = Member(self, breaker)
        breaker.attach_replica(member)
        self.storage.register_policy(member.name, breaker.policy)
        self.members[member.name] = member
        if self.online:
            self._unsynced.add(member.name)
            self.wake()

    def leave(self, name: str) -> None:
        """Stop sharing provider ``name``'s breaker and rate limit (``Coordinator.remove``, once
        its calls have drained): what it has not published stays local."""
        member = self.members.pop(name, None)
        self._unsynced.discard(name)
        self.quotas = [q for q in self.quotas if q.provider != name]
        if member is not None:
            member.settle()

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


async def _end(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait until it ends, whatever it raises; a cancellation of the caller
    itself while it waits still propagates (``await task`` under a suppress would swallow it,
    and a background step cancelled there would go on forever)."""
    if task is not None and not task.done():
        task.cancel()
        await asyncio.wait([task])
    if task is not None and task.done() and not task.cancelled():
        task.exception()  # retrieved: not reported as "never retrieved"
