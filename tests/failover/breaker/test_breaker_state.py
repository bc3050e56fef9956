"""CircuitBreaker's state side: state, health, events, statistics, the operator's triggers,
health checks, tick, and slow calls measured on the breaker's clock."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from failover import (
    BreakerHook,
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    IllegalTransitionError,
    ManualClock,
    ProviderHealth,
    Unavailable,
)
from statemachines import ANY, FailoverReason, Outcome, Stimulus, Transition
from tests.failover.breaker._support import (
    ENTRY_POINTS,
    fail,
    half_open,
    make,
    run_through,
    tripped,
)

S, R = BreakerState, FailoverReason


# --- state, health, events, statistics --------------------------------------------------------


def test_a_new_breaker_is_closed_and_healthy_with_empty_statistics() -> None:
    breaker, _ = make()
    assert (breaker.state, breaker.health, breaker.events, breaker.retry_at) == (
        S.CLOSED,
        ProviderHealth.HEALTHY,
        (),
        None,
    )
    stats = breaker.statistics()
    assert (stats.provider, stats.state, stats.health) == ("p", S.CLOSED, ProviderHealth.HEALTHY)
    assert (stats.generation, stats.seq, stats.deadline, stats.openings) == (0, 0, None, 0)
    assert (stats.calls, stats.failures, stats.slow_calls, stats.failure_rate) == (0, 0, 0, 0.0)
    assert repr(breaker) == "<CircuitBreaker 'p' closed>"


def test_statistics_count_the_window_and_the_lifetime() -> None:
    breaker, _ = make(BreakerPolicy(max_consecutive_failures=5))
    breaker.call(lambda: None)
    for _ in range(3):
        with pytest.raises(Unavailable):
            breaker.call(fail)
    stats = breaker.statistics()
    assert (stats.calls, stats.failures, stats.failure_rate) == (4, 3, 0.75)
    assert (stats.consecutive_failures, stats.consecutive_successes) == (3, 0)
    assert (stats.lifetime_calls, stats.lifetime_failures, stats.lifetime_slow) == (4, 3, 0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.calls = 0  # type: ignore[misc]
    assert breaker.statistics().calls == 4  # a snapshot: later calls do not change it


def test_health_follows_the_state() -> None:
    breaker, _ = tripped()
    assert breaker.health is ProviderHealth.UNHEALTHY
    breaker.disable()
    assert breaker.health is ProviderHealth.UNKNOWN
    breaker.reset()
    assert breaker.health is ProviderHealth.HEALTHY
    breaker, _ = half_open()
    assert breaker.health is ProviderHealth.DEGRADED


def test_events_keep_only_the_most_recent_history_oldest_first() -> None:
    delivered: list[object] = []
    breaker, _ = make(history=3, hooks=[delivered.append])
    for _ in range(3):
        breaker.force_open()
        breaker.reset()
    assert [e.seq for e in breaker.events] == [4, 5, 6]
    assert [e.dest for e in breaker.events] == [S.CLOSED, S.FORCED_OPEN, S.CLOSED]
    assert len(delivered) == 6  # the hooks still hear every event


def test_no_history_keeps_no_events() -> None:
    breaker, _ = make(history=0)
    breaker.force_open()
    assert breaker.events == ()
    assert breaker.statistics().seq == 1


# --- the operator -----------------------------------------------------------------------------


def test_force_open_rejects_until_reset() -> None:
    breaker, clock = make()
    event = breaker.force_open()
    assert (event.source, event.dest, event.reason, event.seq) == (
        S.CLOSED,
        S.FORCED_OPEN,
        R.MANUAL,
        1,
    )
    assert event == breaker.events[-1]
    clock.advance(10_000.0)
    breaker.tick()
    with pytest.raises(CallNotPermitted):
        breaker.call(lambda: None)
    assert breaker.reset().dest is S.CLOSED
    assert breaker.call(lambda: "ok") == "ok"


def test_disable_admits_everything_and_records_nothing() -> None:
    breaker, _ = make()
    breaker.disable()
    for _ in range(5):
        with pytest.raises(Unavailable):
            breaker.call(fail)
    stats = breaker.statistics()
    assert (stats.state, stats.calls, stats.failures) == (S.DISABLED, 0, 0)
    assert stats.lifetime_failures == 5


def test_reset_starts_an_empty_window() -> None:
    breaker, _ = make(BreakerPolicy(max_consecutive_failures=5))
    with pytest.raises(Unavailable):
        breaker.call(fail)
    event = breaker.reset()
    assert (event.source, event.dest, event.reason) == (S.CLOSED, S.CLOSED, R.MANUAL)
    stats = breaker.statistics()
    assert (stats.calls, stats.failures, stats.consecutive_failures, stats.generation) == (
        0,
        0,
        0,
        1,
    )


def test_fire_runs_a_policys_own_manual_transition() -> None:
    drain = Transition("drain", ANY, S.FORCED_OPEN, R.MANUAL, on=Stimulus.MANUAL)
    breaker, _ = make(BreakerPolicy(transitions=(drain,)))
    event = breaker.fire("drain")
    assert (event.dest, event.trigger, breaker.state) == (S.FORCED_OPEN, "drain", S.FORCED_OPEN)


def test_fire_refuses_an_undeclared_trigger() -> None:
    breaker, _ = make()
    with pytest.raises(IllegalTransitionError, match="nope") as caught:
        breaker.fire("nope")
    assert isinstance(caught.value, RuntimeError)
    assert (breaker.state, breaker.events) == (S.CLOSED, ())


# --- health checks and tick -------------------------------------------------------------------


def test_failed_health_checks_trip_a_closed_breaker() -> None:
    breaker, _ = make(BreakerPolicy(health_failures_to_trip=2))
    assert breaker.record_health_check(False) is None
    event = breaker.record_health_check(False)
    assert event is not None
    assert (event.source, event.dest, event.reason) == (S.CLOSED, S.OPEN, R.HEALTH_CHECK_FAILED)
    assert breaker.record_health_check(False) is None  # already open


def test_a_passing_health_check_probes_an_open_breaker() -> None:
    breaker, _ = tripped()
    event = breaker.record_health_check(True)
    assert event is not None
    assert (event.dest, event.reason) == (S.HALF_OPEN, R.HEALTH_CHECK_PASSED)


def test_a_passing_health_check_does_not_probe_when_the_policy_says_so() -> None:
    breaker, _ = tripped(BreakerPolicy(max_consecutive_failures=1, health_check_can_probe=False))
    assert breaker.record_health_check(True) is None
    assert breaker.state is S.OPEN


def test_a_passing_health_check_changes_nothing_in_closed() -> None:
    breaker, _ = make()
    assert breaker.record_health_check(True) is None
    assert breaker.events == ()


def test_tick_moves_open_to_half_open_exactly_when_the_cooldown_ends() -> None:
    breaker, clock = tripped()
    clock.advance(9.75)
    assert breaker.tick() is None
    clock.advance(0.25)
    event = breaker.tick()
    assert event is not None
    assert (event.dest, event.reason, event.at) == (S.HALF_OPEN, R.COOLDOWN_ELAPSED, 10.0)


def test_tick_times_out_a_half_open_breaker() -> None:
    breaker, clock = half_open()
    clock.advance(59.0)
    assert breaker.tick() is None
    clock.advance(1.0)
    event = breaker.tick()
    assert event is not None
    assert (event.dest, event.reason) == (S.OPEN, R.PROBE_TIMEOUT)


def test_tick_does_nothing_in_closed() -> None:
    breaker, clock = make()
    clock.advance(1e6)
    assert breaker.tick() is None


# --- slow calls, measured on the breaker's clock ----------------------------------------------

SLOW = BreakerPolicy(
    slow_call_duration=5.0,
    slow_call_rate_threshold=1.0,
    minimum_calls=3,
    max_consecutive_failures=10,
    failure_rate_threshold=1.0,
)


def taking(clock: ManualClock, seconds: float, *, fails: bool = False) -> object:
    """A body that takes ``seconds`` of manual time, then returns or fails."""

    def body() -> str:
        clock.advance(seconds)
        if fails:
            fail()
        return "done"

    return body


@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_a_call_lasting_slow_call_duration_is_slow(how: str) -> None:
    breaker, clock = make(SLOW)
    run_through(breaker, how, taking(clock, 4.75))  # type: ignore[arg-type]
    assert breaker.statistics().slow_calls == 0
    run_through(breaker, how, taking(clock, 5.0))  # type: ignore[arg-type]
    with pytest.raises(Unavailable):
        run_through(breaker, how, taking(clock, 6.0, fails=True))  # type: ignore[arg-type]
    stats = breaker.statistics()
    assert (stats.calls, stats.slow_calls, stats.failures) == (3, 2, 1)
    assert (stats.lifetime_slow, stats.state) == (2, S.CLOSED)


def test_slow_calls_trip_the_breaker_at_the_slow_call_rate() -> None:
    breaker, clock = make(SLOW)
    for _ in range(3):
        breaker.call(taking(clock, 5.0))  # type: ignore[arg-type]
    assert breaker.state is S.OPEN
    assert breaker.events[-1].reason is R.SLOW_CALLS


def test_a_slow_async_call_counts_the_time_spent_awaiting() -> None:
    breaker, clock = make(SLOW)

    async def provider() -> str:
        await asyncio.sleep(0)
        clock.advance(7.0)
        return "late"

    assert asyncio.run(breaker.acall(provider)) == "late"
    assert breaker.statistics().slow_calls == 1


def test_the_on_call_hook_sees_slow_outcomes_and_durations() -> None:
    seen: list[tuple[Outcome, float]] = []

    class Recorder(BreakerHook):
        def on_call(self, provider: str, outcome: Outcome, duration: float) -> None:
            seen.append((outcome, duration))

    breaker, clock = make(SLOW, hooks=[Recorder()])
    breaker.call(taking(clock, 5.0))  # type: ignore[arg-type]
    with pytest.raises(Unavailable):
        breaker.call(taking(clock, 8.0, fails=True))  # type: ignore[arg-type]
    breaker.call(taking(clock, 1.0))  # type: ignore[arg-type]
    assert seen == [
        (Outcome.SLOW_SUCCESS, 5.0),
        (Outcome.SLOW_FAILURE, 8.0),
        (Outcome.SUCCESS, 1.0),
    ]
