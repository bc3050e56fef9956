"""failover.interop: a real pybreaker breaker's state changes as FailoverEvents.

pybreaker reads ``datetime.now(UTC)`` from its module: the tests swap that ``datetime`` for one
that reads a ManualClock, which also stamps the events, so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import logging
import sys
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pybreaker
import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import CallNotPermitted, CircuitBreaker, failure, success
from failover.clock import ManualClock
from failover.hooks import BreakerHook
from failover.interop import PYBREAKER_STATES, PybreakerListener, policy_for
from statemachines import (
    BreakerMachine,
    BreakerState,
    ConfigurationError,
    FailoverEvent,
    FailoverReason,
    Outcome,
    replay,
)

S, R = BreakerState, FailoverReason
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@contextlib.contextmanager
def pybreaker_reads(clock: ManualClock) -> Iterator[None]:
    """Make pybreaker read ``clock`` (as ``EPOCH + clock.monotonic()``), not the wall clock."""

    class FakeDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return EPOCH + dt.timedelta(seconds=clock.monotonic())

    with mock.patch.object(pybreaker, "datetime", FakeDatetime):
        yield


class ProviderDown(Exception):
    """The guarded call's failure."""


def ok() -> str:
    return "ok"


def down() -> str:
    raise ProviderDown


def attempt(cb: pybreaker.CircuitBreaker, fn: Any) -> object:
    """Call ``fn`` through ``cb``; the result, or the exception raised."""
    try:
        return cb.call(fn)
    except (ProviderDown, pybreaker.CircuitBreakerError) as exc:
        return exc


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    clock = ManualClock(start=100.0)
    with pybreaker_reads(clock):
        yield clock


def breaker(listener: PybreakerListener, **kwargs: Any) -> pybreaker.CircuitBreaker:
    settings = {"fail_max": 2, "reset_timeout": 30, "success_threshold": 2, "name": "search"}
    return pybreaker.CircuitBreaker(**(settings | kwargs), listeners=[listener])


def summary(events: tuple[FailoverEvent, ...]) -> list[tuple[Any, ...]]:
    return [(e.seq, e.source, e.dest, e.reason, e.trigger, e.at) for e in events]


def assert_replays(listener: PybreakerListener, cb: pybreaker.CircuitBreaker) -> None:
    assert [e.seq for e in listener.events] == list(range(1, len(listener.events) + 1))
    assert [e.generation for e in listener.events] == [e.seq for e in listener.events]
    assert replay(listener.events, policy_for(cb)) is PYBREAKER_STATES[cb.current_state]


def test_trip_probe_recover_and_reopen_become_events(clock: ManualClock) -> None:
    listener = PybreakerListener(hooks=(), clock=clock)
    cb = breaker(listener)
    assert isinstance(attempt(cb, down), ProviderDown)
    assert isinstance(attempt(cb, down), pybreaker.CircuitBreakerError)  # the trip
    assert_replays(listener, cb)
    clock.advance(30)
    assert attempt(cb, ok) == "ok"  # the first trial call
    assert_replays(listener, cb)
    clock.advance(1)
    assert attempt(cb, ok) == "ok"
    assert_replays(listener, cb)
    attempt(cb, down)
    attempt(cb, down)
    clock.advance(30)
    attempt(cb, down)  # the trial call fails
    assert_replays(listener, cb)
    assert summary(listener.events) == [
        (1, S.CLOSED, S.OPEN, R.CONSECUTIVE_FAILURES, "trip", 100.0),
        (2, S.OPEN, S.HALF_OPEN, R.COOLDOWN_ELAPSED, "probe", 130.0),
        (3, S.HALF_OPEN, S.CLOSED, R.PROBES_SUCCEEDED, "recover", 131.0),
        (4, S.CLOSED, S.OPEN, R.CONSECUTIVE_FAILURES, "trip", 131.0),
        (5, S.OPEN, S.HALF_OPEN, R.COOLDOWN_ELAPSED, "probe", 161.0),
        (6, S.HALF_OPEN, S.OPEN, R.PROBE_FAILED, "reopen", 161.0),
    ]
    assert {e.provider for e in listener.events} == {"search"}
    assert not any(e.details["synced"] for e in listener.events)


def test_calls_by_hand_are_manual(clock: ManualClock) -> None:
    listener = PybreakerListener(hooks=(), clock=clock)
    cb = breaker(listener)
    for method in ("open", "open", "half_open", "half_open", "close", "close", "half_open"):
        getattr(cb, method)()
        assert_replays(listener, cb)
    assert [(e.source, e.dest, e.reason, e.trigger) for e in listener.events] == [
        (S.CLOSED, S.OPEN, R.MANUAL, "open"),
        (S.OPEN, S.OPEN, R.MANUAL, "open"),
        (S.OPEN, S.HALF_OPEN, R.MANUAL, "half_open"),
        (S.HALF_OPEN, S.HALF_OPEN, R.MANUAL, "half_open"),
        (S.HALF_OPEN, S.CLOSED, R.MANUAL, "reset"),
        (S.CLOSED, S.CLOSED, R.MANUAL, "reset"),
        (S.CLOSED, S.HALF_OPEN, R.MANUAL, "half_open"),
    ]


def test_a_call_by_hand_inside_a_guarded_call_is_manual(clock: ManualClock) -> None:
    listener = PybreakerListener(hooks=(), clock=clock)
    cb = breaker(listener, fail_max=1)
    cb.call(cb.open)  # in CLOSED
    clock.advance(30)
    cb.call(cb.open)  # the trial call that moved OPEN -> HALF_OPEN opens it by hand
    assert [(e.source, e.dest, e.reason) for e in listener.events] == [
        (S.CLOSED, S.OPEN, R.MANUAL),
        (S.OPEN, S.HALF_OPEN, R.COOLDOWN_ELAPSED),
        (S.HALF_OPEN, S.OPEN, R.MANUAL),
    ]


def test_a_change_made_through_shared_storage_is_reported_when_noticed(
    clock: ManualClock,
) -> None:
    storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
    elsewhere = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=30, state_storage=storage)
    listener = PybreakerListener(hooks=(), clock=clock)
    here = breaker(listener, fail_max=1, state_storage=storage)
    attempt(elsewhere, down)
    assert isinstance(attempt(here, ok), pybreaker.CircuitBreakerError)
    (event,) = listener.events
    assert (event.source, event.dest, event.reason) == (S.CLOSED, S.OPEN, R.CONSECUTIVE_FAILURES)
    assert event.details["synced"] is True
    assert_replays(listener, here)


def test_hooks_get_every_event_in_order_and_one_that_raises_breaks_nothing(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    class Recorder(BreakerHook):
        def on_transition(self, event: FailoverEvent) -> None:
            seen.append(event.seq)

    def broken(event: FailoverEvent) -> None:
        raise RuntimeError("hook bug")

    listener = PybreakerListener(hooks=[broken, Recorder()], clock=clock)
    cb = breaker(listener, success_threshold=1)
    with caplog.at_level(logging.ERROR, logger="failover"):
        assert isinstance(attempt(cb, down), ProviderDown)
        assert isinstance(attempt(cb, down), pybreaker.CircuitBreakerError)
        clock.advance(30)
        assert attempt(cb, ok) == "ok"
    assert seen == [1, 2, 3]
    assert cb.current_state == pybreaker.STATE_CLOSED
    assert sum("hook bug" in r.exc_text for r in caplog.records if r.exc_text) == 3


def test_a_failing_listener_loses_the_event_but_not_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenClock(ManualClock):
        def monotonic(self) -> float:
            raise RuntimeError("clock bug")

    listener = PybreakerListener(hooks=(), clock=BrokenClock())
    cb = breaker(listener)
    with caplog.at_level(logging.ERROR, logger="failover"):
        cb.open()
        assert attempt(cb, ok) != "ok"
    assert cb.current_state == pybreaker.STATE_OPEN
    assert listener.events == ()
    assert "event lost" in caplog.text


@pytest.mark.asyncio
async def test_async_hooks_are_scheduled_on_the_running_loop(clock: ManualClock) -> None:
    seen: list[FailoverEvent] = []

    async def hook(event: FailoverEvent) -> None:
        seen.append(event)

    cb = breaker(PybreakerListener(hooks=[hook], clock=clock))
    cb.open()
    await asyncio.sleep(0)
    assert [e.dest for e in seen] == [S.OPEN]


def test_one_listener_numbers_each_breaker_on_its_own(clock: ManualClock) -> None:
    listener = PybreakerListener(hooks=(), clock=clock)
    first, second = breaker(listener, name="a"), breaker(listener, name=None)
    first.open()
    second.open()
    first.close()
    a = [e for e in listener.events if e.provider == "a"]
    b = [e for e in listener.events if e.provider != "a"]
    assert [e.seq for e in a] == [1, 2]
    assert [e.seq for e in b] == [1]
    assert b[0].provider.startswith("pybreaker-")


def test_a_given_name_and_a_bounded_history(clock: ManualClock) -> None:
    listener = PybreakerListener(hooks=(), clock=clock, name="gemini", history=2)
    cb = breaker(listener)
    for method in ("open", "close", "open"):
        getattr(cb, method)()
    assert [(e.provider, e.seq) for e in listener.events] == [("gemini", 2), ("gemini", 3)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": ""}, r"name must be a non-empty str or None, got ''"),
        ({"history": -1}, r"history must be an int >= 0, got -1"),
        ({"hooks": [42]}, r"hooks must hold callables taking a FailoverEvent .* got 42"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        PybreakerListener(**kwargs)


def test_without_pybreaker_the_import_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pybreaker", None)
    monkeypatch.delitem(sys.modules, "failover.interop")
    with pytest.raises(ImportError, match=r"pip install 'failover\[pybreaker\]'"):
        importlib.import_module("failover.interop")


# --- the listener's events are those of a BreakerMachine with the pybreaker preset ----------

steps = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.sampled_from([ok, down])),
        st.tuples(st.just("call"), st.sampled_from([ok, down])),
        st.tuples(st.just("advance"), st.sampled_from([0.5, 10.0, 29.5, 30.0, 31.0])),
        st.tuples(st.just("manual"), st.sampled_from(["open", "half_open", "close"])),
    ),
    min_size=5,
    max_size=40,
)
MANUAL = {"open": "open", "half_open": "half_open", "close": "reset"}


def machine_call(machine: BreakerMachine, fn: Any, now: float) -> None:
    generation = machine.admit(now)
    if generation is not None:
        machine.record(generation, Outcome.SUCCESS if fn is ok else Outcome.FAILURE, now)


@given(steps=steps, fail_max=st.integers(1, 4), success_threshold=st.integers(1, 3))
def test_listener_events_match_the_machine_with_the_pybreaker_policy(
    steps: list[tuple[str, Any]], fail_max: int, success_threshold: int
) -> None:
    clock = ManualClock()
    listener = PybreakerListener(hooks=(), clock=clock)
    cb = breaker(listener, fail_max=fail_max, success_threshold=success_threshold)
    ours: list[FailoverEvent] = []
    machine = BreakerMachine("search", policy_for(cb), on_event=ours.append)
    with pybreaker_reads(clock):
        for kind, arg in steps:
            if kind == "call":
                attempt(cb, arg)
                machine_call(machine, arg, clock.monotonic())
            elif kind == "advance":
                clock.advance(arg)
            else:
                getattr(cb, arg)()
                machine.fire(MANUAL[arg], clock.monotonic())
            assert_replays(listener, cb)
    fields = ("provider", "seq", "source", "dest", "reason", "at", "generation", "trigger")
    assert [tuple(getattr(e, f) for f in fields) for e in listener.events] == [
        tuple(getattr(e, f) for f in fields) for e in ours
    ]


# --- a failover.CircuitBreaker with the preset and pybreaker's classification ----------------


class NotMine(Exception):
    """An exception pybreaker is told to ``exclude``: it counts as a success there."""


class Stopped(BaseException):
    """Not an Exception (like KeyboardInterrupt): pybreaker counts it as a failure."""


RAISES: dict[str, type[BaseException] | None] = {
    "ok": None,
    "down": ProviderDown,
    "not_mine": NotMine,
    "stopped": Stopped,
}


def run_through(guard: Any, raises: str) -> bool:
    """Call through ``guard`` (a pybreaker or a failover breaker's ``call``); whether it ran."""
    ran = False

    def provider() -> None:
        nonlocal ran
        ran = True
        error = RAISES[raises]
        if error is not None:
            raise error

    rejected = (CallNotPermitted, pybreaker.CircuitBreakerError)
    with contextlib.suppress(*rejected, *filter(None, RAISES.values())):
        guard(provider)
    return ran


@given(
    calls=st.lists(st.sampled_from([*RAISES, "wait", "wait"]), min_size=5, max_size=40),
    fail_max=st.integers(1, 4),
    success_threshold=st.integers(1, 3),
)
def test_a_failover_breaker_with_the_preset_and_classifier_behaves_like_pybreaker(
    calls: list[str], fail_max: int, success_threshold: int
) -> None:
    clock = ManualClock()
    theirs = pybreaker.CircuitBreaker(fail_max, 30, success_threshold, exclude=[NotMine])
    ours = CircuitBreaker(
        "search",
        policy_for(theirs),
        clock=clock,
        classifier=success(NotMine) | failure(BaseException),
        hooks=(),
    )
    with pybreaker_reads(clock):
        for step in calls:
            if step == "wait":
                clock.advance(30)
                continue
            ran = run_through(theirs.call, step)
            assert run_through(ours.call, step) == ran
            assert ours.state is PYBREAKER_STATES[theirs.current_state]


def test_a_subclass_overriding_pybreakers_methods_keeps_the_reasons(clock: ManualClock) -> None:
    class Audited(pybreaker.CircuitBreaker):
        def open(self) -> bool:
            return super().open()

        def close(self) -> None:
            super().close()

    listener = PybreakerListener(hooks=(), clock=clock)
    cb = Audited(fail_max=1, reset_timeout=30, listeners=[listener])
    attempt(cb, down)
    clock.advance(30)
    attempt(cb, ok)
    cb.open()
    assert [e.reason for e in listener.events] == [
        R.CONSECUTIVE_FAILURES,
        R.COOLDOWN_ELAPSED,
        R.PROBES_SUCCEEDED,
        R.MANUAL,
    ]
