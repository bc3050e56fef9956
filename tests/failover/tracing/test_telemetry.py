"""failover.telemetry: JSON lines read back as events, and the default hooks with and without
OpenTelemetry installed (the OpenTelemetryHook's metrics: test_metrics_otel.py)."""

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

import failover.telemetry
from failover import (
    BadRequest,
    BreakerPolicy,
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

# --- driving a breaker --------------------------------------------------------------------------


def make(
    *hooks: Any, name: str = "gemini", clock: ManualClock | None = None
) -> tuple[CircuitBreaker, ManualClock]:
    clock = clock if clock is not None else ManualClock()
    return CircuitBreaker(name, POLICY, clock=clock, hooks=hooks), clock


def ok() -> str:
    return "ok"


def down() -> str:
    raise Unavailable("503", provider="gemini")


def bad_request() -> str:
    raise BadRequest("prompt too long", provider="gemini")


def fails(breaker: CircuitBreaker, fn: Callable[[], str], error: type[Exception]) -> None:
    with pytest.raises(error):
        breaker.call(fn)


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
