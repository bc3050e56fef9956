"""MemoryStorage: the in-process Storage (internal; public in ``failover.storage``), also the
reference the contract tests hold every implementation to."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Callable

import attrs

from failover._distributed.port import (
    Lease,
    SharedState,
    StateUpdate,
    StorageUnavailable,
    Subscription,
    remaining_of,
)
from failover.clock import Clock, SystemClock
from statemachines import ConfigurationError, FailoverEvent

__all__ = ["MemoryStorage"]


@attrs.define
class _Record:
    shared: SharedState
    deadline: float | None = None  # on the storage's clock
    log: deque[FailoverEvent] = attrs.field(factory=deque)
    permits: dict[int, tuple[int, float]] = attrs.field(factory=dict)  # generation -> n, expiry
    round: tuple[int, int, int] = (-1, 0, 0)  # generation, probes succeeded, probes failed


class _MemorySubscription:
    def __init__(self, owner: MemoryStorage) -> None:
        self._owner = owner
        self._queue: asyncio.Queue[StateUpdate | None] = asyncio.Queue()

    def put(self, update: StateUpdate | None) -> None:
        self._queue.put_nowait(update)

    def __aiter__(self) -> AsyncIterator[StateUpdate]:
        return self._feed()

    async def _feed(self) -> AsyncIterator[StateUpdate]:
        while True:
            update = await self._queue.get()
            if update is None:
                raise StorageUnavailable("MemoryStorage went unavailable")
            yield update

    async def aclose(self) -> None:
        self._owner._subscriptions.discard(self)


class MemoryStorage:
    """The in-process Storage: coordinators of one event loop that share it share state.

    Args:
        clock: The clock deadlines and permit expiry are kept on (the coordinators' clock
            when it is a ManualClock).
        maxlen: Events kept per provider (the oldest are dropped).

    ``available = False`` makes every method raise StorageUnavailable and ends the
    subscriptions, as a storage outage would (for tests of degraded mode); the records stay.
    ``stall()`` pauses it as a server that stops answering (a Redis under SIGSTOP): every
    method raises StorageUnavailable, as a timeout would, but the state writes it receives
    meanwhile (``compare_and_set``, ``seed``) are applied, in order, by ``resume()``.
    """

    def __init__(self, *, clock: Clock | None = None, maxlen: int = 10_000) -> None:
        if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1:
            raise ConfigurationError(f"maxlen must be an int >= 1, got {maxlen!r}")
        self._clock = clock if clock is not None else SystemClock()
        self.maxlen = maxlen
        self._records: dict[str, _Record] = {}
        self._subscriptions: set[_MemorySubscription] = set()
        self._available = True
        self._late: list[Callable[[], object]] | None = None  # writes received while stalled
        self._counters: dict[tuple[str, float], tuple[int, int]] = {}  # -> bucket, used

    @property
    def available(self) -> bool:
        """Whether the storage answers; set it to False to simulate an outage."""
        return self._available

    @available.setter
    def available(self, value: bool) -> None:
        self._available = value
        if not value:
            for subscription in self._subscriptions:
                subscription.put(None)
            self._subscriptions.clear()

    def stall(self) -> None:
        """Stop answering until ``resume()``; the state writes received meanwhile are kept."""
        if self._late is None:
            self._late = []

    def resume(self) -> None:
        """Apply the state writes received while stalled, in order, and answer again."""
        late, self._late = self._late or [], None
        for write in late:
            write()

    def _check(self) -> None:
        if not self._available:
            raise StorageUnavailable("MemoryStorage is unavailable (available=False)")
        if self._late is not None:
            raise StorageUnavailable("MemoryStorage is stalled (it will apply this late)")

    def _received(self, write: Callable[[], object]) -> None:  # kept while stalled
        if self._available and self._late is not None:
            self._late.append(write)
        self._check()

    def _now(self) -> float:
        return self._clock.monotonic()

    def _view(self, record: _Record) -> SharedState:
        left = None if record.deadline is None else max(record.deadline - self._now(), 0.0)
        return attrs.evolve(record.shared, remaining=left)

    def _deadline(self, remaining: float | None) -> float | None:
        left = remaining_of(remaining)
        return None if left is None else self._now() + left

    async def connect(self) -> None:
        """Raise StorageUnavailable when ``available`` is False."""
        self._check()

    async def aclose(self) -> None:
        """Nothing to release: the state lives as long as the object."""

    async def load(self, provider: str) -> SharedState | None:
        """The provider's shared record, None if none was written."""
        self._check()
        record = self._records.get(provider)
        return None if record is None else self._view(record)

    async def compare_and_set(
        self, provider: str, expected: int, new: SharedState, event: FailoverEvent, origin: str
    ) -> tuple[bool, SharedState]:
        """See ``Storage.compare_and_set``."""
        self._received(lambda: self._compare_and_set(provider, expected, new, event, origin))
        return self._compare_and_set(provider, expected, new, event, origin)

    def _compare_and_set(
        self, provider: str, expected: int, new: SharedState, event: FailoverEvent, origin: str
    ) -> tuple[bool, SharedState]:
        record = self._records.setdefault(provider, _Record(SharedState()))
        if record.shared.generation != expected:
            return False, self._view(record)
        seq = record.shared.seq + 1
        operator = new.operator or record.shared.operator
        record.shared = attrs.evolve(
            new, generation=expected + 1, seq=seq, remaining=None, operator=operator
        )
        record.deadline = self._deadline(new.remaining)
        record.log.append(attrs.evolve(event, seq=seq, generation=expected + 1))
        while len(record.log) > self.maxlen:
            record.log.popleft()
        stored = self._view(record)
        for subscription in self._subscriptions:
            subscription.put(StateUpdate(provider, stored, origin))
        return True, stored

    async def seed(self, provider: str, state: SharedState) -> SharedState:
        """See ``Storage.seed``."""
        self._received(lambda: self._seed(provider, state))
        return self._seed(provider, state)

    def _seed(self, provider: str, state: SharedState) -> SharedState:
        record = self._records.get(provider)
        if record is None or record.shared.generation < state.generation:
            record = self._records[provider] = _Record(
                attrs.evolve(state, remaining=None), self._deadline(state.remaining)
            )
        return self._view(record)

    async def acquire_probe(self, provider: str, generation: int, cap: int, ttl: float) -> bool:
        """See ``Storage.acquire_probe``."""
        self._check()
        record = self._records.get(provider)
        if record is None or record.shared.generation != generation:
            return False
        now = self._now()
        taken, expiry = record.permits.get(generation, (0, now))
        taken = taken if now < expiry else 0
        if taken >= cap:
            return False
        record.permits = {generation: (taken + 1, now + ttl)}
        return True

    async def release_probe(self, provider: str, generation: int) -> None:
        """See ``Storage.release_probe``."""
        self._check()
        record = self._records.get(provider)
        if record is not None and generation in record.permits:
            taken, expiry = record.permits[generation]
            record.permits[generation] = (max(taken - 1, 0), expiry)

    async def record_probe(
        self, provider: str, generation: int, succeeded: bool
    ) -> tuple[int, int] | None:
        """See ``Storage.record_probe``."""
        self._check()
        record = self._records.get(provider)
        if record is None or record.shared.generation != generation:
            return None
        _, ok, failed = record.round if record.round[0] == generation else (generation, 0, 0)
        record.round = (generation, ok + succeeded, failed + (not succeeded))
        return record.round[1:]

    async def lease(self, provider: str, window: float, limit: int, want: int) -> Lease:
        """See ``Storage.lease`` (buckets of ``window`` seconds on the storage's clock)."""
        self._check()
        now = self._now()
        bucket = math.floor(now / window)
        last, used = self._counters.get((provider, window), (bucket, 0))
        used = used if last == bucket else 0
        granted = max(min(want, limit - used), 0)
        self._counters[provider, window] = (bucket, used + granted)
        return Lease(granted, (bucket + 1) * window - now)

    async def events(
        self, provider: str, since: int = 0, limit: int | None = None
    ) -> list[FailoverEvent]:
        """See ``Storage.events``."""
        self._check()
        record = self._records.get(provider)
        found = [] if record is None else [e for e in record.log if e.seq > since]
        return found if limit is None else found[:limit]

    async def subscribe(self) -> Subscription:
        """See ``Storage.subscribe``."""
        self._check()
        subscription = _MemorySubscription(self)
        self._subscriptions.add(subscription)
        return subscription

    def register_policy(self, provider: str, policy: object) -> None:
        """Events are kept as objects: nothing to read back."""

    def __repr__(self) -> str:
        return f"<MemoryStorage providers={sorted(self._records)!r}>"
