"""The simulated providers: a ScriptedProvider whose handler reads the fault schedule at the
manual clock's time, and waits on that clock as long as the answer takes."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from failover.clock import ManualClock
from failover.errors import QuotaExhausted, RateLimited, Unavailable
from failover.ratelimit import Quota, RateLimit
from failover.simulation._report import AttemptOutcome, AttemptRecord
from failover.simulation._scenario import Latency, ProviderScenario
from failover.testing import ScriptedProvider, ScriptedRequest

if TYPE_CHECKING:
    from failover._breaker.breaker import CircuitBreaker

__all__ = ["SimulatedBackend", "simulated_provider"]


class SimulatedBackend:
    """The handler behind one simulated provider.

    Each attempt draws its latency and its random error from a source seeded by (seed,
    provider, request, attempt number at this provider): two runs of one scenario on one seed
    give a request the same draws at a provider whatever the policy, so that policies are
    compared on the same luck.

    Args:
        spec: The provider's faults.
        clock: The simulation's clock.
        seed: The run's seed.
        error_latency: How long a fast failure (503 in an outage, 429) takes.
        record: Receives one AttemptRecord per attempt, when it ends.
    """

    def __init__(
        self,
        spec: ProviderScenario,
        clock: ManualClock,
        seed: int,
        error_latency: float,
        record: Callable[[AttemptRecord], None],
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.seed = seed
        self.error_latency = error_latency
        self.record = record
        self.breaker: CircuitBreaker | None = None
        quota = spec.quota
        self._minute = _quota(None if quota is None else quota.per_minute, None)
        self._day = _quota(None, None if quota is None else quota.per_day)
        self._tries: dict[object, int] = {}

    def down_at(self, now: float) -> bool:
        """Whether an outage covers ``now``."""
        return any(o.start <= now < o.end for o in self.spec.outages)

    async def __call__(self, request: ScriptedRequest) -> object:
        now = self.clock.monotonic()
        if request.kind == "health_check":
            return not self.down_at(now)
        key = request.options.get("request_id", -1)
        tries = self._tries[key] = self._tries.get(key, 0) + 1
        rng = random.Random(f"{self.seed}/{self.spec.name}/{key}/{tries}")
        state = "unknown" if self.breaker is None else self.breaker.state.value
        outcome: AttemptOutcome = "timeout"  # unless it ends otherwise: cancelled by a timeout
        try:
            answer = await self._answer(now, rng)
            outcome = "ok"
            return answer
        except RateLimited:
            outcome = "rate_limited"
            raise
        except QuotaExhausted:
            outcome = "quota_exhausted"
            raise
        except Unavailable:
            outcome = "error"
            raise
        finally:
            number = key if isinstance(key, int) else -1
            ended = self.clock.monotonic()
            self.record(AttemptRecord(number, self.spec.name, now, ended, outcome, state))

    async def _answer(self, now: float, rng: random.Random) -> str:
        spec, name = self.spec, self.spec.name
        for outage in spec.outages:
            if outage.start <= now < outage.end:
                if outage.mode == "timeout":
                    await asyncio.get_running_loop().create_future()  # no answer, ever
                await self.clock.sleep(self.error_latency)
                raise Unavailable("503 (simulated outage)", provider=name, status=503)
        for burst in spec.rate_limit_bursts:
            if burst.start <= now < burst.end:
                await self.clock.sleep(self.error_latency)
                raise RateLimited(
                    "429 (simulated burst)",
                    provider=name,
                    retry_after=burst.retry_after,
                    status=429,
                )
        await self._quota(now)
        latency = sample(spec.latency, rng)
        failed = rng.random() < spec.error_rate
        await self.clock.sleep(latency)
        if failed:
            raise Unavailable("503 (simulated error)", provider=name, status=503)
        return f"answer from {name}"

    async def _quota(self, now: float) -> None:
        name = self.spec.name
        for quota, error in ((self._day, QuotaExhausted), (self._minute, RateLimited)):
            if quota is None:
                continue
            free_at = quota.available_at(now)
            if free_at is not None:
                await self.clock.sleep(self.error_latency)
                raise error(
                    f"{'quota exhausted' if error is QuotaExhausted else '429'} (simulated quota)",
                    provider=name,
                    retry_after=free_at - now,
                    status=429,
                )
        for quota in (self._day, self._minute):
            if quota is not None:
                quota.consume(now)


def _quota(per_minute: int | None, per_day: int | None) -> Quota | None:
    if per_minute is None and per_day is None:
        return None
    return Quota(RateLimit(per_minute=per_minute, per_day=per_day))


def sample(latency: Latency, rng: random.Random) -> float:
    """One latency drawn from ``latency``'s distribution (one draw from ``rng``)."""
    if latency.dist == "lognormal":
        return latency.median * math.exp(latency.sigma * rng.gauss(0.0, 1.0))
    draw = rng.random()
    if latency.dist == "uniform" and latency.low is not None and latency.high is not None:
        return latency.low + (latency.high - latency.low) * draw
    return latency.median


def simulated_provider(backend: SimulatedBackend) -> ScriptedProvider:
    """The provider the coordinator sees: a ScriptedProvider over ``backend``."""
    return ScriptedProvider(backend.spec.name, backend, model="simulated")
