"""L4 in the core: no Retry-After and no raising condition can strand a breaker or move it
without its event."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachines import (
    MAX_RETRY_AFTER,
    BreakerMachine,
    BreakerPolicy,
    BreakerState,
    ConditionContext,
    FailoverEvent,
    FailoverReason,
    Outcome,
    Stimulus,
    Transition,
    Verdict,
    consecutive_failures,
    replay,
)
from statemachines._states import retry_after_of

ANY_VALUE = (
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.text(max_size=20)
    | st.just(object())
)


@given(value=ANY_VALUE)
def test_retry_after_of_gives_a_valid_retry_after_or_none(value: object) -> None:
    made = retry_after_of(value)
    assert made is None or (isinstance(made, float) and 0.0 <= made <= MAX_RETRY_AFTER)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        assert made == (MAX_RETRY_AFTER if value > MAX_RETRY_AFTER else float(value))


@given(value=ANY_VALUE, now=st.floats(0.0, 1e6))
def test_a_rate_limited_failure_opens_with_its_event_and_a_finite_deadline(
    value: object, now: float
) -> None:
    events: list[FailoverEvent] = []
    policy = BreakerPolicy(open_jitter=0.0)
    machine = BreakerMachine("gemini", policy, on_event=events.append)
    machine.record(
        machine.admit(now),  # type: ignore[arg-type]
        Outcome.FAILURE,
        now,
        FailoverReason.RATE_LIMITED,
        value,  # type: ignore[arg-type]  # what a provider may really hand over
    )
    assert machine.state is BreakerState.OPEN
    assert [e.reason for e in events] == [FailoverReason.RATE_LIMITED]
    assert replay(events, policy) is BreakerState.OPEN
    deadline = machine.retry_at
    assert deadline is not None
    assert math.isfinite(deadline)
    assert now + policy.open_duration <= deadline <= now + MAX_RETRY_AFTER
    assert machine.admit(deadline) is not None  # and it leaves OPEN when that time comes


def _raises(ctx: ConditionContext) -> Verdict:
    raise ZeroDivisionError("a bug in the policy")


def test_a_raising_trip_condition_does_not_hold_and_is_counted() -> None:
    errors: list[tuple[str, Exception]] = []
    machine = BreakerMachine(
        "brave",
        BreakerPolicy(trip_condition=_raises),
        on_condition_error=lambda where, exc: errors.append((where, exc)),
    )
    for now in range(5):
        assert machine.record(machine.admit(float(now)), Outcome.FAILURE, float(now))  # type: ignore[arg-type]
    assert machine.state is BreakerState.CLOSED
    assert machine.seq == 0
    assert machine.condition_errors == 5
    assert machine.snapshot().last_condition_error == "trip: ZeroDivisionError: a bug in the policy"
    assert [where for where, _ in errors] == ["trip"] * 5


def test_a_raising_part_of_an_any_of_leaves_the_other_parts_working() -> None:
    machine = BreakerMachine(
        "brave", BreakerPolicy(trip_condition=_raises | consecutive_failures(3))
    )
    for now in (1.0, 2.0, 3.0):
        machine.record(machine.admit(now), Outcome.FAILURE, now)  # type: ignore[arg-type]
    assert machine.state is BreakerState.OPEN
    assert machine.last_event is not None
    assert machine.last_event.reason is FailoverReason.CONSECUTIVE_FAILURES
    assert machine.condition_errors == 3  # evaluated first at each failure, then the next part
    assert machine.last_condition_error == "trip (_raises): ZeroDivisionError: a bug in the policy"


def test_a_raising_time_driven_condition_does_not_strand_the_state_it_guards() -> None:
    # The policy's own tick transition raises: the built-in probe still moves OPEN on.
    policy = BreakerPolicy(
        open_jitter=0.0,
        transitions=(
            Transition(
                "early",
                source=BreakerState.OPEN,
                dest=BreakerState.HALF_OPEN,
                on=Stimulus.TICK,
                condition=_raises,
                reason=FailoverReason.COOLDOWN_ELAPSED,
            ),
        ),
    )
    machine = BreakerMachine("gemini", policy)
    for now in (0.0, 1.0, 2.0):
        machine.record(machine.admit(now), Outcome.FAILURE, now)  # type: ignore[arg-type]
    assert machine.state is BreakerState.OPEN
    assert machine.tick(10.0) is None
    assert machine.condition_errors == 1
    event = machine.tick(32.0)
    assert event is not None
    assert event.trigger == "probe"


@pytest.mark.parametrize("value", ["30", math.inf, math.nan, -5.0, 10**400])
def test_open_duration_for_takes_any_retry_after(value: object) -> None:
    machine = BreakerMachine("openai", BreakerPolicy(open_jitter=0.0))
    duration = machine.open_duration_for(1, value)  # type: ignore[arg-type]
    assert 30.0 <= duration <= MAX_RETRY_AFTER
