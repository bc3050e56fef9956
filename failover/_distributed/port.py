"""The storage port of distributed mode (internal; public in ``failover.storage``): the
``Storage`` protocol, the records that cross it, and the limit on the durations it keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

import attrs

from statemachines import MAX_RETRY_AFTER, FailoverError, FailoverEvent

__all__ = [
    "MAX_REMAINING",
    "Lease",
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
