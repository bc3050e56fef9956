"""OpenTelemetryHook's duration histogram: opt-in (``durations``), sampled at the rate asked for;
only then does the hook run on every call."""

from __future__ import annotations

import random
from typing import Any

import pytest
from opentelemetry import metrics
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from failover import ConfigurationError
from failover._base.hooks import overrides
from failover.telemetry import OpenTelemetryHook
from tests.failover.tracing._metrics_support import (
    NO_CALLS,
    OUTCOME,
    PROVIDER,
    calls,
    collect,
    lifecycle,
    make,
    ok,
)


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter(reader: InMemoryMetricReader) -> Meter:
    return MeterProvider(metric_readers=[reader]).get_meter("failover")


# --- the duration histogram: opt-in -------------------------------------------------------------


def test_durations_are_recorded_only_when_asked_for(
    meter: Meter, reader: InMemoryMetricReader
) -> None:
    plain = OpenTelemetryHook(meter)
    timed = OpenTelemetryHook(meter, durations=True)
    assert (type(plain), overrides(plain, "on_call")) == (OpenTelemetryHook, False)
    assert isinstance(timed, OpenTelemetryHook)
    assert overrides(timed, "on_call")
    assert not overrides(timed, "on_rejected")
    assert repr(plain) == "OpenTelemetryHook()"
    assert repr(timed) == "OpenTelemetryHook(durations=1.0)"


def test_the_histogram_records_every_admitted_call(reader: InMemoryMetricReader) -> None:
    provider = MeterProvider(metric_readers=[reader])
    breaker, clock = make(OpenTelemetryHook(provider.get_meter("failover"), durations=1))
    lifecycle(breaker, clock, reader)
    duration = collect(reader)["failover.breaker.call.duration"]
    assert duration.unit == "s"
    points = {p.attributes[OUTCOME]: p for p in duration.data.data_points}
    assert {p.attributes[PROVIDER] for p in points.values()} == {"gemini"}
    assert {outcome: p.count for outcome, p in points.items()} == {
        "success": 4,
        "slow_success": 1,
        "ignored": 1,
        "failure": 2,
    }
    assert points["success"].sum == pytest.approx(6.0)
    assert points["slow_success"].sum == pytest.approx(5.0)
    assert points["failure"].sum == pytest.approx(0.75)
    assert points["failure"].max == pytest.approx(0.5)
    assert points["success"].explicit_bounds[:3] == (0.01, 0.02, 0.04)
    assert points["success"].explicit_bounds[-1] == pytest.approx(81.92)


def test_a_sampled_histogram_records_the_calls_drawn(
    meter: Meter, reader: InMemoryMetricReader
) -> None:
    hook = OpenTelemetryHook(meter, durations=0.25, rng=random.Random(7))
    breaker, _ = make(hook)
    for _ in range(200):
        breaker.call(ok)
    draws = random.Random(7)
    expected = sum(draws.random() < 0.25 for _ in range(200))
    assert 0 < expected < 200
    [point] = collect(reader)["failover.breaker.call.duration"].data.data_points
    assert point.count == expected
    assert calls(reader, "gemini") == {**NO_CALLS, "success": 200}  # every call still counted


@pytest.mark.parametrize("durations", [-0.1, 1.5, float("nan"), "1", None])
def test_durations_must_be_a_fraction(meter: Meter, durations: Any) -> None:
    with pytest.raises(ConfigurationError, match="durations must be a fraction"):
        OpenTelemetryHook(meter, durations=durations)


def test_a_subclass_cannot_ask_for_durations(meter: Meter) -> None:
    class Mine(OpenTelemetryHook):
        pass

    assert not overrides(Mine(meter), "on_call")
    with pytest.raises(ConfigurationError, match="OpenTelemetryHook itself"):
        Mine(meter, durations=1.0)


def test_without_a_meter_the_hook_takes_the_global_failover_meter(
    meter: Meter, reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def get_meter(name: str, *args: object, **kwargs: object) -> Meter:
        asked.append(name)
        return meter

    monkeypatch.setattr(metrics, "get_meter", get_meter)
    breaker, _ = make(OpenTelemetryHook())
    breaker.call(ok)
    assert asked == ["failover"]
    assert calls(reader, "gemini") == {**NO_CALLS, "success": 1}
