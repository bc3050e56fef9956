"""What a simulation found: the records of each request and attempt, the event log, the state
bands computed from it, and the figures of the report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from statemachines import BreakerState, FailoverEvent, State, converter

__all__ = [
    "AttemptRecord",
    "Band",
    "ProviderReport",
    "RequestRecord",
    "SimulationReport",
    "percentile",
    "state_bands",
]

AttemptOutcome = Literal["ok", "error", "rate_limited", "quota_exhausted", "timeout"]
RequestOutcome = Literal["ok", "failed", "unavailable"]


@attrs.frozen
class AttemptRecord:
    """One attempt that reached a simulated provider.

    Attributes:
        request: The request's number (0 first).
        provider: The provider that received it.
        started: When it was sent (simulated seconds).
        ended: When it ended: answered, failed, or given up by its timeout.
        outcome: "ok", "error" (503), "rate_limited" (429), "quota_exhausted" or "timeout".
        state: The provider's breaker state when the attempt was admitted ("half_open": a
            probe).
    """

    request: int
    provider: str
    started: float
    ended: float
    outcome: AttemptOutcome
    state: str

    @property
    def probe(self) -> bool:
        """Whether the attempt was a probe (admitted in HALF_OPEN)."""
        return self.state == BreakerState.HALF_OPEN.value


@attrs.frozen
class RequestRecord:
    """One request sent to the coordinator.

    Attributes:
        request: Its number (0 first, in arrival order).
        arrived: When it arrived.
        ended: When the coordinator answered or gave up.
        outcome: "ok" (a provider answered), "failed" (every attempt failed:
            AllProvidersFailed) or "unavailable" (no provider admitted it:
            AllProvidersUnavailable).
        provider: The provider that answered, if any.
        attempts: How many attempts reached a provider.
        failed_attempts: How many of them failed.
        served_latency: How long the answering attempt took: the latency of a direct call to
            the provider that served it (None if none did).
    """

    request: int
    arrived: float
    ended: float
    outcome: RequestOutcome
    provider: str | None
    attempts: int
    failed_attempts: int
    served_latency: float | None

    @property
    def added_latency(self) -> float | None:
        """What failover added: the request's latency minus that of the answering attempt (the
        failed attempts and the waits before it); None when no provider answered."""
        if self.served_latency is None:
            return None
        return max(self.ended - self.arrived - self.served_latency, 0.0)


@attrs.frozen
class Band:
    """A stretch of time ``[start, end)`` that a provider's breaker spent in one state.

    Attributes:
        provider: The provider.
        state: The state's value ("closed", "open", ...).
        start: When the breaker entered it (or the simulation started).
        end: When it left it (or the simulation ended).
    """

    provider: str
    state: str
    start: float
    end: float

    @property
    def length(self) -> float:
        """``end - start``."""
        return self.end - self.start


def state_bands(
    events: Iterable[FailoverEvent],
    providers: Sequence[str],
    end: float,
    *,
    start: float = 0.0,
    initial: State = BreakerState.CLOSED,
) -> dict[str, tuple[Band, ...]]:
    """Each provider's states over ``[start, end)``, from its events in seq order.

    Every provider starts in ``initial``; each event ends the band of its source state and
    starts one of its destination at ``event.at``. Empty bands (two events at one instant) are
    left out, so the bands of a provider are contiguous, cover ``[start, end)`` and never
    repeat a state back to back unless an instant transition went through another state.

    Returns:
        Provider name -> its bands in time order.
    """
    by_provider: dict[str, list[FailoverEvent]] = {name: [] for name in providers}
    for event in events:
        by_provider.setdefault(event.provider, []).append(event)
    return {
        name: _bands(name, sorted(found, key=lambda e: e.seq), start, end, initial)
        for name, found in by_provider.items()
    }


def _bands(
    name: str, events: list[FailoverEvent], start: float, end: float, initial: State
) -> tuple[Band, ...]:
    bands: list[Band] = []
    state, since = initial.value, start
    for event in events:
        at = min(max(event.at, start), end)
        if at > since:
            bands.append(Band(name, state, since, at))
        state, since = event.dest.value, max(since, at)
    if end > since:
        bands.append(Band(name, state, since, end))
    return tuple(bands)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@attrs.frozen
class ProviderReport:
    """One provider's figures.

    Attributes:
        name: The provider.
        attempts: Attempts that reached it.
        successes: Those it answered.
        probes: Attempts admitted while its breaker was HALF_OPEN.
        time_in_state: Seconds spent in each state (by value), from its bands.
        transitions: How many events its breaker emitted.
    """

    name: str
    attempts: int
    successes: int
    probes: int
    time_in_state: Mapping[str, float]
    transitions: int

    @property
    def success_rate(self) -> float | None:
        """successes / attempts; None without attempts."""
        return self.successes / self.attempts if self.attempts else None


@attrs.frozen
class SimulationReport:
    """Everything a simulation run found.

    Attributes:
        scenario: The scenario's name.
        policy: A label for the policy run (a file name, or "scenario").
        seed: The seed used.
        end: When the last request ended (simulated seconds); bands end there.
        events: Every breaker's FailoverEvents, in the order they happened.
        requests: Each request, in arrival order.
        attempts: Each attempt that reached a provider, in the order they ended.
        providers: Each provider's figures, in registration order.
    """

    scenario: str
    policy: str
    seed: int
    end: float
    events: tuple[FailoverEvent, ...]
    requests: tuple[RequestRecord, ...]
    attempts: tuple[AttemptRecord, ...]
    providers: tuple[ProviderReport, ...]

    @property
    def succeeded(self) -> int:
        """Requests a provider answered."""
        return sum(1 for r in self.requests if r.outcome == "ok")

    @property
    def success_rate(self) -> float | None:
        """Answered requests / requests; None without requests."""
        return self.succeeded / len(self.requests) if self.requests else None

    @property
    def reached_failing(self) -> int:
        """Requests that had at least one attempt fail at a provider."""
        return sum(1 for r in self.requests if r.failed_attempts)

    def added_latency(self, q: float) -> float | None:
        """The ``q``-th percentile of ``RequestRecord.added_latency`` over answered requests."""
        return percentile([a for r in self.requests if (a := r.added_latency) is not None], q)

    def bands(self) -> dict[str, tuple[Band, ...]]:
        """Each provider's state bands over ``[0, end)`` (``state_bands`` of the events)."""
        return state_bands(self.events, [p.name for p in self.providers], self.end)

    def summary(self) -> dict[str, Any]:
        """The headline figures as plain data."""
        return {
            "requests": len(self.requests),
            "succeeded": self.succeeded,
            "failed": sum(1 for r in self.requests if r.outcome == "failed"),
            "unavailable": sum(1 for r in self.requests if r.outcome == "unavailable"),
            "success_rate": self.success_rate,
            "reached_failing_provider": self.reached_failing,
            "added_latency_p50": self.added_latency(50),
            "added_latency_p99": self.added_latency(99),
            "transitions": len(self.events),
        }

    def to_json(self, *, details: bool = False) -> dict[str, Any]:
        """The report as JSON-ready data: summary, providers, events and bands (and every
        request and attempt with ``details``)."""
        data: dict[str, Any] = {
            "scenario": self.scenario,
            "policy": self.policy,
            "seed": self.seed,
            "end": self.end,
            "summary": self.summary(),
            "providers": [
                {**attrs.asdict(p), "success_rate": p.success_rate} for p in self.providers
            ],
            "events": [converter.unstructure(e) for e in self.events],
            "bands": {
                name: [attrs.asdict(b) for b in bands] for name, bands in self.bands().items()
            },
        }
        if details:
            data["requests"] = [attrs.asdict(r) for r in self.requests]
            data["attempts"] = [attrs.asdict(a) for a in self.attempts]
        return data
