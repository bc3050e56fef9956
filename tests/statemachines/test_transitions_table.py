"""One test per row of the transition table (docs/semantics.md), then open durations and jitter.

Each row's test asserts the exact event (source, dest, reason, seq, generation, at) and the
condition's boundary: one outcome short, nothing happens.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachines import (
    BreakerMachine,
    BreakerPolicy,
    BreakerState,
    CountWindow,
    FailoverEvent,
    FailoverReason,
    Outcome,
)

S, R = BreakerState, FailoverReason
OK, FAIL, SLOW = Outcome.SUCCESS, Outcome.FAILURE, Outcome.SLOW_SUCCESS


def machine(**changes: Any) -> tuple[BreakerMachine, list[FailoverEvent]]:
    """A machine named "p" with open_jitter=0 (exact deadlines), and the list of its events."""
    events: list[FailoverEvent] = []
    policy = BreakerPolicy(**{"open_jitter": 0.0, **changes})
    return BreakerMachine("p", policy, on_event=events.append), events


def feed(m: BreakerMachine, outcomes: Iterable[Outcome], now: float = 1.0) -> None:
    """Admit and record one call per outcome, at ``now``."""
    for outcome in outcomes:
        generation = m.admit(now)
        assert generation is not None
        m.record(generation, outcome, now)


def summary(event: FailoverEvent) -> tuple[object, ...]:
    return event.source, event.dest, event.reason, event.seq, event.generation, event.at


def to_open(m: BreakerMachine, now: float = 1.0) -> None:
    """CLOSED -> OPEN through an AUTH_FAILED outcome."""
    generation = m.admit(now)
    assert generation is not None
    m.record(generation, FAIL, now, signal=R.AUTH_FAILED)
    assert m.state is S.OPEN


def to_half_open(m: BreakerMachine, now: float = 1.0) -> None:
    """CLOSED -> OPEN -> HALF_OPEN (through a passing health check: no probe permit used)."""
    to_open(m, now)
    m.health_check(True, now)
    assert m.state is S.HALF_OPEN


def probe(m: BreakerMachine, outcome: Outcome, now: float = 1.0, **kwargs: Any) -> None:
    generation = m.admit(now)
    assert generation is not None
    m.record(generation, outcome, now, **kwargs)


# --- CLOSED -> OPEN -----------------------------------------------------------------------------


def test_trip_error_rate_needs_minimum_calls() -> None:
    m, events = machine(minimum_calls=4, max_consecutive_failures=10, window=CountWindow(10))
    feed(m, [FAIL, OK, FAIL])  # a rate of 2/3, but 3 calls < minimum_calls
    assert events == []
    feed(m, [OK], now=2.0)  # 2/4 = 0.5 >= 0.5
    assert [summary(e) for e in events] == [(S.CLOSED, S.OPEN, R.ERROR_RATE, 1, 1, 2.0)]


def test_trip_error_rate_at_the_threshold() -> None:
    m, events = machine(minimum_calls=4, max_consecutive_failures=10, window=CountWindow(10))
    feed(m, [FAIL, OK, OK, OK, FAIL])  # 1/4, then 2/5: below 0.5
    assert events == []
    feed(m, [FAIL], now=3.0)  # 3/6 = 0.5
    assert [summary(e) for e in events] == [(S.CLOSED, S.OPEN, R.ERROR_RATE, 1, 1, 3.0)]


@pytest.mark.parametrize(("threshold", "calls", "failures"), [(0.55, 100, 55), (0.07, 100, 7)])
def test_trip_error_rate_exactly_at_a_decimal_threshold(
    threshold: float, calls: int, failures: int
) -> None:
    # failures / calls == threshold: "failure rate >= failure_rate_threshold" holds.
    m, events = machine(
        failure_rate_threshold=threshold,
        minimum_calls=calls,
        max_consecutive_failures=calls,
        window=CountWindow(calls),
    )
    feed(m, [FAIL] * failures + [OK] * (calls - failures - 1))
    assert events == []
    feed(m, [OK])
    assert [e.reason for e in events] == [R.ERROR_RATE]


def test_trip_consecutive_failures() -> None:
    m, events = machine(max_consecutive_failures=3)
    feed(m, [FAIL, FAIL, OK, FAIL, FAIL])  # never 3 in a row
    assert events == []
    feed(m, [FAIL], now=4.0)
    assert [summary(e) for e in events] == [(S.CLOSED, S.OPEN, R.CONSECUTIVE_FAILURES, 1, 1, 4.0)]
    assert events[0].details["consecutive_failures"] == 3


def test_trip_slow_calls_when_every_call_in_the_window_is_slow() -> None:
    m, events = machine(minimum_calls=3, window=CountWindow(3))
    feed(m, [SLOW, SLOW, OK, SLOW, SLOW])  # the last 3 always hold a fast call
    assert events == []
    feed(m, [SLOW], now=5.0)
    assert [summary(e) for e in events] == [(S.CLOSED, S.OPEN, R.SLOW_CALLS, 1, 1, 5.0)]


def test_trip_rate_limited_from_closed_opens_until_the_retry_after() -> None:
    m, events = machine()
    feed(m, [FAIL])  # a plain failure: no trip
    assert events == []
    probe(m, FAIL, now=5.0, signal=R.RATE_LIMITED, retry_after=120.0)
    assert [summary(e) for e in events] == [(S.CLOSED, S.OPEN, R.RATE_LIMITED, 1, 1, 5.0)]
    assert m.retry_at == m.deadline == 125.0


def test_trip_rate_limited_from_half_open() -> None:
    m, events = machine(half_open_max_calls=3)
    to_half_open(m)
    probe(m, FAIL, now=2.0)  # 1 failed probe of 3: below 0.5
    assert m.state is S.HALF_OPEN
    probe(m, FAIL, now=3.0, signal=R.RATE_LIMITED, retry_after=90.0)
    assert summary(events[-1]) == (S.HALF_OPEN, S.OPEN, R.RATE_LIMITED, 3, 3, 3.0)
    assert m.deadline == 93.0


def test_trip_auth_failed() -> None:
    m, events = machine()
    feed(m, [FAIL])
    assert events == []
    probe(m, FAIL, now=2.0, signal=R.AUTH_FAILED)
    assert [summary(e) for e in events] == [(S.CLOSED, S.OPEN, R.AUTH_FAILED, 1, 1, 2.0)]


def test_trip_health_check_failed_in_a_row() -> None:
    m, events = machine(health_failures_to_trip=2)
    assert m.health_check(False, 1.0) is None
    assert m.health_check(True, 2.0) is None  # the row is broken
    assert m.health_check(False, 3.0) is None
    event = m.health_check(False, 4.0)
    assert event is not None
    assert summary(event) == (S.CLOSED, S.OPEN, R.HEALTH_CHECK_FAILED, 1, 1, 4.0)
    assert events == [event]


# --- OPEN -> HALF_OPEN --------------------------------------------------------------------------


def test_probe_cooldown_elapsed_at_the_first_admission_after_open_until() -> None:
    m, events = machine()
    to_open(m, now=10.0)  # open_until = 10 + 30
    assert m.admit(39.999) is None
    assert m.state is S.OPEN
    assert m.admit(40.0) == 2  # the admission that moves to HALF_OPEN is the first probe
    assert summary(events[-1]) == (S.OPEN, S.HALF_OPEN, R.COOLDOWN_ELAPSED, 2, 2, 40.0)
    assert m.probes_admitted == 1


def test_probe_health_check_passed() -> None:
    m, _ = machine()
    to_open(m)
    assert m.health_check(False, 2.0) is None
    event = m.health_check(True, 3.0)
    assert event is not None
    assert summary(event) == (S.OPEN, S.HALF_OPEN, R.HEALTH_CHECK_PASSED, 2, 2, 3.0)


def test_without_health_check_can_probe_a_passing_check_leaves_open() -> None:
    m, events = machine(health_check_can_probe=False)
    assert "probe_health_check" not in {t.name for t in m.policy.transition_table()}
    to_open(m)
    assert m.health_check(True, 2.0) is None
    assert m.state is S.OPEN
    assert len(events) == 1


# --- HALF_OPEN -> CLOSED / OPEN ----------------------------------------------------------------


def test_recover_when_all_probes_finished_below_the_threshold() -> None:
    m, events = machine(half_open_max_calls=4)
    to_half_open(m)
    probes = [m.admit(2.0) for _ in range(5)]
    assert probes == [2, 2, 2, 2, None]  # at most half_open_max_calls probes
    for generation, outcome in zip(probes[:3], [FAIL, OK, OK], strict=True):
        assert generation is not None
        m.record(generation, outcome, 3.0)
    assert m.state is S.HALF_OPEN  # 3 of 4 probes finished
    m.record(2, OK, 4.0)  # 1 failed of 4: 0.25 < 0.5
    assert summary(events[-1]) == (S.HALF_OPEN, S.CLOSED, R.PROBES_SUCCEEDED, 3, 3, 4.0)


def test_reopen_probe_failed_once_the_threshold_is_reached() -> None:
    m, events = machine(half_open_max_calls=4)
    to_half_open(m)
    probe(m, FAIL, now=2.0)  # 1 of 4 < 0.5
    probe(m, OK, now=2.0)
    assert m.state is S.HALF_OPEN
    probe(m, FAIL, now=3.0)  # 2 of 4 = 0.5
    assert summary(events[-1]) == (S.HALF_OPEN, S.OPEN, R.PROBE_FAILED, 3, 3, 3.0)


def test_reopen_probe_timeout_after_max_half_open_duration() -> None:
    m, events = machine(max_half_open_duration=60.0)
    to_half_open(m, now=50.0)
    assert m.tick(109.999) is None
    event = m.tick(110.0)
    assert event is not None
    assert summary(event) == (S.HALF_OPEN, S.OPEN, R.PROBE_TIMEOUT, 3, 3, 110.0)
    assert events[-1] is event


# --- manual ------------------------------------------------------------------------------------

INTO: dict[BreakerState, Callable[[BreakerMachine], object]] = {
    S.CLOSED: lambda m: None,
    S.OPEN: to_open,
    S.HALF_OPEN: to_half_open,
    S.FORCED_OPEN: lambda m: m.force_open(1.0),
    S.DISABLED: lambda m: m.disable(1.0),
}
MANUAL = {"force_open": S.FORCED_OPEN, "disable": S.DISABLED, "reset": S.CLOSED}


@pytest.mark.parametrize("source", list(INTO))
@pytest.mark.parametrize("trigger", list(MANUAL))
def test_manual_trigger_from_any_state(source: BreakerState, trigger: str) -> None:
    m, events = machine()
    INTO[source](m)
    assert m.state is source
    seq = m.seq
    event = getattr(m, trigger)(7.0)
    expected = (source, MANUAL[trigger], R.MANUAL, seq + 1, seq + 1, 7.0)
    assert summary(event) == expected
    assert events[-1] is event
    assert event.trigger == trigger
    assert m.state is MANUAL[trigger]


def test_reset_clears_the_window() -> None:
    m, _ = machine()
    feed(m, [FAIL, FAIL, SLOW])
    m.reset(2.0)
    assert (m.calls, m.failures, m.slow_calls, m.consecutive_failures) == (0, 0, 0, 0)


# --- every transition ---------------------------------------------------------------------------


def test_every_transition_starts_an_empty_window_and_a_new_generation() -> None:
    seen: list[tuple[object, ...]] = []

    def look(event: FailoverEvent) -> None:
        counts = (m.calls, m.failures, m.consecutive_failures, m.probes_admitted, m.probes_failed)
        seen.append((event.generation, m.generation, counts, m.consecutive_health_failures))

    m = BreakerMachine("p", BreakerPolicy(half_open_max_calls=2, open_jitter=0.0), on_event=look)
    feed(m, [OK, FAIL, FAIL])
    m.health_check(False, 1.0)
    feed(m, [FAIL])  # trip
    m.admit(100.0)  # probe
    probe(m, FAIL, now=100.0)  # reopen
    m.health_check(True, 101.0)
    m.reset(102.0)
    assert seen == [(g, g, (0, 0, 0, 0, 0), 0) for g in range(1, 6)]
    assert m.record(4, FAIL, 103.0) is False  # a call of an earlier generation
    assert m.calls == 0


# --- open duration -----------------------------------------------------------------------------


def test_open_duration_backs_off_up_to_the_cap_and_resets_after_closed() -> None:
    m, events = machine(open_duration=30.0, open_backoff=2.0, max_open_duration=300.0)
    to_open(m, now=0.0)
    durations = [m.deadline - events[-1].at if m.deadline is not None else None]
    for _ in range(5):  # probe at open_until, fail: the k-th consecutive opening
        assert m.deadline is not None
        probe(m, FAIL, now=m.deadline)
        durations.append(m.deadline - events[-1].at if m.deadline is not None else None)
    assert durations == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0]
    assert m.deadline is not None
    probe(m, OK, now=m.deadline)  # recover: k starts again at 1
    assert m.state is S.CLOSED
    to_open(m, now=5000.0)
    assert m.deadline == 5030.0
    assert events[-1].details["deadline"] == 5030.0


def test_open_duration_for_follows_the_formula() -> None:
    m, _ = machine(open_duration=10.0, open_backoff=3.0, max_open_duration=200.0)
    assert [m.open_duration_for(k) for k in range(1, 6)] == [10.0, 30.0, 90.0, 200.0, 200.0]


@pytest.mark.parametrize(
    ("backoff", "k"), [(2.0, 5000), (1.0, 10**6), (1.0000001, 10**9), (1e308, 3), (10.0, 400)]
)
def test_open_duration_stays_capped_after_very_many_openings(backoff: float, k: int) -> None:
    # A provider down for days: k keeps growing without a CLOSED in between.
    m, _ = machine(open_duration=30.0, open_backoff=backoff, max_open_duration=300.0)
    expected = 30.0 if backoff == 1.0 else 300.0
    assert m.open_duration_for(k) == expected


@given(
    duration=st.floats(0.001, 1000.0),
    backoff=st.floats(1.0, 10.0),
    cap=st.floats(1.0, 100.0),
    k=st.integers(1, 60),
)
def test_open_duration_for_is_the_capped_backoff(
    duration: float, backoff: float, cap: float, k: int
) -> None:
    m, _ = machine(open_duration=duration, open_backoff=backoff, max_open_duration=duration * cap)
    expected = min(duration * backoff ** (k - 1), duration * cap)
    assert m.open_duration_for(k) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("retry_after", "expected"), [(5.0, 30.0), (100.0, 100.0)])
def test_retry_after_raises_open_until_and_never_lowers_it(
    retry_after: float, expected: float
) -> None:
    m, _ = machine(open_duration=30.0)
    probe(m, FAIL, now=10.0, signal=R.RATE_LIMITED, retry_after=retry_after)
    assert m.deadline == 10.0 + expected
    assert m.open_duration_for(3, retry_after) == max(120.0, retry_after)


@given(
    seed=st.integers(0, 2**32),
    k=st.integers(1, 8),
    jitter=st.floats(0.01, 0.99),
    retry_after=st.none() | st.floats(0, 1000),
)
def test_jitter_lowers_the_duration_by_at_most_its_fraction(
    seed: int, k: int, jitter: float, retry_after: float | None
) -> None:
    policy = BreakerPolicy(open_jitter=jitter)
    m = BreakerMachine("p", policy, rng=random.Random(seed))
    base = min(30.0 * 2.0 ** (k - 1), 300.0)
    duration = m.open_duration_for(k, retry_after)
    assert base * (1 - jitter) <= duration <= max(base, retry_after or 0.0)
    assert duration >= (retry_after or 0.0)
    again = BreakerMachine("p", policy, rng=random.Random(seed))
    assert again.open_duration_for(k, retry_after) == duration


def test_jitter_spreads_durations_across_seeds() -> None:
    policy = BreakerPolicy(open_jitter=0.5)
    durations = {
        BreakerMachine("p", policy, rng=random.Random(s)).open_duration_for(1) for s in range(10)
    }
    assert len(durations) > 1


def run_script(rng: random.Random | None) -> list[FailoverEvent]:
    events: list[FailoverEvent] = []
    m = BreakerMachine("p", BreakerPolicy(open_jitter=0.3), rng=rng, on_event=events.append)
    for step in range(40):
        now = step * 25.0
        generation = m.admit(now)
        if generation is not None:
            m.record(generation, FAIL if step % 4 else OK, now)
    return events


@pytest.mark.parametrize("seed", [None, 7])
def test_i8_same_seed_same_inputs_same_events(seed: int | None) -> None:
    first = run_script(None if seed is None else random.Random(seed))
    second = run_script(None if seed is None else random.Random(seed))
    assert len(first) > 5
    assert first == second
    assert [e.details for e in first] == [e.details for e in second]


# --- states that admit or reject everything ---------------------------------------------------


def test_disabled_admits_every_call_and_records_nothing() -> None:
    m, events = machine()
    m.disable(1.0)
    for _ in range(50):
        generation = m.admit(2.0)
        assert generation == 1
        assert m.record(generation, FAIL, 2.0, signal=R.AUTH_FAILED) is False
        assert m.health_check(False, 2.0) is None
    assert (m.calls, m.failures, m.consecutive_failures) == (0, 0, 0)
    assert len(events) == 1
    assert m.retry_at is None


def test_forced_open_rejects_every_call_with_no_retry_time() -> None:
    m, events = machine()
    m.force_open(1.0)
    for now in (1.0, 1e3, 1e9):
        assert m.admit(now) is None
        assert m.tick(now) is None
        assert m.health_check(True, now) is None
        assert m.retry_at is None
    assert m.state is S.FORCED_OPEN
    assert len(events) == 1
