"""``pybreaker_compatible`` against the real pybreaker: a differential test, and the preset's pins.

The same steps (a call that succeeds or fails, time passing, pybreaker's manual ``open()``,
``half_open()`` and ``close()``) go to a ``pybreaker.CircuitBreaker`` and to a
``BreakerMachine`` with the preset; after every step both must be in the same state, have let the
same call through, count the same failures (CLOSED) or successes (HALF_OPEN), and have made the
same state changes. pybreaker reads ``datetime.now(UTC)`` from its module: the test swaps that
``datetime`` for one driven by a fake clock, so nothing sleeps.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pybreaker
import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachines import (
    PYBREAKER_REMOVED_TRANSITIONS,
    BreakerMachine,
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    FailoverEvent,
    FailoverReason,
    Outcome,
    consecutive_failures,
    pybreaker_compatible,
    replay,
)
from statemachines._verify import verify_policy

STATES = {
    pybreaker.STATE_CLOSED: BreakerState.CLOSED,
    pybreaker.STATE_OPEN: BreakerState.OPEN,
    pybreaker.STATE_HALF_OPEN: BreakerState.HALF_OPEN,
}
# pybreaker's methods and the preset's MANUAL transitions that mirror them
MANUAL = {"open": "open", "half_open": "half_open", "close": "reset"}
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
QUARTER = 0.25  # time moves in quarter seconds: exact in floats and in datetime's microseconds


class FakeTime:
    """The time pybreaker sees: ``EPOCH + now`` seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def datetime(self) -> type[dt.datetime]:
        """A ``datetime`` class whose ``now()`` reads this fake time."""
        fake = self

        class FakeDatetime(dt.datetime):
            @classmethod
            def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
                return EPOCH + dt.timedelta(seconds=fake.now)

        return FakeDatetime


@contextlib.contextmanager
def pybreaker_time(time: FakeTime) -> Iterator[None]:
    """Make pybreaker read ``time`` instead of the wall clock."""
    with mock.patch.object(pybreaker, "datetime", time.datetime()):
        yield


class ProviderDown(Exception):
    """The guarded call's failure."""


class Changes(pybreaker.CircuitBreakerListener):
    """Records pybreaker's state changes as (source, dest) pairs of our states, and when it
    last opened."""

    def __init__(self, time: FakeTime) -> None:
        self.time = time
        self.seen: list[tuple[BreakerState, BreakerState]] = []
        self.opened_at = 0.0

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        self.seen.append((STATES[old_state.name], STATES[new_state.name]))
        if new_state.name == pybreaker.STATE_OPEN:
            self.opened_at = self.time.now


def pybreaker_call(cb: pybreaker.CircuitBreaker, succeed: bool) -> bool:
    """Call through ``cb``; whether the call reached the function."""
    ran = False

    def provider() -> str:
        nonlocal ran
        ran = True
        if not succeed:
            raise ProviderDown
        return "ok"

    try:
        assert cb.call(provider) == "ok"
    except pybreaker.CircuitBreakerError:
        pass  # a rejection, or the failure that opened the breaker
    except ProviderDown:
        assert ran
    return ran


def machine_call(machine: BreakerMachine, succeed: bool, now: float) -> bool:
    """The same call through the machine: admit, then record; whether it was admitted."""
    generation = machine.admit(now)
    if generation is None:
        return False
    outcome = Outcome.SUCCESS if succeed else Outcome.FAILURE
    assert machine.record(generation, outcome, now)
    return True


class Pair:
    """A pybreaker breaker and our machine, fed the same steps."""

    def __init__(self, fail_max: int, reset_timeout: float, success_threshold: int) -> None:
        self.time = FakeTime()
        self.changes = Changes(self.time)
        self.reset_timeout = reset_timeout
        self.cb = pybreaker.CircuitBreaker(
            fail_max, reset_timeout, success_threshold, listeners=[self.changes]
        )
        self.events: list[FailoverEvent] = []
        self.policy = pybreaker_compatible(fail_max, reset_timeout, success_threshold)
        self.machine = BreakerMachine("p", self.policy, on_event=self.events.append)

    def call(self, succeed: bool) -> None:
        theirs = pybreaker_call(self.cb, succeed)
        ours = machine_call(self.machine, succeed, self.time.now)
        assert ours == theirs, f"pybreaker {'let' if theirs else 'did not let'} the call through"

    def advance(self, seconds: float) -> None:
        self.time.now += seconds

    def wait_out(self, offset: float) -> None:
        """If pybreaker is OPEN, move time to ``offset`` seconds from the end of its timeout."""
        if self.cb.current_state == pybreaker.STATE_OPEN:
            end = self.changes.opened_at + self.reset_timeout + offset
            self.time.now = max(self.time.now, end)

    def manual(self, method: str) -> None:
        getattr(self.cb, method)()
        self.machine.fire(MANUAL[method], self.time.now)

    def assert_agree(self) -> None:
        state = STATES[self.cb.current_state]
        assert self.machine.state is state
        if state is BreakerState.CLOSED:
            assert self.machine.consecutive_failures == self.cb.fail_counter
        if state is BreakerState.HALF_OPEN:
            assert self.machine.probes_succeeded == self.cb.success_counter
        assert [(e.source, e.dest) for e in self.events] == self.changes.seen
        assert replay(self.events, self.policy) is state


Step = tuple[str, Any]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[tuple[int, float, int], list[Step]]:
    """pybreaker's arguments and a list of steps; time hits the end of an opening exactly, often
    ("wait_out")."""
    reset_timeout = draw(st.integers(4, 400)) * QUARTER  # 1 s to 100 s
    args = (draw(st.integers(1, 6)), reset_timeout, draw(st.integers(1, 4)))
    waits = st.one_of(
        st.sampled_from([reset_timeout, reset_timeout - QUARTER, reset_timeout + QUARTER]),
        st.integers(0, 1000).map(lambda q: q * QUARTER),
    )
    call = st.tuples(st.just("call"), st.booleans())
    step = st.one_of(
        call,
        call,  # twice: calls are what moves a breaker
        st.tuples(st.just("calls"), st.tuples(st.booleans(), st.integers(2, 6))),
        st.tuples(st.just("wait_out"), st.sampled_from([-QUARTER, 0.0, QUARTER])),
        st.tuples(st.just("advance"), waits),
        st.tuples(st.just("manual"), st.sampled_from(sorted(MANUAL))),
    )
    return args, draw(st.lists(step, min_size=8, max_size=40))


@given(scenarios())
def test_pybreaker_compatible_behaves_like_pybreaker_step_by_step(
    scenario: tuple[tuple[int, float, int], list[Step]],
) -> None:
    args, steps = scenario
    pair = Pair(*args)
    with pybreaker_time(pair.time):
        for kind, arg in steps:
            if kind == "call":
                pair.call(arg)
            elif kind == "calls":
                succeed, times = arg
                for _ in range(times):
                    pair.call(succeed)
                    pair.assert_agree()
            elif kind == "advance":
                pair.advance(arg)
            elif kind == "wait_out":
                pair.wait_out(arg)
            else:
                pair.manual(arg)
            pair.assert_agree()


def test_the_differential_driver_sees_the_whole_cycle() -> None:
    # The property above is only as good as its driver: pin one full cycle through it.
    pair = Pair(fail_max=2, reset_timeout=10, success_threshold=2)
    with pybreaker_time(pair.time):
        for succeed in (False, True, False, False):
            pair.call(succeed)
            pair.assert_agree()
        pair.advance(9.75)
        pair.call(True)  # rejected by both
        pair.advance(QUARTER)
        pair.call(True)  # the first trial call
        pair.assert_agree()
        assert pair.machine.state is BreakerState.HALF_OPEN
        pair.call(True)
        pair.assert_agree()
    assert [e.dest for e in pair.events] == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]
    assert pair.machine.lifetime_rejected == 1


def test_preset_is_built_from_the_policy_knobs() -> None:
    policy = pybreaker_compatible(5, 60, success_threshold=3)
    assert policy.trip_condition == consecutive_failures(5)
    assert (policy.open_duration, policy.max_open_duration) == (60, 60)
    assert (policy.open_backoff, policy.open_jitter) == (1.0, 0.0)
    assert policy.half_open_max_calls == 3
    assert policy.removed_transitions == PYBREAKER_REMOVED_TRANSITIONS
    assert policy == pybreaker_compatible(5, 60, 3)


@pytest.mark.parametrize("args", [(1, 1, 1), (5, 60, 1), (6, 0.25, 4)])
def test_preset_verifies_clean(args: tuple[int, float, int]) -> None:
    report = verify_policy(pybreaker_compatible(*args))
    assert report.ok, str(report)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 60), r"pybreaker_compatible\(fail_max\) must be an int >= 1, got 0"),
        ((2.5, 60), r"pybreaker_compatible\(fail_max\) must be an int >= 1, got 2\.5"),
        ((True, 60), r"pybreaker_compatible\(fail_max\) must be an int >= 1, got True"),
        ((5, 0), r"pybreaker_compatible\(reset_timeout\) must be a finite number of seconds > 0"),
        ((5, "60"), r"pybreaker_compatible\(reset_timeout\) .* got '60'"),
        ((5, float("inf")), r"pybreaker_compatible\(reset_timeout\) .* got inf"),
        ((5, 60, 0), r"pybreaker_compatible\(success_threshold\) must be an int >= 1, got 0"),
    ],
)
def test_preset_rejects_bad_arguments(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        pybreaker_compatible(*args)


def tripped(policy: BreakerPolicy, failures: int = 1) -> BreakerMachine:
    """A machine opened by ``failures`` failures at t=0."""
    machine = BreakerMachine("p", policy)
    for _ in range(failures):
        machine.record(machine.admit(0.0) or 0, Outcome.FAILURE, 0.0)
    assert machine.state is BreakerState.OPEN
    return machine


def test_signals_do_not_trip_by_themselves() -> None:
    machine = BreakerMachine("p", pybreaker_compatible(3, 10))
    for signal in (FailoverReason.RATE_LIMITED, FailoverReason.AUTH_FAILED):
        machine.record(machine.admit(0.0) or 0, Outcome.FAILURE, 0.0, signal=signal)
    assert machine.state is BreakerState.CLOSED
    machine.record(machine.admit(0.0) or 0, Outcome.FAILURE, 0.0)
    assert machine.last_event is not None
    assert machine.last_event.reason is FailoverReason.CONSECUTIVE_FAILURES


def test_health_checks_change_no_state() -> None:
    closed = BreakerMachine("p", pybreaker_compatible(1, 10))
    opened = tripped(pybreaker_compatible(1, 10))
    for _ in range(5):
        assert closed.health_check(False, 1.0) is None
        assert opened.health_check(True, 1.0) is None
    assert (closed.state, opened.state) == (BreakerState.CLOSED, BreakerState.OPEN)


def test_half_open_waits_for_its_calls_however_long() -> None:
    machine = tripped(pybreaker_compatible(1, 10, success_threshold=2))
    assert machine.admit(10.0) is not None
    assert machine.tick(10.0 + 10**9) is None
    assert machine.state is BreakerState.HALF_OPEN
    assert machine.retry_at == 20.0  # the hint given to a call rejected while probes run


def test_half_open_admits_success_threshold_probes_at_once() -> None:
    machine = tripped(pybreaker_compatible(1, 10, success_threshold=3))
    admitted = [machine.admit(10.0) for _ in range(4)]
    assert admitted[3] is None
    assert None not in admitted[:3]


def test_openings_do_not_back_off() -> None:
    machine = tripped(pybreaker_compatible(1, 10))
    for opened_at in (10.0, 20.0, 30.0):
        generation = machine.admit(opened_at)
        assert generation is not None
        machine.record(generation, Outcome.FAILURE, opened_at)
        assert machine.deadline == opened_at + 10
