"""Scenarios: the providers' fault schedules and the request arrivals a simulation replays.

A scenario is TOML (``load_scenario``) or built from these records directly. Times are seconds of
simulated time from the start (0); each window is half-open, ``[start, end)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import attrs

from failover._coordinator.coordinator import AllDown
from failover.health import HealthCheckConfig
from failover.ratelimit import RateLimit
from failover.retry import RetryPolicy
from failover.strategies import StrategyName
from statemachines import BreakerPolicy

__all__ = [
    "Arrivals",
    "Latency",
    "Outage",
    "ProviderScenario",
    "Quota",
    "RateLimitBurst",
    "Scenario",
]

Z99 = 2.3263478740408408
"""The standard normal's 99th percentile: a lognormal's sigma is ln(p99 / median) / Z99."""

OutageMode = Literal["error", "timeout"]
Distribution = Literal["fixed", "lognormal", "uniform"]


@attrs.frozen
class Latency:
    """How long a provider takes to answer.

    Attributes:
        dist: "fixed" (always ``median``), "lognormal" (``median`` and ``p99``) or "uniform"
            (between ``low`` and ``high``).
        median: The median latency in seconds ("fixed": the latency).
        p99: The 99th percentile, for "lognormal" (> median).
        low: The lower bound, for "uniform".
        high: The upper bound, for "uniform".
    """

    dist: Distribution = "fixed"
    median: float = 0.1
    p99: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def sigma(self) -> float:
        """The lognormal's sigma (0 unless "lognormal")."""
        if self.dist != "lognormal" or self.p99 is None:
            return 0.0
        return math.log(self.p99 / self.median) / Z99


@attrs.frozen
class Outage:
    """A window ``[start, end)`` during which every request fails.

    Attributes:
        start: When it begins, in seconds.
        end: When it ends (> start).
        mode: "error": the provider answers 503 (Unavailable) after ``Scenario.error_latency``;
            "timeout": it never answers (the attempt times out).
    """

    start: float
    end: float
    mode: OutageMode = "error"


@attrs.frozen
class RateLimitBurst:
    """A window ``[start, end)`` during which every request is answered 429.

    Attributes:
        start: When it begins, in seconds.
        end: When it ends (> start).
        retry_after: The Retry-After each 429 carries, in seconds (None: none).
    """

    start: float
    end: float
    retry_after: float | None = 10.0


@attrs.frozen
class Quota:
    """The provider's own quota: beyond it, it answers 429 (per minute) or quota exhausted
    (per day), with a Retry-After until a slot frees up.

    Attributes:
        per_minute: Requests accepted per moving minute (None: unlimited).
        per_day: Requests accepted per moving day (None: unlimited).
    """

    per_minute: int | None = None
    per_day: int | None = None


@attrs.frozen
class ProviderScenario:
    """One simulated provider.

    Attributes:
        name: Its name.
        latency: How long it takes to answer (when it answers).
        error_rate: The chance that an answer is a 503 instead (0 to 1).
        outages: Windows when it is down.
        rate_limit_bursts: Windows when it answers 429.
        quota: Its own quota (429 beyond it).
        policy: Its BreakerPolicy field overrides, on top of the scenario's policy.
        rate_limits: The coordinator's client-side limits for it (None: none).
        priority: Its priority for the coordinator (higher first).
        weight: Its weight for "weighted_random".
    """

    name: str
    latency: Latency = attrs.field(factory=Latency)
    error_rate: float = 0.0
    outages: tuple[Outage, ...] = ()
    rate_limit_bursts: tuple[RateLimitBurst, ...] = ()
    quota: Quota | None = None
    policy: Mapping[str, object] = attrs.field(factory=dict, hash=False)
    rate_limits: RateLimit | None = None
    priority: float = 0.0
    weight: float = 1.0


@attrs.frozen
class Arrivals:
    """Requests arrive as a Poisson process.

    Attributes:
        rate: Requests per second (> 0).
        duration: Seconds during which requests arrive (> 0).
    """

    rate: float
    duration: float


@attrs.frozen
class Scenario:
    """Providers, their faults, the requests, and how the coordinator is set up.

    Attributes:
        name: A name for reports.
        providers: The providers, in registration order (unique names).
        arrivals: The request arrival process.
        seed: The default seed (``simulate(seed=...)`` overrides it).
        policy: The BreakerPolicy of every provider (each provider's overrides on top).
        retry: Attempts, timeouts and backoff per request.
        strategy: The coordinator's strategy.
        all_down: What the coordinator does when no provider admits a call.
        health: Active health checks (None: none run).
        error_latency: Seconds a provider takes to fail fast (503 in an outage, 429).
        description: Free text.
        replicas: How many coordinators (processes of a fleet) share the providers' breaker
            state through one MemoryStorage; requests go to them in turn. 1: no storage.
    """

    name: str
    providers: tuple[ProviderScenario, ...]
    arrivals: Arrivals
    seed: int = 0
    policy: BreakerPolicy = attrs.field(factory=BreakerPolicy)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    strategy: StrategyName = "success_rate"
    all_down: AllDown = "fail_fast"
    health: HealthCheckConfig | None = None
    error_latency: float = 0.05
    description: str = ""
    replicas: int = 1
