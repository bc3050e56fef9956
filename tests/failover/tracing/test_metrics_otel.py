"""OpenTelemetryHook: metrics read from the breakers when collected, through the SDK's in-memory
reader. Counts are exactly what the callers saw; names follow the semantic conventions; the
default configuration runs nothing per call (the duration histogram: test_metrics_durations.py)."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import failover.telemetry
from failover import (
    BadRequest,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
    FailoverEvent,
    ManualClock,
    Unavailable,
)
from failover._base.hooks import overrides
from failover.telemetry import OpenTelemetryHook, default_hooks
from statemachines import FailoverReason
from tests.failover.tracing._metrics_support import (
    NO_CALLS,
    NOT_PERMITTED,
    POLICY,
    PROVIDER,
    STATE,
    bad_request,
    calls,
    collect,
    current,
    down,
    fails,
    lifecycle,
    make,
    ok,
    rejected,
    states,
    values,
)


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter(reader: InMemoryMetricReader) -> Meter:
    return MeterProvider(metric_readers=[reader]).get_meter("failover")


@pytest.fixture
def lived(meter: Meter, reader: InMemoryMetricReader) -> CircuitBreaker:
    breaker, clock = make(OpenTelemetryHook(meter))
    lifecycle(breaker, clock, reader)
    return breaker


# --- what is counted ----------------------------------------------------------------------------


def test_calls_are_counted_by_provider_and_outcome(
    lived: CircuitBreaker, reader: InMemoryMetricReader
) -> None:
    assert calls(reader, "gemini") == {
        **NO_CALLS,
        "success": 4,  # 3 calls, then the probe
        "slow_success": 1,
        "ignored": 1,
        "failure": 2,
    }
    metric = collect(reader)["failover.breaker.calls"]
    assert metric.unit == "{call}"
    assert metric.data.is_monotonic


def test_rejections_are_counted_by_the_state_that_rejected_with_error_type(
    lived: CircuitBreaker, reader: InMemoryMetricReader
) -> None:
    metric = collect(reader)["failover.breaker.rejections"]
    assert values(metric, PROVIDER, STATE, "error.type") == {
        ("gemini", "open", NOT_PERMITTED): 2,
        ("gemini", "half_open", NOT_PERMITTED): 1,
    }
    assert (metric.unit, metric.data.is_monotonic) == ("{rejection}", True)


def test_transitions_are_counted_by_source_dest_and_reason(
    lived: CircuitBreaker, reader: InMemoryMetricReader
) -> None:
    metric = collect(reader)["failover.breaker.transitions"]
    keys = ("source", "dest", "reason")
    assert values(metric, PROVIDER, *(f"failover.transition.{k}" for k in keys)) == {
        ("gemini", "closed", "open", "consecutive_failures"): 1,
        ("gemini", "open", "half_open", "cooldown_elapsed"): 1,
        ("gemini", "half_open", "closed", "probes_succeeded"): 1,
    }
    assert len(lived.events) == 3
    assert (metric.unit, metric.data.is_monotonic) == ("{transition}", True)


def test_the_state_counter_follows_every_transition(
    lived: CircuitBreaker, reader: InMemoryMetricReader
) -> None:
    assert states(reader, "gemini") == current(BreakerState.CLOSED)
    lived.force_open()
    assert states(reader, "gemini") == current(BreakerState.FORCED_OPEN)
    lived.disable()
    assert states(reader, "gemini") == current(BreakerState.DISABLED)
    metric = collect(reader)["failover.breaker.state"]
    assert (metric.unit, metric.data.is_monotonic) == ("{breaker}", False)


def test_reading_the_state_fires_a_due_cooldown(meter: Meter, reader: InMemoryMetricReader) -> None:
    breaker, clock = make(OpenTelemetryHook(meter))
    fails(breaker, down, Unavailable)
    fails(breaker, down, Unavailable)
    clock.advance(10.0)  # no call: the collection reads the state, which moves it (L1)
    assert states(reader, "gemini") == current(BreakerState.HALF_OPEN)
    assert [event.dest for event in breaker.events] == [BreakerState.OPEN, BreakerState.HALF_OPEN]


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
    assert calls(reader, "gemini") == {**NO_CALLS, "success": 1}
    assert calls(reader, "brave") == {**NO_CALLS, "success": 2, "failure": 2}
    rejections = values(
        collect(reader)["failover.breaker.rejections"], PROVIDER, STATE, "error.type"
    )
    assert rejections == {("brave", "open", NOT_PERMITTED): 1}
    assert states(reader, "gemini") == current(BreakerState.CLOSED)
    assert states(reader, "brave") == current(BreakerState.OPEN)


def test_breakers_of_one_provider_are_summed(meter: Meter, reader: InMemoryMetricReader) -> None:
    hook = OpenTelemetryHook(meter)
    first, _ = make(hook)
    second, _ = make(hook)
    first.call(ok)
    second.call(ok)
    second.force_open()
    assert calls(reader, "gemini") == {**NO_CALLS, "success": 2}
    assert states(reader, "gemini") == {
        **current(BreakerState.CLOSED),
        BreakerState.FORCED_OPEN.value: 1,
    }
    first.force_open()
    assert states(reader, "gemini") == current(BreakerState.FORCED_OPEN, breakers=2)


def test_a_breaker_gone_keeps_its_counts_and_leaves_the_state_counter(
    meter: Meter, reader: InMemoryMetricReader
) -> None:
    hook = OpenTelemetryHook(meter)
    kept, _ = make(hook)
    gone, _ = make(hook)
    kept.call(ok)
    gone.call(ok)
    fails(gone, down, Unavailable)
    gone.force_open()
    rejected(gone)
    assert calls(reader, "gemini") == {**NO_CALLS, "success": 2, "failure": 1}
    del gone
    gc.collect()
    assert calls(reader, "gemini") == {**NO_CALLS, "success": 2, "failure": 1}  # still monotonic
    rejections = values(
        collect(reader)["failover.breaker.rejections"], PROVIDER, STATE, "error.type"
    )
    assert rejections == {("gemini", "forced_open", NOT_PERMITTED): 1}
    assert states(reader, "gemini") == current(BreakerState.CLOSED)


def test_a_provider_heard_of_only_by_its_transitions_is_in_the_state_counter(
    meter: Meter, reader: InMemoryMetricReader
) -> None:
    hook = OpenTelemetryHook(meter)  # as a PybreakerListener gives it events, and no breaker
    event = FailoverEvent(
        "elsewhere", 1, BreakerState.CLOSED, BreakerState.OPEN, FailoverReason.MANUAL, 1.0, 1
    )
    hook.on_transition(event)
    assert states(reader, "elsewhere") == current(BreakerState.OPEN)
    assert states(reader, "never-used") == {}
    assert "failover.breaker.calls" not in collect(reader)  # no breaker, no calls


# --- the default configuration: nothing per call -------------------------------------------------


def test_the_default_hooks_run_nothing_per_call() -> None:
    for hook in default_hooks():
        assert not overrides(hook, "on_call")
        assert not overrides(hook, "on_rejected")


def test_the_default_configuration_counts_exactly_what_the_callers_saw(
    meter: Meter, reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(failover.telemetry._shared, "otel", OpenTelemetryHook(meter))
    clock = ManualClock()
    breaker = CircuitBreaker("gemini", POLICY, clock=clock)  # hooks=None: the defaults
    guarded = breaker(ok)
    for _ in range(5):
        breaker.call(ok)
        guarded()
    asyncio.run(breaker.acall(asyncio.sleep, 0))
    fails(breaker, down, Unavailable)
    fails(breaker, down, Unavailable)
    for _ in range(3):
        rejected(breaker)
    assert calls(reader, "gemini") == {**NO_CALLS, "success": 11, "failure": 2}
    rejections = values(
        collect(reader)["failover.breaker.rejections"], PROVIDER, STATE, "error.type"
    )
    assert rejections == {("gemini", "open", NOT_PERMITTED): 3}
    assert "failover.breaker.call.duration" not in collect(reader)


STEPS = st.sampled_from(["ok", "down", "bad", "wait", "force_open", "reset"])


@given(st.lists(STEPS, max_size=40))
def test_any_sequence_is_counted_as_the_caller_saw_it(steps: list[str]) -> None:
    reader = InMemoryMetricReader()
    hook = OpenTelemetryHook(MeterProvider(metric_readers=[reader]).get_meter("failover"))
    breaker, clock = make(hook)
    seen: Counter[str] = Counter()
    refused: Counter[tuple[str, str, str]] = Counter()
    for step in steps:
        if step == "wait":
            clock.advance(10.0)
        elif step in {"force_open", "reset"}:
            getattr(breaker, step)()
        else:
            fn = {"ok": ok, "down": down, "bad": bad_request}[step]
            outcome = {"ok": "success", "down": "failure", "bad": "ignored"}[step]
            try:
                breaker.call(fn)
            except CallNotPermitted as exc:
                refused["gemini", exc.state.value, NOT_PERMITTED] += 1
                continue
            except (Unavailable, BadRequest):
                pass
            seen[outcome] += 1
    assert calls(reader, "gemini") == {**NO_CALLS, **seen}
    metrics_ = collect(reader)
    found = metrics_.get("failover.breaker.rejections")
    assert (values(found, PROVIDER, STATE, "error.type") if found else {}) == dict(refused)
