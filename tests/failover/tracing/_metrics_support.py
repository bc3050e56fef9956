"""What the metrics tests share: a policy, reading metrics back from the SDK's in-memory reader,
and driving a breaker through calls of every kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from failover import (
    BadRequest,
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
    ManualClock,
    Unavailable,
)
from statemachines import Outcome

POLICY = BreakerPolicy(
    max_consecutive_failures=2,
    open_duration=10.0,
    open_jitter=0.0,
    half_open_max_calls=1,
    slow_call_duration=5.0,
)
"""Trips on the second failure in a row, cools down for exactly 10 s, probes once; 5 s is slow."""

PROVIDER, OUTCOME, STATE = (
    "failover.provider.name",
    "failover.call.outcome",
    "failover.breaker.state",
)
NOT_PERMITTED = "failover.errors.CallNotPermitted"
ALL_STATES = {state.value for state in BreakerState}
NO_CALLS = {outcome.value: 0 for outcome in Outcome}

# --- reading metrics back -----------------------------------------------------------------------


def collect(reader: InMemoryMetricReader) -> dict[str, Any]:
    """Every metric collected now, by name."""
    data = reader.get_metrics_data()
    assert data is not None
    return {
        metric.name: metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }


def values(metric: Any, *keys: str) -> dict[tuple[Any, ...], Any]:
    """A sum's data points: attribute values (in ``keys`` order) -> value; no other keys."""
    points = metric.data.data_points
    assert all(set(p.attributes) == set(keys) for p in points), "other attribute keys"
    found = {tuple(p.attributes[k] for k in keys): p.value for p in points}
    assert len(found) == len(points), "two data points with the same attributes"
    return found


def calls(reader: InMemoryMetricReader, provider: str) -> dict[str, int]:
    """``failover.breaker.calls`` of one provider: outcome value -> count."""
    found = values(collect(reader)["failover.breaker.calls"], PROVIDER, OUTCOME)
    return {outcome: n for (p, outcome), n in found.items() if p == provider}


def states(reader: InMemoryMetricReader, provider: str) -> dict[str, int]:
    """``failover.breaker.state`` of one provider: state value -> breakers in it."""
    found = values(collect(reader)["failover.breaker.state"], PROVIDER, STATE)
    return {state: n for (p, state), n in found.items() if p == provider}


def current(state: BreakerState, breakers: int = 1) -> dict[str, int]:
    """The state counter when ``breakers`` breakers are in ``state``: 0 for every other state."""
    return {value: breakers * (value == state.value) for value in ALL_STATES}


# --- driving a breaker --------------------------------------------------------------------------


def make(
    *hooks: Any, name: str = "gemini", clock: ManualClock | None = None
) -> tuple[CircuitBreaker, ManualClock]:
    clock = clock if clock is not None else ManualClock()
    return CircuitBreaker(name, POLICY, clock=clock, hooks=hooks), clock


def taking(clock: ManualClock, seconds: float, then: Callable[[], str]) -> Callable[[], str]:
    """A provider call that takes ``seconds`` on ``clock``, then does ``then``."""

    def call() -> str:
        clock.advance(seconds)
        return then()

    return call


def ok() -> str:
    return "ok"


def down() -> str:
    raise Unavailable("503", provider="gemini")


def bad_request() -> str:
    raise BadRequest("prompt too long", provider="gemini")


def rejected(breaker: CircuitBreaker) -> None:
    with pytest.raises(CallNotPermitted):
        breaker.call(ok)


def fails(breaker: CircuitBreaker, fn: Callable[[], str], error: type[Exception]) -> None:
    with pytest.raises(error):
        breaker.call(fn)


def lifecycle(breaker: CircuitBreaker, clock: ManualClock, reader: InMemoryMetricReader) -> None:
    """Calls of every kind, a trip, rejections in OPEN and HALF_OPEN, a recovery to CLOSED; the
    state counter checked on the way."""
    for seconds in (1.0, 2.0, 3.0):
        assert breaker.call(taking(clock, seconds, ok)) == "ok"  # 3 successes, 6 s
    breaker.call(taking(clock, 5.0, ok))  # slow success, 5 s
    fails(breaker, bad_request, BadRequest)  # ignored, 0 s
    fails(breaker, taking(clock, 0.5, down), Unavailable)  # failure, 0.5 s
    fails(breaker, taking(clock, 0.25, down), Unavailable)  # failure, 0.25 s: trips
    assert states(reader, "gemini") == current(BreakerState.OPEN)
    rejected(breaker)
    rejected(breaker)
    clock.advance(10.0)
    with breaker.guard():  # the one probe, in flight (0 s)
        assert states(reader, "gemini") == current(BreakerState.HALF_OPEN)
        rejected(breaker)
    assert breaker.state is BreakerState.CLOSED
