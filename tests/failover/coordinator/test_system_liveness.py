"""System-level liveness (L1, L2) through the simulator, on its virtual clock: random outage
schedules under every built-in strategy, one coordinator or two replicas sharing one
MemoryStorage. After every outage each provider is CLOSED again within its bound, and no breaker
stays HALF_OPEN past max_half_open_duration."""

from __future__ import annotations

import bisect

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failover.simulation import Arrivals, Latency, Outage, ProviderScenario, Scenario, simulate
from failover.strategies import STRATEGIES
from statemachines import BreakerPolicy, BreakerState, FailoverEvent

POLICY = BreakerPolicy()  # the defaults: 30 s open, backoff 2, at most 300 s; 60 s to decide
LATENCY = 0.1
NAMES = ("p0", "p1", "p2")


@st.composite
def outages(draw: st.DrawFn) -> tuple[Outage, ...]:
    """Up to two outages in [0, 240), apart from each other."""
    points = sorted(draw(st.lists(st.floats(0.0, 240.0), min_size=0, max_size=4, unique=True)))
    points = points[: len(points) // 2 * 2]
    return tuple(
        Outage(start, end)
        for start, end in zip(points[::2], points[1::2], strict=True)
        if end - start >= 1.0
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    providers = tuple(
        ProviderScenario(
            name,
            latency=Latency("fixed", LATENCY),
            outages=draw(outages()),
            priority=draw(st.sampled_from([0.0, 1.0, 2.0])),
        )
        for name in NAMES
    )
    last_end = max((o.end for p in providers for o in p.outages), default=0.0)
    return Scenario(
        name="random outages",
        providers=providers,
        arrivals=Arrivals(rate=2.0, duration=last_end + POLICY.max_open_duration + 30.0),
        seed=draw(st.integers(0, 2**16)),
        policy=POLICY,
        strategy=draw(st.sampled_from(STRATEGIES)),
        replicas=draw(st.sampled_from([1, 2])),
    )


def first_arrival_at_or_after(arrivals: list[float], when: float) -> float | None:
    at = bisect.bisect_left(arrivals, when)
    return arrivals[at] if at < len(arrivals) else None


@given(scenario=scenarios())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_provider_recovers_and_no_half_open_outlives_its_deadline(
    scenario: Scenario,
) -> None:
    report = simulate(scenario)
    arrivals = sorted(r.arrived for r in report.requests)
    for spec in scenario.providers:
        events = [e for e in report.events if e.provider == spec.name]
        _half_open_ends_in_time(events, arrivals)
        _closed_again_after_its_outages(spec, events, arrivals)


def _half_open_ends_in_time(events: list[FailoverEvent], arrivals: list[float]) -> None:
    """L1: a HALF_OPEN is left by its decision deadline, at the first pick after it at most."""
    for entered, left in zip(events, [*events[1:], None], strict=False):
        if entered.dest is not BreakerState.HALF_OPEN:
            continue
        deadline = entered.at + POLICY.max_half_open_duration
        pick = first_arrival_at_or_after(arrivals, deadline)
        if left is None:
            assert pick is None, f"{entered.provider} still HALF_OPEN after {deadline}"
        else:
            assert left.at <= (deadline if pick is None else max(pick, deadline)) + 1e-9, (
                f"{entered!r} left at {left.at}, deadline {deadline}, next pick {pick}"
            )


def _closed_again_after_its_outages(
    spec: ProviderScenario, events: list[FailoverEvent], arrivals: list[float]
) -> None:
    """L2: after its last outage, the first request past the open deadline probes it back."""
    if not spec.outages:
        assert all(e.dest is not BreakerState.OPEN for e in events)  # nothing to trip on
        return
    end = spec.outages[-1].end
    if not events or (events[-1].at < end and events[-1].dest is BreakerState.CLOSED):
        return  # never tripped, or CLOSED before the outage ended (and nothing fails since)
    pick = first_arrival_at_or_after(arrivals, end + POLICY.max_open_duration)
    assert pick is not None  # the scenario lasts long enough
    assert events[-1].dest is BreakerState.CLOSED, f"{spec.name}: {events[-1]!r}"
    assert events[-1].at <= pick + LATENCY + 1.0, f"{spec.name} closed at {events[-1].at}"
