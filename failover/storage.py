"""Storage: where the breakers of many processes share their state (distributed mode).

The port (``Storage``) holds, per provider: the shared state record (``SharedState``: state,
generation, seq, openings, reason, time left until the state's deadline), the event log (seq
1, 2, 3, ... per provider across every process), the half-open probe permits of each
generation and the outcomes of each generation's probes (``record_probe``: a half-open round
is decided on the counts of every process), the rate-limit counters leased per fixed bucket
(``lease``; ``failover._distributed.shared_quota``), and a feed of state changes (``subscribe()``).
``Coordinator(..., storage=...)`` keeps each breaker's local machine in step with it
(``failover._distributed.replica``); without a storage nothing is shared and nothing here runs.

Implementations: ``MemoryStorage`` (one process: coordinators in one event loop share it; also
the reference for the contract tests) and ``failover.redis_storage.RedisStorage`` (many
processes). Times cross the port as durations (``SharedState.remaining``), never as clock
readings: each implementation keeps deadlines on its own clock (Redis: the server's ``TIME``),
so processes whose monotonic clocks differ agree on them; a duration is cut to
``MAX_REMAINING`` (one day) on its way in, so that no input makes a deadline infinite.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

import attrs

from failover.clock import Clock, SystemClock
from statemachines import MAX_RETRY_AFTER, ConfigurationError, FailoverError, FailoverEvent

__all__ = [
    "MAX_REMAINING",
    "Lease",
    "MemoryStorage",
    "SharedState",
    "StateUpdate",
    "Storage",
    "StorageUnavailable",
    "Subscription",
    "remaining_of",
]

MAX_REMAINING = MAX_RETRY_AFTER
"""The longest time until a deadline (seconds: one day, the library's MAX_RETRY_AFTER) that a
storage keeps; a longer one (infinity included) is kept as this, so that a deadline always
crosses the port as a finite number."""


def remaining_of(seconds: float | None) -> float | None:
    """``seconds`` as a duration a storage can keep: None stays None; a longer one than
    MAX_REMAINING (infinity and NaN included) is MAX_REMAINING; a negative one is 0."""
    if seconds is None:
        return None
    if not seconds <= MAX_REMAINING:  # True for NaN too
        return MAX_REMAINING
    return max(float(seconds), 0.0)


class StorageUnavailable(FailoverError):
    """The storage cannot be reached. Raised by Storage implementations to the replica, which
    goes on with local state: no caller ever sees it."""


@attrs.frozen
class SharedState:
    """One provider's breaker state as every process sees it.

    Attributes:
        state: The state's value (``"open"``); custom states by their value too.
        generation: Counts the shared transitions (0: none yet); a compare-and-set expects it.
        seq: The seq of the last event in the provider's log.
        openings: Consecutive openings (the open-duration backoff's k).
        reason: The last transition's FailoverReason value.
        remaining: Seconds until the state's deadline (OPEN's open_until) when the record was
            read or published, at most MAX_REMAINING; None when the state has none.
        operator: The stamp of the last operator action (force_open, disable, reset, a
            policy's own MANUAL transition) among the transitions that made this record:
            stamps compare as strings, the later action's greater; "" when none. A compare-
            and-set that gives none keeps the stored one.
    """

    state: str = "closed"
    generation: int = 0
    seq: int = 0
    openings: int = 0
    reason: str | None = None
    remaining: float | None = None
    operator: str = ""


@attrs.frozen
class Lease:
    """What ``Storage.lease`` granted: ``granted`` requests of the current fixed bucket of a
    rate-limit window, and ``reset_after``, the seconds until that bucket ends (when the
    process must stop spending them)."""

    granted: int
    reset_after: float


@attrs.frozen
class StateUpdate:
    """A shared state change, as a subscription delivers it: which provider, the new record,
    and the ``origin`` (the replica id) that made it."""

    provider: str
    state: SharedState
    origin: str


class Subscription(Protocol):
    """A feed of StateUpdates, subscribed from its creation on (see ``Storage.subscribe``)."""

    def __aiter__(self) -> AsyncIterator[StateUpdate]: ...

    async def aclose(self) -> None:
        """Stop the feed (idempotent)."""


@runtime_checkable
class Storage(Protocol):
    """Where breaker state is shared. Every method raises StorageUnavailable (and nothing
    else) when the storage cannot be reached."""

    async def connect(self) -> None:
        """Check that the storage answers (called at start and on each reconnection)."""

    async def aclose(self) -> None:
        """Release connections (idempotent)."""

    async def load(self, provider: str) -> SharedState | None:
        """The provider's shared record, None if no process wrote one yet."""

    async def compare_and_set(
        self, provider: str, expected: int, new: SharedState, event: FailoverEvent, origin: str
    ) -> tuple[bool, SharedState]:
        """Atomically: if the stored generation is ``expected`` (0 when none is stored), store
        ``new`` as generation ``expected + 1`` with the next seq, append ``event`` (with that
        seq and generation) to the log and publish the change. Returns whether it was stored,
        and the record now stored (the winner's when not)."""

    async def seed(self, provider: str, state: SharedState) -> SharedState:
        """Store ``state`` (generation and seq as given) unless a record of a generation at
        least as new is there (after a storage restart lost it); no event. The record now
        stored."""

    async def acquire_probe(self, provider: str, generation: int, cap: int, ttl: float) -> bool:
        """Take one half-open probe permit of ``generation``: True if the stored record is that
        generation and fewer than ``cap`` permits are taken. Permits expire ``ttl`` seconds
        after the last one was taken."""

    async def release_probe(self, provider: str, generation: int) -> None:
        """Give back one permit of ``generation`` (an unused or cancelled probe)."""

    async def record_probe(
        self, provider: str, generation: int, succeeded: bool
    ) -> tuple[int, int] | None:
        """Atomically count one finished probe of the half-open round of ``generation``: if
        that is the stored generation, add it to the round's successes or failures and return
        both counts (succeeded, failed) with it; None (and nothing counted) otherwise, since a
        probe of an earlier generation is stale. A new generation starts from (0, 0)."""

    async def lease(self, provider: str, window: float, limit: int, want: int) -> Lease:
        """Atomically take up to ``want`` requests of the provider's rate-limit counter for
        ``window`` seconds: windows are fixed buckets on the storage's clock, and the
        requests granted in one bucket, over every process, never exceed ``limit``."""

    async def events(
        self, provider: str, since: int = 0, limit: int | None = None
    ) -> list[FailoverEvent]:
        """The provider's logged events with seq > ``since``, oldest first (custom states
        read back with the policy ``register_policy`` gave)."""

    async def subscribe(self) -> Subscription:
        """Start a feed of every provider's state changes; returns once subscribed, so that a
        ``load`` after it misses nothing."""

    def register_policy(self, provider: str, policy: object) -> None:
        """Tell the storage which BreakerPolicy reads the provider's events back."""


# --- in memory ----------------------------------------------------------------------------------


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
