"""The coordinator's live per-provider slots, and admission over them.

A slot holds what the coordinator knows of one provider beside its breaker: quota, priority,
weight, EWMA latency, the last failure. Strategies order slots (``failover.strategies``); the
coordinator walks that order and takes the first slot that has quota and whose breaker admits a
call. Admission itself is always the breaker's (``CircuitBreaker.admit``): nothing here decides
a state, it only avoids asking a breaker that has already said "not before ``retry_at``".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover.errors import CallNotPermitted
from failover.ratelimit import Quota, RateLimit
from statemachines import BreakerState

if TYPE_CHECKING:
    from failover._breaker import CircuitBreaker
    from failover.provider import HealthCheckResult, Provider, QuotaReport

__all__ = ["CALL", "EWMA_ALPHA", "GENERATE", "KINDS", "SEARCH", "STREAM", "Slot"]

EWMA_ALPHA = 0.2
"""Weight of the newest attempt's duration in a provider's latency EWMA."""

CALL, GENERATE, STREAM, SEARCH = 0, 1, 2, 3
KINDS = ("call", "generate", "stream", "search")
_UNLIMITED = RateLimit(per_minute=None, per_day=None)
_FORCED_OPEN = BreakerState.FORCED_OPEN
_HALF_OPEN = BreakerState.HALF_OPEN


class Slot:
    """One provider as the coordinator sees it (internal, mutable, read without a lock)."""

    __slots__ = (
        "breaker",
        "index",
        "last_failure_at",
        "last_health_check",
        "latency",
        "machine",
        "name",
        "priority",
        "provider",
        "quota",
        "reports_quota",
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
        self.provider = provider
        self.name: str = provider.name
        self.breaker = breaker
        self.machine = breaker._machine
        self.window = self.machine._window  # its counts, read without the view's properties
        self.quota = quota
        self.priority = priority
        self.weight = weight
        self.latency: float | None = None
        self.last_failure_at: float | None = None
        self.last_health_check: HealthCheckResult | None = None
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
        """Fold one attempt into the latency EWMA (and the last failure time)."""
        latency = self.latency
        self.latency = duration if latency is None else latency + EWMA_ALPHA * (duration - latency)
        if failed:
            self.last_failure_at = end

    # --- admission -----------------------------------------------------------------------------

    def quota_at(self, now: float) -> float | None:
        """None if the quota allows a request now, else when it will."""
        quota = self.quota
        return None if quota is None else quota.available_at(now)

    def admit(self, now: float) -> int | None:
        """Take an admission now if the quota allows it and the breaker admits: its generation.

        None (and nothing taken) otherwise. A breaker known to reject until a later time (or
        until an operator acts) is not asked again, so that skipping it raises nothing and
        counts no rejection.
        """
        machine, quota = self.machine, self.quota
        generation = machine.generation  # read before the flag, as CircuitBreaker.admit does
        if machine.free_admission:
            if quota is None:
                return generation
        else:
            retry_at = machine.retry_at
            state = machine.state
            if state is _FORCED_OPEN or (
                not state.admits_calls and retry_at is not None and now < retry_at
            ):
                return None
        if quota is not None and quota.available_at(now) is not None:
            return None
        try:
            return self.breaker.admit()
        except CallNotPermitted:
            return None

    def would_admit(self, now: float) -> bool:
        """Whether the breaker would admit a call now (no side effect; for status and waits)."""
        machine = self.machine
        if machine.free_admission:
            return True
        state = machine.state
        retry_at = machine.retry_at
        if state is _HALF_OPEN:
            replica = self.breaker._replica  # distributed: is a global permit to be had?
            return (
                machine.probes_admitted < machine.policy.half_open_max_calls
                and (retry_at is None or now < retry_at)
                and (replica is None or replica.permit_refused_until(now) is None)
            )
        if state.admits_calls:
            return True
        return state is not _FORCED_OPEN and retry_at is not None and now >= retry_at

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
            replica = self.breaker._replica
            if replica is not None and machine.state is _HALF_OPEN:
                refused = replica.permit_refused_until(now)
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
        resets_at = None if report.reset_after is None else now + report.reset_after
        self.quota.learn_remaining(report.remaining, resets_at)

    def block(self, until: float) -> None:
        """The provider asked to be left alone until ``until`` (a Retry-After)."""
        if self.quota is None:
            self.quota = Quota(_UNLIMITED)
        self.quota.block_until(until)

    def __repr__(self) -> str:
        return f"<Slot {self.index} {self.name!r}>"
