"""Status snapshots of a Coordinator: one frozen record per provider, and the whole.

``coordinator.status()`` returns a CoordinatorStatus; ``status_to_json`` / ``status_from_json``
write and read it through the project's one cattrs converter (``statemachines.converter``).
All times are in the coordinator's clock's monotonic seconds. The texts a snapshot holds (a
health check's error, the last event's details, the last condition error) are passed through
``failover.secrets.redact`` when it is taken.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
import cattrs

from failover._base.json import dumps
from failover._coordinator.fleet import Fleet, FleetEvent, FleetState, fleet_state
from failover.clock import Clock, wall_of
from failover.provider import HealthCheckResult
from failover.secrets import redact
from statemachines import (
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    FailoverEvent,
    ProviderHealth,
    State,
    converter,
    make_converter,
)

if TYPE_CHECKING:
    from failover._coordinator.slot import Slot

__all__ = ["CoordinatorStatus", "ProviderStatus", "status_from_json", "status_to_json"]


@attrs.frozen
class ProviderStatus:
    """One provider at one moment.

    Attributes:
        name: The provider's name.
        state: Its breaker's state.
        health: That state's ProviderHealth.
        admits: Whether its breaker would admit a call now (quota aside).
        retry_at: When a rejecting breaker may admit again (None if admitting, or FORCED_OPEN).
        success_rate: (successes + 1) / (calls + 2) over the breaker's current window.
        calls: Outcomes in the breaker's current window.
        failures: Failed outcomes in it.
        slow_calls: Slow outcomes in it.
        latency: EWMA of its attempts' durations in seconds; None before the first attempt.
        priority: Its priority (higher first, among equal success rates).
        weight: Its weight for "weighted_random".
        quota_left: Requests left in its tightest rate-limit window; None when unlimited.
        quota_available_at: When its quota allows the next request; None: now.
        last_health_check: The last active health check's result, if any.
        last_event: Its breaker's most recent transition, if any.
        last_failure_at: When its last failed attempt ended, if any.
        index: Its registration order (0 first).
        condition_errors: How many times a condition of its policy's own raised (each time
            it counted as not holding: docs/semantics.md, "A condition that raises").
        last_condition_error: The last such error, as "transition: Type: message".
        retry_after: Seconds from the snapshot until ``retry_at`` (None when it is): what a
            person or a Retry-After header wants.
    """

    name: str
    state: State
    health: ProviderHealth
    admits: bool
    retry_at: float | None
    success_rate: float
    calls: int
    failures: int
    slow_calls: int
    latency: float | None
    priority: float
    weight: float
    quota_left: int | None
    quota_available_at: float | None
    last_health_check: HealthCheckResult | None
    last_event: FailoverEvent | None
    last_failure_at: float | None
    index: int
    condition_errors: int = 0
    last_condition_error: str | None = None
    retry_after: float | None = None


@attrs.frozen
class CoordinatorStatus:
    """Every provider at one moment, and the overall verdict.

    Attributes:
        providers: One ProviderStatus per provider, in registration order.
        healthy: How many are HEALTHY.
        degraded: How many are DEGRADED.
        unhealthy: How many are UNHEALTHY.
        unknown: How many are UNKNOWN (DISABLED: not monitored).
        health: HEALTHY when every monitored provider is; UNHEALTHY when no provider admits
            calls at all; DEGRADED otherwise.
        at: When the snapshot was taken.
        fleet: The fleet state of the providers (the primaries): NORMAL, DEGRADED or BASIC.
        fallbacks: One ProviderStatus per fallback provider, in registration order (they
            count in none of the figures above).
        last_fleet_event: The fleet state's most recent change, if any.
        not_built: The providers of the settings that could not be built at start, each with
            why (``managed_failover(on_build_error="degrade")``; redacted).
        wall_at: When the snapshot was taken, as UTC epoch seconds (the coordinator's wall
            clock; None when unknown); ``wall_of(t)`` turns any of its monotonic times (a
            ``retry_at``, a ``last_failure_at``) into one.
    """

    providers: tuple[ProviderStatus, ...]
    healthy: int
    degraded: int
    unhealthy: int
    unknown: int
    health: ProviderHealth
    at: float
    fleet: FleetState = FleetState.NORMAL
    fallbacks: tuple[ProviderStatus, ...] = ()
    last_fleet_event: FleetEvent | None = None
    wall_at: float | None = None
    not_built: Mapping[str, str] = attrs.field(factory=dict, hash=False)

    def wall_of(self, monotonic: float | None) -> float | None:
        """A time of this snapshot (the coordinator's monotonic clock) as UTC epoch seconds;
        None for None or when the snapshot has no wall time."""
        if monotonic is None or self.wall_at is None:
            return None
        return self.wall_at + (monotonic - self.at)

    def provider(self, name: str) -> ProviderStatus:
        """The status of the provider (or fallback) called ``name``."""
        for status in (*self.providers, *self.fallbacks):
            if status.name == name:
                return status
        names = [s.name for s in (*self.providers, *self.fallbacks)]
        raise KeyError(f"no provider named {name!r}; the coordinator has {names!r}")

    @classmethod
    def of(
        cls,
        providers: Iterable[ProviderStatus],
        at: float,
        *,
        fallbacks: Iterable[ProviderStatus] = (),
        fleet: FleetState | None = None,
        last_fleet_event: FleetEvent | None = None,
        wall_at: float | None = None,
        not_built: Mapping[str, str] | None = None,
    ) -> CoordinatorStatus:
        """Summarise ``providers`` (and ``fallbacks``) as seen at ``at``; without ``fleet``,
        the fleet state is worked out from the providers' states and ``admits``."""
        statuses = tuple(providers)
        if fleet is None:
            admitting = sum(s.admits or s.state.admits_calls for s in statuses)
            fleet = fleet_state(admitting, len(statuses))
        counts = dict.fromkeys(ProviderHealth, 0)
        for status in statuses:
            counts[status.health] += 1
        if not any(s.admits for s in statuses):
            overall = ProviderHealth.UNHEALTHY
        elif counts[ProviderHealth.HEALTHY] + counts[ProviderHealth.UNKNOWN] == len(statuses):
            overall = ProviderHealth.HEALTHY
        else:
            overall = ProviderHealth.DEGRADED
        return cls(
            statuses,
            counts[ProviderHealth.HEALTHY],
            counts[ProviderHealth.DEGRADED],
            counts[ProviderHealth.UNHEALTHY],
            counts[ProviderHealth.UNKNOWN],
            overall,
            at,
            fleet,
            tuple(fallbacks),
            last_fleet_event,
            wall_at,
            dict(not_built or {}),
        )


def coordinator_status(
    slots: Sequence[Slot], ranked: int, fleet: Fleet, clock: Clock, not_built: Mapping[str, str]
) -> CoordinatorStatus:
    """A coordinator's snapshot (internal: ``Coordinator.status()``): ``slots[:ranked]`` are its
    providers, the rest its fallbacks; evaluated now, so each breaker's due time-driven
    transitions fire (L1) and the fleet state is refreshed first."""
    now = clock.monotonic()
    statuses = tuple(provider_status(s, now) for s in slots[:ranked])
    fallbacks = tuple(provider_status(s, now) for s in slots[ranked:])
    fleet.refresh()
    return CoordinatorStatus.of(
        statuses,
        now,
        fallbacks=fallbacks,
        fleet=fleet.state,
        last_fleet_event=fleet.last_event,
        wall_at=wall_of(clock),
        not_built=not_built,
    )


def provider_status(slot: Slot, now: float) -> ProviderStatus:
    """A snapshot of ``slot`` at ``now`` (internal: the coordinator's ``status()`` calls it)."""
    stats = slot.breaker.statistics()
    calls, failures = stats.calls, stats.failures
    quota = slot.quota
    admits = slot.would_admit(now)
    retry_at = None if admits or stats.state is BreakerState.FORCED_OPEN else stats.deadline
    return ProviderStatus(
        name=slot.name,
        state=stats.state,
        health=stats.health,
        admits=admits,
        retry_at=retry_at,
        success_rate=(calls - failures + 1) / (calls + 2),
        calls=calls,
        failures=failures,
        slow_calls=stats.slow_calls,
        latency=slot.latency,
        priority=slot.priority,
        weight=slot.weight,
        quota_left=None if quota is None else quota.left(now),
        quota_available_at=None if quota is None else quota.available_at(now),
        last_health_check=_shown_check(slot.last_health_check),
        last_event=_shown_event(slot.machine.last_event),
        last_failure_at=slot.last_failure_at,
        index=slot.index,
        condition_errors=stats.condition_errors,
        last_condition_error=_shown(stats.last_condition_error),
        retry_after=None if retry_at is None else max(0.0, retry_at - now),
    )


def _shown(text: str | None) -> str | None:
    return None if text is None else redact(text)


def _shown_check(result: HealthCheckResult | None) -> HealthCheckResult | None:
    """``result`` with its error redacted (a result is built outside the health runner too)."""
    if result is None or result.error is None:
        return result
    shown = redact(result.error)
    return result if shown == result.error else attrs.evolve(result, error=shown)


def _shown_event(event: FailoverEvent | None) -> FailoverEvent | None:
    """``event`` with the text of its details redacted (a STORAGE_DEGRADED one quotes an
    error)."""
    if event is None or not event.details:
        return event
    details = {k: redact(v) if isinstance(v, str) else v for k, v in event.details.items()}
    return event if details == event.details else attrs.evolve(event, details=details)


def configure_converter(conv: cattrs.Converter) -> cattrs.Converter:
    """Teach ``conv`` the status records (idempotent; returns ``conv``).

    Statuses are plain attrs records of types the project's converter already knows (states
    by value, events, health-check results), so nothing beyond the defaults is registered
    today; this is the one place to add a hook when a field needs one.
    """
    return conv


configure_converter(converter)


def status_to_json(status: CoordinatorStatus) -> str:
    """``status`` as a compact JSON object."""
    return dumps(converter.unstructure(status), separators=(",", ":"), sort_keys=True)


def status_from_json(text: str, policy: BreakerPolicy | None = None) -> CoordinatorStatus:
    """Read back ``status_to_json`` output; ``policy`` resolves a policy's own states."""
    conv = converter if policy is None else configure_converter(make_converter(policy))
    try:
        return conv.structure(json.loads(text), CoordinatorStatus)
    except (cattrs.BaseValidationError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            redact(f"not a CoordinatorStatus in JSON: {text[:200]!r} ({exc})")
        ) from exc
