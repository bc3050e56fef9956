"""The discrete-event loop: the real Coordinator and CircuitBreakers on a ManualClock.

Nothing of the breakers' or the coordinator's logic is copied here: requests go through
``Coordinator.generate`` exactly as in a service, against simulated providers that wait on the
manual clock. The loop lets every runnable task run until none can (``_settle``), then moves the
clock to the next event: the next request's arrival or the earliest sleeper's wake-up
(``ManualClock.next_wakeup``: a provider answering, a backoff, a timeout, a health check).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Sequence

from failover._config.policy_format import policy_from_mapping
from failover._coordinator.coordinator import Coordinator
from failover.clock import ManualClock
from failover.errors import AllProvidersFailed, AllProvidersUnavailable
from failover.health import HealthCheckConfig
from failover.simulation._provider import SimulatedBackend, simulated_provider
from failover.simulation._report import (
    AttemptRecord,
    Band,
    ProviderReport,
    RequestOutcome,
    RequestRecord,
    SimulationReport,
    state_bands,
)
from failover.simulation._scenario import Scenario
from failover.storage import MemoryStorage
from statemachines import BreakerPolicy, ConfigurationError, FailoverEvent

__all__ = ["Progress", "arrival_times", "run_simulation", "simulate"]

Progress = Callable[[float, float], None]
"""Called as the simulation goes: (simulated now, simulated duration of the arrivals)."""

_NO_LOOP_INTROSPECTION_TURNS = 50


def simulate(
    scenario: Scenario,
    policy: BreakerPolicy | None = None,
    seed: int | None = None,
    *,
    label: str = "scenario",
    progress: Progress | None = None,
) -> SimulationReport:
    """Run ``scenario`` to its end on a virtual clock and report what happened.

    Runs its own event loop (``asyncio.run``); in a running loop, await ``run_simulation``.

    Args:
        scenario: The providers, their faults and the arrivals.
        policy: The BreakerPolicy under test, replacing the scenario's ``[policy]`` (each
            provider's own overrides still apply on top); None keeps the scenario's.
        seed: Seeds arrivals, latencies, errors, jitter; None uses the scenario's seed.
        label: How the report names the policy.
        progress: Called with (now, duration) as simulated time passes.

    Returns:
        The report: every event, request and attempt, and the figures.
    """
    return asyncio.run(run_simulation(scenario, policy, seed, label=label, progress=progress))


def arrival_times(rate: float, duration: float, rng: random.Random) -> list[float]:
    """A Poisson process: exponential gaps of mean ``1 / rate``, every arrival in
    ``[0, duration)``."""
    times, now = [], rng.expovariate(rate)
    while now < duration:
        times.append(now)
        now += rng.expovariate(rate)
    return times


async def run_simulation(
    scenario: Scenario,
    policy: BreakerPolicy | None = None,
    seed: int | None = None,
    *,
    label: str = "scenario",
    progress: Progress | None = None,
) -> SimulationReport:
    """``simulate`` in a running event loop (its tasks share the loop with nothing else's
    clock: run it in a loop of its own when other tasks are busy)."""
    seed = scenario.seed if seed is None else seed
    run = _Run(scenario, policy or scenario.policy, seed)
    await run.start()
    try:
        await run.drive(progress)
    finally:
        for coordinator in run.coordinators:
            await coordinator.aclose()
    return run.report(label)


class _Run:
    """One simulation: the clock, the coordinator, the simulated providers, the records."""

    def __init__(self, scenario: Scenario, policy: BreakerPolicy, seed: int) -> None:
        self.scenario, self.seed = scenario, seed
        self.clock = ManualClock()
        self.events: list[FailoverEvent] = []
        self.attempts: list[AttemptRecord] = []
        self.requests: list[RequestRecord] = []
        self.backends = [
            SimulatedBackend(p, self.clock, seed, scenario.error_latency, self.attempts.append)
            for p in scenario.providers
        ]
        if not isinstance(scenario.replicas, int) or scenario.replicas < 1:
            raise ConfigurationError(
                f"replicas must be an int >= 1, got {scenario.replicas!r}; e.g. replicas = 2"
            )
        # Many replicas: coordinators sharing the breakers' state through one storage, as the
        # processes of a fleet do through Redis; requests go to them in turn.
        storage = MemoryStorage(clock=self.clock) if scenario.replicas > 1 else None
        self.coordinators = [self._coordinator(policy, storage) for _ in range(scenario.replicas)]
        self.coordinator = self.coordinators[0]
        for backend in self.backends:
            backend.breaker = self.coordinator.breaker(backend.spec.name)
        arrivals = scenario.arrivals
        rng = random.Random(f"{seed}/arrivals")
        self.arrivals = arrival_times(arrivals.rate, arrivals.duration, rng)

    def _coordinator(self, policy: BreakerPolicy, storage: MemoryStorage | None) -> Coordinator:
        scenario, specs = self.scenario, self.scenario.providers
        return Coordinator(
            [simulated_provider(b) for b in self.backends],
            policy=policy,
            policies={
                p.name: policy_from_mapping(p.policy, base=policy, source=f"provider {p.name!r}")
                for p in specs
                if p.policy
            },
            strategy=scenario.strategy,
            retry=scenario.retry,
            rate_limits={p.name: p.rate_limits for p in specs if p.rate_limits is not None},
            health=scenario.health or HealthCheckConfig(enabled=False),
            clock=self.clock,
            hooks=(self.events.append,),
            all_down=scenario.all_down,
            priorities={p.name: p.priority for p in specs},
            weights={p.name: p.weight for p in specs},
            seed=self.seed,
            storage=storage,
        )

    async def start(self) -> None:
        health = self.scenario.health is not None and self.scenario.health.enabled
        if health or len(self.coordinators) > 1:
            for coordinator in self.coordinators:
                await coordinator.start()

    async def drive(self, progress: Progress | None) -> None:
        clock, arrivals = self.clock, self.arrivals
        pending: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        index, shown = 0, -1
        while True:
            await _settle(loop)
            if index >= len(arrivals) and not pending:
                return
            now = clock.monotonic()
            wake = clock.next_wakeup
            target = min(
                arrivals[index] if index < len(arrivals) else math.inf,
                math.inf if wake is None else wake,
            )
            if target == math.inf:
                raise RuntimeError(
                    f"simulation stuck at t={now:.3f}: {len(pending)} requests wait for "
                    "something that no clock time will bring"
                )
            clock.advance(max(target - now, 0.0))
            while index < len(arrivals) and arrivals[index] <= clock.monotonic():
                task = loop.create_task(self._request(index, arrivals[index]))
                pending.add(task)
                task.add_done_callback(pending.discard)
                index += 1
            if progress is not None and int(clock.monotonic()) != shown:
                shown = int(clock.monotonic())
                progress(
                    min(clock.monotonic(), self.scenario.arrivals.duration),
                    self.scenario.arrivals.duration,
                )

    async def _request(self, number: int, arrived: float) -> None:
        provider: str | None = None
        outcome: RequestOutcome
        try:
            coordinator = self.coordinators[number % len(self.coordinators)]
            result = await coordinator.generate(f"request {number}", request_id=number)
        except AllProvidersFailed as exc:
            attempts, outcome = exc.attempts, "failed"
        except AllProvidersUnavailable:
            attempts, outcome = (), "unavailable"
        else:
            attempts, outcome, provider = result.attempts, "ok", result.provider
        served = attempts[-1].duration if provider is not None else None
        failed = sum(1 for a in attempts if a.error is not None)
        record = RequestRecord(
            number,
            arrived,
            self.clock.monotonic(),
            outcome,
            provider,
            len(attempts),
            failed,
            served,
        )
        self.requests.append(record)

    def report(self, label: str) -> SimulationReport:
        end = max(self.clock.monotonic(), self.scenario.arrivals.duration)
        names = [p.name for p in self.scenario.providers]
        bands = state_bands(self.events, names, end)
        providers = tuple(
            _provider_report(name, self.attempts, self.events, bands[name]) for name in names
        )
        return SimulationReport(
            scenario=self.scenario.name,
            policy=label,
            seed=self.seed,
            end=end,
            events=tuple(self.events),
            requests=tuple(sorted(self.requests, key=lambda r: r.request)),
            attempts=tuple(self.attempts),
            providers=providers,
        )


def _provider_report(
    name: str,
    attempts: Sequence[AttemptRecord],
    events: Sequence[FailoverEvent],
    bands: Sequence[Band],
) -> ProviderReport:
    mine = [a for a in attempts if a.provider == name]
    time_in_state: dict[str, float] = {}
    for band in bands:
        time_in_state[band.state] = time_in_state.get(band.state, 0.0) + band.length
    return ProviderReport(
        name=name,
        attempts=len(mine),
        successes=sum(1 for a in mine if a.outcome == "ok"),
        probes=sum(1 for a in mine if a.probe),
        time_in_state=time_in_state,
        transitions=sum(1 for e in events if e.provider == name),
    )


async def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Let every runnable task run until none can without the clock moving.

    CPython's event loops keep their runnable callbacks in ``_ready``: after ``sleep(0)`` this
    task runs again behind everything that was runnable, and an empty ``_ready`` then means
    nothing else is. Other loops fall back to a fixed number of turns.
    """
    ready = getattr(loop, "_ready", None)
    if ready is None:
        for _ in range(_NO_LOOP_INTROSPECTION_TURNS):
            await asyncio.sleep(0)
        return
    await asyncio.sleep(0)
    while ready:
        await asyncio.sleep(0)
