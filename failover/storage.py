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

from failover._distributed.memory import MemoryStorage
from failover._distributed.port import (
    MAX_REMAINING,
    Lease,
    SharedState,
    StateUpdate,
    Storage,
    StorageUnavailable,
    Subscription,
    remaining_of,
)

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
