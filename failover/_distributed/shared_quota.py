"""Rate limits shared by the processes of a storage: lease-based budgets (distributed mode).

A provider's ``per_minute`` and ``per_day`` counters live in the storage, one per fixed bucket
of the window (``Storage.lease``: capped at the limit, so the processes together are granted at
most the limit per bucket). No request waits for the storage: each process leases a small
batch of a bucket (``LEASE_FRACTION`` of the limit, 1 to ``LEASE_MAX``), spends it locally, and
the replica's background task leases more when fewer than half a batch is left. A provider
whose budget is empty is skipped (the coordinator fails over): until the bucket ends when the
storage granted less than asked (the bucket is used up), for ``REFILL_WAIT`` seconds while a
refill is on its way. A budget is spent only before the end of the bucket it was leased from;
what is left then is dropped.

While the storage cannot be reached (or before the coordinator starts) the budgets are not
consulted: each process keeps to its own ``Quota`` of the full limit, as without a storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover.ratelimit import DAY, MINUTE, Quota, RateLimit

if TYPE_CHECKING:
    from failover._distributed.shared_breaker import ReplicaLink
    from failover.clock import Clock
    from failover.storage import Lease, Storage

__all__ = ["LEASE_FRACTION", "LEASE_MAX", "REFILL_WAIT", "SharedQuota"]

LEASE_FRACTION = 0.05
"""Share of a window's limit one lease asks for (at least 1, at most ``LEASE_MAX``)."""
LEASE_MAX = 100
"""The most requests one lease asks for."""
REFILL_WAIT = 0.05
"""Seconds a provider whose budget is empty is skipped for while a lease is on its way."""


class _Budget:
    """The requests this process may still send in the current bucket of one window."""

    __slots__ = ("batch", "end", "exhausted", "left", "limit", "window")

    def __init__(self, window: float, limit: int) -> None:
        self.window, self.limit = window, limit
        self.batch = min(max(int(limit * LEASE_FRACTION), 1), LEASE_MAX)
        self.left = 0
        self.end: float | None = None  # local clock: when the bucket of ``left`` ends
        self.exhausted = False  # the storage granted less than asked in this bucket

    def expire(self, now: float) -> None:
        if self.end is not None and now >= self.end:
            self.left, self.end, self.exhausted = 0, None, False

    def low(self, now: float) -> bool:
        """Whether to lease more now."""
        self.expire(now)
        return not self.exhausted and self.left <= self.batch // 2

    def free_at(self, now: float) -> float | None:
        """None if a request may be sent now, else when one may be."""
        self.expire(now)
        if self.left > 0:
            return None
        if self.exhausted and self.end is not None:
            return self.end
        return now + REFILL_WAIT

    def grant(self, lease: Lease, sent_at: float, wanted: int) -> None:
        """Take in a lease asked for at ``sent_at`` (local clock; the bucket's end is counted
        from then, so it is never later here than in the storage)."""
        end = sent_at + lease.reset_after
        if self.end is None or abs(end - self.end) > self.window / 2:
            self.left = lease.granted  # a new bucket: the old one's budget is gone
        else:
            self.left += lease.granted
            end = min(end, self.end)
        self.end = end
        self.exhausted = lease.granted < wanted


class SharedQuota(Quota):
    """A provider's Quota whose request counters are global through the replica's storage.

    The local moving windows (and everything else ``Quota`` does) still apply; on top of them,
    while the replica is connected, a request needs budget leased in every window.
    """

    def __init__(self, limit: RateLimit, provider: str, clock: Clock, replica: ReplicaLink) -> None:
        super().__init__(limit)
        self.provider = provider
        self.clock = clock
        self.replica = replica
        self.budgets = [
            _Budget(seconds, n)
            for seconds, n in ((MINUTE, limit.per_minute), (DAY, limit.per_day))
            if n is not None
        ]

    @property
    def shared(self) -> bool:
        """Whether the budgets count: the replica is started and its storage answers."""
        replica = self.replica
        return replica.online and not replica.degraded

    def available_at(self, now: float) -> float | None:
        """None if a request may be sent now, else the earliest time one may."""
        local = super().available_at(now)
        if not self.shared:
            return local
        waits = [w for b in self.budgets if (w := b.free_at(now)) is not None]
        if not waits:
            return local
        if any(b.low(now) for b in self.budgets):
            self.replica.wake()  # a lease is due (not when the bucket is used up)
        if local is not None:
            waits.append(local)
        return max(waits)

    def refusals(self, now: float) -> list[tuple[str, float]]:
        """``Quota.refusals`` and each shared window that refuses (no lease is asked for)."""
        found = super().refusals(now)
        if self.shared:
            for budget in self.budgets:
                free = budget.free_at(now)
                if free is not None:
                    name = "per_minute" if budget.window == MINUTE else "per_day"
                    why = "used up across processes" if budget.exhausted else "share on its way"
                    found.append((f"shared limit {name} = {budget.limit} ({why})", free))
        return found

    def consume(self, now: float) -> None:
        """Count one request sent at ``now``, locally and against the leased budgets."""
        super().consume(now)
        low = False
        for budget in self.budgets:
            budget.expire(now)
            if budget.left > 0:
                budget.left -= 1
            low = low or budget.low(now)
        if low and self.shared:
            self.replica.wake()

    async def refill(self, storage: Storage) -> None:
        """Lease more of each window whose budget runs low (the replica's task; raises
        StorageUnavailable)."""
        for budget in self.budgets:
            now = self.clock.monotonic()
            if budget.low(now):
                wanted = budget.batch - budget.left
                lease = await storage.lease(self.provider, budget.window, budget.limit, wanted)
                budget.grant(lease, now, wanted)
