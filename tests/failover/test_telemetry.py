"""failover.telemetry: OpenTelemetry metrics read back through the SDK's in-memory reader, JSON
lines read back as events, and the default hooks with and without OpenTelemetry installed."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import metrics
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import failover.telemetry
from failover import (
    BadRequest,
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
    LoggingHook,
    ManualClock,
    Unavailable,
)
from failover.hooks import resolve_hooks
from failover.telemetry import JsonLinesHook, OpenTelemetryHook, default_hooks, otel_available
from statemachines import events_from_jsonl, replay

POLICY = BreakerPolicy(
    max_consecutive_failures=2,
    open_duration=10.0,
    open_jitter=0.0,
    half_open_max_calls=1,
    slow_call_duration=5.0,
)
"""Trips on the second failure in a row, cools down for exactly 10 s, probes once; 5 s is slow."""

ALL_STATES = {state.value for state in BreakerState}

# --- reading metrics back -----------------------------------------------------------------------


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter(reader: InMemoryMetricReader) -> Meter:
    return MeterProvider(metric_readers=[reader]).get_meter("failover")


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
    """A counter's or gauge's data points: attribute values (in ``keys`` order) -> value."""
    points = metric.data.data_points
    found = {tuple(p.attributes[k] for k in keys): p.value for p in points}
    assert len(found) == len(points), "two data points with the same attributes"
    return found


def gauge(reader: InMemoryMetricReader, provider: str) -> dict[str, int]:
    """The state gauge of one provider: state value -> 1 or 0."""
    states = values(collect(reader)["failover.breaker.state"], "provider", "state")
    return {state: v for (p, state), v in states.items() if p == provider}


def current(state: BreakerState) -> dict[str, int]:
    """The gauge expected when ``state`` is current: 1 for it, 0 for every other state."""
    return {value: int(value == state.value) for value in ALL_STATES}


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


@pytest.fixture
def lifecycle(meter: Meter, reader: InMemoryMetricReader) -> CircuitBreaker:
    """A breaker with an OpenTelemetryHook, driven through calls of every kind, a trip,
    rejections in OPEN and HALF_OPEN, and a recovery; back in CLOSED."""
    breaker, clock = make(OpenTelemetryHook(meter))
    for seconds in (1.0, 2.0, 3.0):
        assert breaker.call(taking(clock, seconds, ok)) == "ok"  # 3 successes, 6 s
    breaker.call(taking(clock, 5.0, ok))  # slow success, 5 s
    fails(breaker, bad_request, BadRequest)  # ignored, 0 s
    fails(breaker, taking(clock, 0.5, down), Unavailable)  # failure, 0.5 s
    fails(breaker, taking(clock, 0.25, down), Unavailable)  # failure, 0.25 s: trips
    assert breaker.state is BreakerState.OPEN
    assert gauge(reader, "gemini") == current(BreakerState.OPEN)
    rejected(breaker)
    rejected(breaker)
    clock.advance(10.0)
    with breaker.guard():  # the one probe, in flight (0 s)
        assert breaker.state is BreakerState.HALF_OPEN
        assert gauge(reader, "gemini") == current(BreakerState.HALF_OPEN)
        rejected(breaker)
    assert breaker.state is BreakerState.CLOSED
    return breaker


# --- OpenTelemetryHook --------------------------------------------------------------------------


def test_calls_are_counted_by_provider_and_outcome(
    lifecycle: CircuitBreaker, reader: InMemoryMetricReader
) -> None:
    calls = collect(reader)["failover.calls"]
    assert values(calls, "provider", "outcome") == {
        ("gemini", "success"): 4,  # 3 calls, then the probe
        ("gemini", "slow_success"): 1,
        ("gemini", "ignored"): 1,
        ("gemini", "failure"): 2,
    }
    assert calls.unit == "{call}"


def test_rejections_are_counted_by_the_state_that_rejected(
    lifecycle: CircuitBreaker, reader: InMemoryMetricReader
) -> None:
    not_permitted = collect(reader)["failover.calls.not_permitted"]
    assert values(not_permitted, "provider", "state") == {
        ("gemini", "open"): 2,
        ("gemini", "half_open"): 1,
    }


def test_transitions_are_counted_by_source_dest_and_reason(
    lifecycle: CircuitBreaker, reader: InMemoryMetricReader
) -> None:
    transitions = collect(reader)["failover.transitions"]
    assert values(transitions, "provider", "source", "dest", "reason") == {
        ("gemini", "closed", "open", "consecutive_failures"): 1,
        ("gemini", "open", "half_open", "cooldown_elapsed"): 1,
        ("gemini", "half_open", "closed", "probes_succeeded"): 1,
    }
    assert len(lifecycle.events) == 3


def test_durations_of_admitted_calls_go_to_the_histogram(
    lifecycle: CircuitBreaker, reader: InMemoryMetricReader
) -> None:
    duration = collect(reader)["failover.call.duration"]
    assert duration.unit == "s"
    points = {p.attributes["outcome"]: p for p in duration.data.data_points}
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


def test_the_state_gauge_is_1_for_the_current_state_only(
    lifecycle: CircuitBreaker, reader: InMemoryMetricReader
) -> None:
    assert gauge(reader, "gemini") == current(BreakerState.CLOSED)
    lifecycle.force_open()
    assert gauge(reader, "gemini") == current(BreakerState.FORCED_OPEN)
    lifecycle.disable()
    assert gauge(reader, "gemini") == current(BreakerState.DISABLED)


def test_one_hook_tells_providers_apart(meter: Meter, reader: InMemoryMetricReader) -> None:
    hook = OpenTelemetryHook(meter)
    clock = ManualClock()
    gemini, _ = make(hook, name="gemini", clock=clock)
    brave, _ = make(hook, name="brave", clock=clock)
    gemini.call(ok)
    brave.call(ok)
    brave.call(ok)
    fails(brave, down, Unavailable)
    fails(brave, down, Unavailable)
    rejected(brave)
    metrics_ = collect(reader)
    assert values(metrics_["failover.calls"], "provider", "outcome") == {
        ("gemini", "success"): 1,
        ("brave", "success"): 2,
        ("brave", "failure"): 2,
    }
    assert values(metrics_["failover.calls.not_permitted"], "provider", "state") == {
        ("brave", "open"): 1
    }
    assert gauge(reader, "gemini") == current(BreakerState.CLOSED)
    assert gauge(reader, "brave") == current(BreakerState.OPEN)


def test_a_provider_first_heard_of_by_a_transition_or_a_rejection_is_in_the_gauge(
    meter: Meter, reader: InMemoryMetricReader
) -> None:
    hook = OpenTelemetryHook(meter)
    forced, _ = make(hook, name="forced")
    forced.force_open()
    assert gauge(reader, "forced") == current(BreakerState.FORCED_OPEN)
    hook.on_rejected("elsewhere", BreakerState.OPEN)
    assert gauge(reader, "elsewhere") == current(BreakerState.OPEN)
    assert gauge(reader, "never-used") == {}


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
    assert values(collect(reader)["failover.calls"], "provider", "outcome") == {
        ("gemini", "success"): 1
    }


# --- JsonLinesHook ------------------------------------------------------------------------------


def test_json_lines_are_written_and_flushed_one_per_event(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        breaker, clock = make(JsonLinesHook(stream))
        fails(breaker, down, Unavailable)
        assert path.read_text(encoding="utf-8") == ""  # no transition, no line
        fails(breaker, down, Unavailable)
        assert len(path.read_text(encoding="utf-8").splitlines()) == 1  # flushed at once
        clock.advance(10.0)
        breaker.call(ok)
        breaker.force_open()
        text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert len(text.splitlines()) == len(breaker.events) == 4
    assert events_from_jsonl(text) == list(breaker.events)


STEPS = st.sampled_from(["ok", "down", "bad", "wait", "force_open", "disable", "reset"])


@given(st.lists(STEPS, max_size=40))
def test_json_lines_read_back_as_the_breakers_events(steps: list[str]) -> None:
    stream = io.StringIO()
    breaker, clock = make(JsonLinesHook(stream))
    for step in steps:
        if step == "wait":
            clock.advance(10.0)
        elif step in {"force_open", "disable", "reset"}:
            getattr(breaker, step)()
        else:
            fn = {"ok": ok, "down": down, "bad": bad_request}[step]
            with contextlib.suppress(Unavailable, BadRequest, CallNotPermitted):
                breaker.call(fn)
    state = breaker.state  # first: reading it fires any due time-driven transition (L1)
    read = events_from_jsonl(stream.getvalue())
    assert read == list(breaker.events)
    assert [event.seq for event in read] == list(range(1, len(read) + 1))
    assert replay(read, POLICY) == state


def test_json_lines_hook_repr_names_its_stream(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        assert repr(JsonLinesHook(stream)) == f"JsonLinesHook({str(path)!r})"


# --- default hooks ------------------------------------------------------------------------------


def kinds(hooks: tuple[object, ...]) -> list[type]:
    return [type(hook) for hook in hooks]


def test_opentelemetry_is_installed_here_so_the_defaults_include_metrics() -> None:
    assert otel_available()
    assert kinds(default_hooks()) == [LoggingHook, OpenTelemetryHook]
    assert kinds(resolve_hooks(None)) == [LoggingHook, OpenTelemetryHook]
    assert resolve_hooks(()) == ()


def test_without_opentelemetry_the_defaults_are_logging_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(failover.telemetry, "otel_available", lambda: False)
    assert kinds(default_hooks()) == [LoggingHook]
    assert kinds(resolve_hooks(None)) == [LoggingHook]


def test_otel_available_asks_whether_the_metrics_api_can_be_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    find_spec = importlib.util.find_spec
    asked: list[str] = []

    def missing_otel(name: str, package: str | None = None) -> Any:
        asked.append(name)
        return None if name.startswith("opentelemetry") else find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", missing_otel)
    assert not otel_available()
    assert asked == ["opentelemetry.metrics"]
    assert kinds(default_hooks()) == [LoggingHook]
