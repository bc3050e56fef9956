"""The coordinator's live per-provider slots, and admission over them.

A slot holds what the coordinator knows of one provider beside its breaker: quota, priority,
weight, EWMA latency, the last failure. Strategies order slots (``failover.strategies``); the
coordinator walks that order and takes the first slot that has quota and whose breaker admits a
call. Admission itself is always the breaker's (``CircuitBreaker.admit``): nothing here decides
a state, it only avoids asking a breaker that has already said "not before ``retry_at``".
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from copy import copy as _copy
from typing import TYPE_CHECKING, Protocol

from failover._distributed.shared_quota import SharedQuota
from failover.ratelimit import Quota, RateLimit
from statemachines import BreakerState, retry_after_of

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from failover._breaker.breaker import CircuitBreaker
    from failover._distributed.replica import Replica
    from failover._tracing.attrs import SlotInfo
    from failover.clock import Clock
    from failover.provider import HealthCheckResult, Provider, QuotaReport

__all__ = [
    "EWMA_ALPHA",
    "SCORE_HALF_LIFE",
    "SCORE_MAX_CALLS",
    "Schedule",
    "Slot",
    "StrategyOrder",
    "share_quotas",
]

EWMA_ALPHA = 0.2
"""Weight of the newest attempt's duration in a provider's latency EWMA."""
SCORE_HALF_LIFE = 30.0
"""Seconds after which an attempt weighs half as much in a provider's score (success_rate)."""
SCORE_MAX_CALLS = 100.0
"""The most (weighted) attempts a score holds, as a count window of 100 would: a busy provider's
score is never so sure that an idle one could not catch up with it (docs: strategies)."""
_DECAY_STEP = SCORE_HALF_LIFE / 256  # decay applied once this much time has gathered

_UNLIMITED = RateLimit(per_minute=None, per_day=None)
_FORCED_OPEN = BreakerState.FORCED_OPEN
_HALF_OPEN = BreakerState.HALF_OPEN


class Live:
    """What every copy of one provider's slot shares (internal): its attempts in flight,
    whether ``Coordinator.remove`` took it out (then ``drained`` is set when none is left), and
    the telemetry's view of it (``failover._tracing.attrs.SlotInfo``; None without telemetry)."""

    __slots__ = ("drained", "in_flight", "info", "removed")

    def __init__(self) -> None:
        self.in_flight = 0
        self.removed = False
        self.drained: asyncio.Event | None = None
        self.info: SlotInfo | None = None

    def ended(self) -> None:
        """One attempt ended."""
        self.in_flight -= 1
        if self.removed and not self.in_flight and self.drained is not None:
            self.drained.set()


class StrategyOrder(Protocol):
    """The strategy order a slot is in (``failover._coordinator.ordering``): told of each
    attempt's end so that it can move the slot."""

    def update(self, slot: Slot) -> None: ...


class Slot:
    """One provider as the coordinator sees it (internal, mutable, read without a lock)."""

    __slots__ = (
        "breaker",
        "index",
        "last_failure_at",
        "last_health_check",
        "latency",
        "live",
        "machine",
        "name",
        "ordering",
        "priority",
        "provider",
        "quota",
        "reports_quota",
        "score_at",
        "score_calls",
        "score_generation",
        "score_successes",
        "serves",
        "weight",
        "window",
    )

    def __init__(
        self,
        index: int,
        provider: Provider,
        breaker: CircuitBreaker,
        *,
        quota: Quota | None,
        priority: float,
        weight: float,
    ) -> None:
        self.index = index
        self.live = Live()  # shared by every copy of this slot (Coordinator.add / remove)
        self.ordering: StrategyOrder | None = None  # the strategy order it is in (None: a fallback)
        self.provider = provider
        self.name: str = provider.name
        self.breaker = breaker
        self.machine = breaker.link().machine  # read only: admission is the breaker's
        self.window = self.machine.window  # its counts, read without the view's properties
        self.quota = quota
        self.priority = priority
        self.weight = weight
        self.latency: float | None = None
        self.last_failure_at: float | None = None
        self.last_health_check: HealthCheckResult | None = None
        self.score_generation = -1  # the breaker generation the score counts
        self.score_calls = self.score_successes = 0.0
        self.score_at = 0.0
        self.reports_quota = callable(getattr(provider, "quota_report", None))
        self.serves = (
            True,
            callable(getattr(provider, "generate", None)),
            callable(getattr(provider, "stream", None)),
            callable(getattr(provider, "search", None)),
        )

    # --- figures strategies read ---------------------------------------------------------------

    @property
    def success_rate(self) -> float:
        """Smoothed success rate over the breaker's window: (successes + 1) / (calls + 2)."""
        window = self.window
        calls = window.calls
        return (calls - window.failures + 1) / (calls + 2)

    def observe(self, duration: float, failed: bool, end: float) -> None:
        """Fold one attempt into the latency EWMA, the score and the last failure time."""
        latency = self.latency
        self.latency = duration if latency is None else latency + EWMA_ALPHA * (duration - latency)
        if end - self.score_at >= _DECAY_STEP:  # a new generation's reset: Schedule's
            self._age_score(end)
        self.score_calls += 1.0
        if failed:
            self.last_failure_at = end
        else:
            self.score_successes += 1.0

    def _age_score(self, now: float) -> None:
        """Start a new score (a transition happened), or weigh the score down to ``now``."""
        generation = self.machine.generation
        if generation != self.score_generation:  # every transition starts a new score
            self.score_generation = generation
            self.score_calls = self.score_successes = 0.0
        else:
            self.score_successes, self.score_calls = self.score(now)
        self.score_at = now

    def score(self, now: float) -> tuple[float, float]:
        """``(successes, calls)`` of this breaker generation's attempts, each weighted by
        ``0.5 ** (age / SCORE_HALF_LIFE)`` at ``now`` and capped at SCORE_MAX_CALLS weighted
        attempts: what ``success_rate`` ranks by."""
        if self.score_generation != self.machine.generation:
            return 0.0, 0.0
        calls, successes = self.score_calls, self.score_successes
        if now > self.score_at:
            decay = 0.5 ** ((now - self.score_at) / SCORE_HALF_LIFE)
            calls, successes = calls * decay, successes * decay
        if calls > SCORE_MAX_CALLS:  # the cap applies lazily: observe only counts
            successes *= SCORE_MAX_CALLS / calls
            calls = SCORE_MAX_CALLS
        return successes, calls

    # --- admission -----------------------------------------------------------------------------

    def quota_at(self, now: float) -> float | None:
        """None if the quota allows a request now, else when it will."""
        quota = self.quota
        return None if quota is None else quota.available_at(now)

    def admit(self, now: float) -> int | None:
        """Take an admission now if the quota allows it and the breaker admits: its generation.

        None (and nothing taken) otherwise; the breaker decides
        (``CircuitBreaker.admit_if_due``: one known to reject is not asked, so that skipping it
        raises nothing and counts no rejection).
        """
        quota = self.quota
        if quota is not None and quota.available_at(now) is not None:
            return None
        return self.breaker.admit_if_due(now)

    def would_admit(self, now: float) -> bool:
        """Whether the breaker would admit a call now (no side effect; for status and waits)."""
        return self.breaker.would_admit(now)

    def ready_at(self, now: float, *, breaker: bool) -> float | None:
        """The earliest time a call may be sent (``now`` if at once); None if not foreseeable.

        With ``breaker`` false, a provider whose breaker rejects now is not foreseeable (the
        caller does not wait for cooldowns); with it true, the breaker's retry_at counts, or in
        distributed mode when a HALF_OPEN probe permit the storage refused is asked for again.
        """
        when = now
        if not self.would_admit(now):
            machine = self.machine
            retry_at = machine.retry_at
            if machine.state is _HALF_OPEN:
                refused = self.breaker.permit_refused_until(now)
                if refused is not None and (retry_at is None or refused < retry_at):
                    retry_at = refused
            if not breaker or retry_at is None or machine.state is _FORCED_OPEN:
                return None
            when = max(when, retry_at)
        quota_at = self.quota_at(now)
        return when if quota_at is None else max(when, quota_at)

    def learn(self, report: QuotaReport, now: float) -> None:
        """Take in the quota the provider reported at ``now``."""
        if self.quota is None:
            self.quota = Quota(_UNLIMITED)
        reset_after = retry_after_of(report.reset_after)  # from the wire: finite, capped
        resets_at = None if reset_after is None else now + reset_after
        self.quota.learn_remaining(report.remaining, resets_at)

    def block(self, until: float) -> None:
        """The provider asked to be left alone until ``until`` (a Retry-After)."""
        if self.quota is None:
            self.quota = Quota(_UNLIMITED)
        self.quota.block_until(until)

    def moved(self, index: int) -> Slot:
        """This slot at another index of a new layout (``Coordinator.add``/``remove``): the same
        provider, breaker, quota, figures and ``live``; in no order until one binds it."""
        copy = _copy(self)
        copy.index = index
        copy.ordering = None
        return copy

    def __repr__(self) -> str:
        return f"<Slot {self.index} {self.name!r}>"


class Schedule:
    """Keeps every slot's time-driven transitions on time and knows which slots probe.

    Each breaker tells the schedule when its state changes (``CircuitBreaker.watch``); the
    schedule keeps a heap of when each one's time-driven transition is next due, so that
    ``catch_up(now)`` ticks exactly the breakers that are due (L1) in O(log n) each, and
    nothing at all when none is. Runs on the coordinator's event loop; the watchers only
    append to a deque, which is safe from any thread.
    """

    __slots__ = ("changed", "heap", "on_change", "probing", "slots", "watchers")

    def __init__(self, slots: tuple[Slot, ...]) -> None:
        self.slots = tuple(sorted(slots, key=lambda slot: slot.index))  # slots[i].index == i
        self.changed: deque[Slot] = deque(self.slots)  # whose state changed since the last pick
        self.heap: list[tuple[float, int]] = []  # (tick_at, index), stale entries included
        self.probing: dict[int, Slot] = {}  # slots in a probing state (HALF_OPEN), by index
        self.on_change: Callable[[Slot], object] | None = None  # the strategy's, per change
        self.watchers = [(slot, self._watcher(slot)) for slot in self.slots]
        for slot, watcher in self.watchers:
            slot.breaker.watch(watcher)

    def close(self) -> None:
        """Stop listening to the breakers (a coordinator's layout changed: a new schedule
        took over)."""
        for slot, watcher in self.watchers:
            slot.breaker.unwatch(watcher)
        self.watchers = []

    def _watcher(self, slot: Slot) -> Callable[[], None]:
        append = self.changed.append
        return lambda: append(slot)

    def pending(self, now: float) -> bool:
        """Whether ``catch_up(now)`` has anything to do (the hot path inlines this test)."""
        heap = self.heap
        return bool(self.changed) or (bool(heap) and heap[0][0] <= now)

    def catch_up(self, now: float) -> None:
        """Take in state changes and tick every breaker whose time-driven transition is due."""
        self._take_changes()
        heap, slots = self.heap, self.slots
        again: dict[int, float] = {}
        while heap and heap[0][0] <= now:
            at, index = heapq.heappop(heap)
            machine = slots[index].machine
            if machine.tick_at != at or index in again:
                continue  # stale (a change pushed the current time), or a duplicate
            if slots[index].breaker.tick() is None and machine.tick_at == at:
                again[index] = at  # did not hold (a condition of its own): next pick
        for index, at in again.items():
            heapq.heappush(heap, (at, index))
        self._take_changes()

    def _take_changes(self) -> None:
        changed, heap, probing, on_change = self.changed, self.heap, self.probing, self.on_change
        while changed:
            slot = changed.popleft()
            machine = slot.machine
            if slot.score_generation != machine.generation:
                slot._age_score(slot.score_at)  # a new generation: a new score
            if on_change is not None:
                on_change(slot)
            tick_at = machine.tick_at
            if tick_at is not None:
                heapq.heappush(heap, (tick_at, slot.index))
            if machine.probing:
                probing[slot.index] = slot
            else:
                probing.pop(slot.index, None)


def share_quotas(replica: Replica, slots: Sequence[Slot], clock: Clock) -> None:
    """Make the request counters of the slots' rate limits global through ``replica``
    (distributed mode: ``failover._distributed.shared_quota``)."""
    for slot in slots:
        quota = slot.quota
        if quota is not None:
            slot.quota = shared = SharedQuota(quota.limit, slot.name, clock, replica)
            replica.quotas.append(shared)
