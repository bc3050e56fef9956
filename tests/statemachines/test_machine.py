"""BreakerMachine's API beyond the transition table: construction, snapshots, fire, tick,
lifetime counters, the event listener, record_success and the hot path (a CLOSED record that
changes no state never calls into ``transitions``)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import transitions

from statemachines import (
    BreakerMachine,
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    CountWindow,
    FailoverEvent,
    FailoverReason,
    IllegalTransitionError,
    MachineSnapshot,
    Outcome,
    ProviderHealth,
    Stimulus,
    TimeWindow,
    Transition,
)

S, R = BreakerState, FailoverReason
OK, FAIL, SLOW, IGNORED = Outcome.SUCCESS, Outcome.FAILURE, Outcome.SLOW_FAILURE, Outcome.IGNORED
POLICY = BreakerPolicy(open_jitter=0.0)


def call(m: BreakerMachine, outcome: Outcome, now: float = 1.0, **kwargs: Any) -> bool:
    generation = m.admit(now)
    assert generation is not None
    return m.record(generation, outcome, now, **kwargs)


# --- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["", 5, None, b"gemini"])
def test_the_provider_must_be_a_non_empty_str(provider: Any) -> None:
    with pytest.raises(
        ConfigurationError, match=rf"provider must be a non-empty str, got {provider!r}"
    ):
        BreakerMachine(provider)


@pytest.mark.parametrize("policy", [{"minimum_calls": 3}, BreakerPolicy, "default", 3])
def test_a_policy_of_the_wrong_type_shows_the_right_call(policy: Any) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"policy must be a BreakerPolicy, got .*; "
        r"build one with BreakerPolicy\(failure_rate_threshold=\.\.\., \.\.\.\)",
    ):
        BreakerMachine("p", policy)


def test_a_new_machine_is_closed_at_generation_zero() -> None:
    m = BreakerMachine("gemini", now=12.5)
    assert m.policy == BreakerPolicy()
    assert (m.provider, m.state, m.health) == ("gemini", S.CLOSED, ProviderHealth.HEALTHY)
    assert (m.generation, m.seq, m.entered_at, m.deadline, m.retry_at) == (0, 0, 12.5, None, None)
    assert m.last_event is None


def test_repr() -> None:
    m = BreakerMachine("gemini", POLICY)
    assert repr(m) == "<BreakerMachine 'gemini' closed generation=0 seq=0>"
    m.force_open(1.0)
    assert repr(m) == "<BreakerMachine 'gemini' forced_open generation=1 seq=1>"


# --- snapshot -----------------------------------------------------------------------------------


def test_snapshot_copies_every_figure() -> None:
    m = BreakerMachine("p", POLICY.with_changes(max_consecutive_failures=5))
    call(m, OK)
    call(m, FAIL)
    call(m, SLOW)
    snap = m.snapshot()
    assert isinstance(snap, MachineSnapshot)
    assert attrs.asdict(snap, recurse=False) == {
        f.name: getattr(m, f.name) for f in attrs.fields(MachineSnapshot)
    }
    assert (snap.calls, snap.failures, snap.slow_calls) == (3, 2, 1)
    assert snap.failure_rate == pytest.approx(2 / 3)
    assert snap.slow_call_rate == pytest.approx(1 / 3)
    assert (snap.consecutive_failures, snap.consecutive_successes) == (2, 0)
    call(m, OK)
    assert snap.calls == 3  # a copy, not a view
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.calls = 0  # type: ignore[misc]


def test_snapshot_in_half_open_counts_probes() -> None:
    m = BreakerMachine("p", POLICY.with_changes(half_open_max_calls=3))
    call(m, FAIL, signal=R.AUTH_FAILED)
    m.health_check(True, 2.0)
    first, second = m.admit(2.0), m.admit(2.0)
    assert first == second == 2
    m.record(2, OK, 3.0)
    snap = m.snapshot()
    assert (snap.state, snap.health) == (S.HALF_OPEN, ProviderHealth.DEGRADED)
    assert (snap.probes_admitted, snap.probes_in_flight, snap.probes_succeeded) == (2, 1, 1)
    assert snap.deadline == m.retry_at == 2.0 + POLICY.max_half_open_duration


# --- fire ---------------------------------------------------------------------------------------

DRAIN = Transition("drain", S.OPEN, S.DISABLED, R.MANUAL, on=Stimulus.MANUAL)


@pytest.mark.parametrize("name", ["bogus", "probe", "trip", "recover", "drain"])
def test_fire_of_a_trigger_not_declared_from_here(name: str) -> None:
    m = BreakerMachine("p", POLICY.with_changes(transitions=[DRAIN]))
    with pytest.raises(
        IllegalTransitionError, match=rf"transition {name!r} is not declared from state 'closed'"
    ) as info:
        m.fire(name, 1.0)
    assert not isinstance(info.value, transitions.MachineError)
    assert (info.value.name, info.value.source, info.value.dest) == (name, "closed", None)
    assert (m.state, m.seq) == (S.CLOSED, 0)


def test_fire_a_policy_s_own_manual_transition() -> None:
    m = BreakerMachine("p", POLICY.with_changes(transitions=[DRAIN]))
    call(m, FAIL, signal=R.AUTH_FAILED)
    event = m.fire("drain", 2.0)
    assert (event.source, event.dest, event.reason, event.trigger) == (
        S.OPEN,
        S.DISABLED,
        R.MANUAL,
        "drain",
    )
    assert m.state is S.DISABLED


# --- tick ---------------------------------------------------------------------------------------


def test_tick_returns_the_event_or_none() -> None:
    m = BreakerMachine("p", POLICY)
    assert m.tick(1e6) is None  # CLOSED has nothing time-driven
    call(m, FAIL, now=10.0, signal=R.AUTH_FAILED)
    assert m.tick(39.0) is None
    event = m.tick(40.0)
    assert event is m.last_event
    assert event is not None
    assert (event.source, event.dest, event.reason) == (S.OPEN, S.HALF_OPEN, R.COOLDOWN_ELAPSED)
    assert m.tick(41.0) is None
    assert m.probes_admitted == 0  # a tick admits nothing


# --- counters -----------------------------------------------------------------------------------


def test_lifetime_counters() -> None:
    m = BreakerMachine("p", POLICY.with_changes(max_consecutive_failures=2))
    call(m, OK)
    call(m, Outcome.SLOW_SUCCESS)
    assert call(m, IGNORED) is False
    call(m, SLOW)
    call(m, FAIL)  # 2 failures in a row: OPEN
    assert m.state is S.OPEN
    assert m.admit(2.0) is None
    assert m.record(0, FAIL, 2.0) is False  # a call of generation 0: stale
    assert m.record(0, IGNORED, 2.0) is False
    snap = m.snapshot()
    assert (snap.lifetime_calls, snap.lifetime_failures, snap.lifetime_slow) == (5, 3, 2)
    assert (snap.lifetime_ignored, snap.lifetime_stale, snap.lifetime_rejected) == (2, 1, 1)


def test_ignored_records_nothing_and_a_cancelled_probe_frees_its_permit() -> None:
    m = BreakerMachine("p", POLICY)
    assert call(m, IGNORED) is False
    assert (m.calls, m.consecutive_failures, m.consecutive_successes) == (0, 0, 0)
    call(m, FAIL, signal=R.AUTH_FAILED)
    m.health_check(True, 2.0)
    generation = m.admit(2.0)
    assert generation is not None
    assert m.admit(2.0) is None  # half_open_max_calls = 1
    m.record(generation, IGNORED, 2.0)
    assert m.probes_in_flight == 0
    assert m.admit(2.0) == generation
    assert m.state is S.HALF_OPEN


# --- the event listener --------------------------------------------------------------------------


def test_on_event_is_called_once_per_transition_in_seq_order() -> None:
    seen: list[tuple[int, object]] = []

    def listen(event: FailoverEvent) -> None:
        seen.append((event.seq, m.state))  # the machine is already in the new state

    m = BreakerMachine("p", POLICY, on_event=listen)
    call(m, FAIL, signal=R.RATE_LIMITED)
    m.admit(100.0)
    m.record(2, OK, 100.0)
    m.disable(101.0)
    m.reset(102.0)
    assert seen == [(1, S.OPEN), (2, S.HALF_OPEN), (3, S.CLOSED), (4, S.DISABLED), (5, S.CLOSED)]
    assert m.last_event is not None
    assert m.last_event.seq == 5


def test_an_exception_from_on_event_is_not_swallowed() -> None:
    def listen(event: FailoverEvent) -> None:
        raise RuntimeError(f"listener failed on seq {event.seq}")

    m = BreakerMachine("p", POLICY, on_event=listen)
    with pytest.raises(RuntimeError, match="listener failed on seq 1"):
        m.force_open(1.0)


def test_events_carry_the_provider_and_the_figures_behind_the_decision() -> None:
    m = BreakerMachine("gemini", POLICY)
    call(m, FAIL, now=3.0, signal=R.RATE_LIMITED, retry_after=90.0)
    event = m.last_event
    assert event is not None
    assert (event.provider, event.at, event.generation) == ("gemini", 3.0, 1)
    assert event.details["trigger"] == "trip_rate_limited"
    assert event.details["retry_after"] == 90.0
    assert event.details["deadline"] == 93.0
    assert (event.details["calls"], event.details["failures"]) == (1, 1)


# --- record_success, the runtime's fast path ----------------------------------------------------


def success(m: BreakerMachine, now: float, *, fast: bool) -> bool:
    generation = m.admit(now)
    assert generation is not None
    return m.record_success(generation, now) if fast else m.record(generation, OK, now)


@pytest.mark.parametrize("fast", [False, True])
def test_the_success_that_reaches_minimum_calls_can_trip(fast: bool) -> None:
    m = BreakerMachine("p", POLICY.with_changes(minimum_calls=4, window=CountWindow(10)))
    for outcome in (FAIL, FAIL, OK):
        call(m, outcome)
    assert m.state is S.CLOSED  # 3 calls < minimum_calls
    assert success(m, 2.0, fast=fast) is True  # 2 failed of 4
    assert (m.state, m.last_event and m.last_event.reason) == (S.OPEN, R.ERROR_RATE)


@pytest.mark.parametrize("fast", [False, True])
def test_a_success_trips_once_older_successes_left_a_time_window(fast: bool) -> None:
    m = BreakerMachine("p", POLICY.with_changes(minimum_calls=2, window=TimeWindow(10.0, 10)))
    for outcome, now in [(OK, 0.0), (OK, 0.0), (OK, 0.0), (FAIL, 9.0), (FAIL, 9.0)]:
        call(m, outcome, now)
    assert (m.state, m.calls) == (S.CLOSED, 5)  # 2 failed of 5
    assert success(m, 12.0, fast=fast) is True  # the successes of t=0 left: 2 failed of 3
    assert (m.state, m.last_event and m.last_event.reason) == (S.OPEN, R.ERROR_RATE)


@pytest.mark.parametrize("state", [S.HALF_OPEN, S.DISABLED, S.FORCED_OPEN])
def test_record_success_outside_closed_is_record(state: BreakerState) -> None:
    fast, slow = (BreakerMachine("p", POLICY) for _ in range(2))
    for m in (fast, slow):
        call(m, FAIL, signal=R.AUTH_FAILED)
        m.health_check(True, 2.0)  # HALF_OPEN
        if state is not S.HALF_OPEN:
            m.fire({S.DISABLED: "disable", S.FORCED_OPEN: "force_open"}[state], 2.0)
        m.admit(2.0)
        assert m.state is state
    assert fast.record_success(fast.generation, 3.0) == slow.record(slow.generation, OK, 3.0)
    assert fast.record_success(0, 3.0) is slow.record(0, OK, 3.0) is False  # stale
    assert fast.snapshot() == slow.snapshot()


# --- the hot path -------------------------------------------------------------------------------


def spy_on_triggers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of every ``transitions`` trigger fired from now on."""
    fired: list[str] = []
    original = transitions.core.Event.trigger

    def trigger(self: transitions.core.Event, model: object, *args: Any, **kwargs: Any) -> Any:
        fired.append(self.name)
        return original(self, model, *args, **kwargs)

    monkeypatch.setattr(transitions.core.Event, "trigger", trigger)
    return fired


def test_a_closed_record_that_changes_no_state_never_calls_transitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fired = spy_on_triggers(monkeypatch)
    events: list[FailoverEvent] = []
    m = BreakerMachine("p", POLICY, on_event=events.append)
    for i in range(3000):  # 1 call in 6 fails, 2 are slow, none twice in a row: no rule holds
        call(m, FAIL if i % 3 == 0 else Outcome.SLOW_SUCCESS, now=float(i))
        success(m, float(i), fast=True)  # the runtime's fast path
    assert fired == []
    assert events == []
    for _ in range(3):
        call(m, FAIL, now=3000.0)
    assert len(fired) == len(events) == 1


def test_transitions_fires_exactly_once_per_transition(monkeypatch: pytest.MonkeyPatch) -> None:
    fired = spy_on_triggers(monkeypatch)
    events: list[FailoverEvent] = []
    m = BreakerMachine("p", POLICY, on_event=events.append)
    call(m, FAIL, signal=R.AUTH_FAILED)
    m.health_check(True, 2.0)
    call(m, OK, now=2.0)
    m.force_open(3.0)
    m.reset(4.0)
    reasons = [R.AUTH_FAILED, R.HEALTH_CHECK_PASSED, R.PROBES_SUCCEEDED, R.MANUAL, R.MANUAL]
    assert [e.reason for e in events] == reasons
    assert len(fired) == len(events)
