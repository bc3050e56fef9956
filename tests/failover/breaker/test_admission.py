"""The breaker's one admission path (failover/_breaker/admission.py): ``would_admit`` changes
nothing and agrees with ``admit_if_due``, which never raises and counts no rejection for a
breaker it knows is rejecting; ``admit`` raises where ``admit_if_due`` gives None."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import BreakerPolicy, BreakerState, CallNotPermitted, CircuitBreaker, ManualClock

POLICY = BreakerPolicy(
    max_consecutive_failures=2, open_duration=10.0, open_jitter=0.0, half_open_max_calls=2
)
ACTIONS = st.lists(
    st.one_of(
        st.just(("success", 0.0)),
        st.just(("failure", 0.0)),
        st.just(("hold", 0.0)),  # admitted, not finished yet: a probe slot taken
        st.just(("finish", 0.0)),  # the oldest held call succeeds
        st.floats(0.0, 25.0).map(lambda dt: ("advance", dt)),
        st.sampled_from([("force_open", 0.0), ("reset", 0.0)]),
    ),
    max_size=40,
)


def _run(breaker: CircuitBreaker, clock: ManualClock, actions: list[tuple[str, float]]) -> None:
    held: list[int] = []
    for action, dt in actions:
        now = clock.monotonic()
        before = breaker.statistics()
        would = breaker.would_admit(now)
        assert breaker.statistics() == before  # no side effect
        if action == "advance":
            clock.advance(dt)
        elif action in ("force_open", "reset"):
            getattr(breaker, action)()
        elif action == "finish" and held:
            breaker.finish(held.pop(0), now, None)
        elif action in ("success", "failure", "hold"):
            generation = breaker.admit_if_due(now)
            assert (generation is not None) == would, (action, breaker.state)
            if generation is None:
                continue
            if action == "hold":
                held.append(generation)
            else:
                error = RuntimeError("down") if action == "failure" else None
                breaker.finish(generation, now, error)


@given(actions=ACTIONS)
def test_would_admit_changes_nothing_and_agrees_with_admit_if_due(
    actions: list[tuple[str, float]],
) -> None:
    clock = ManualClock()
    _run(CircuitBreaker("p", POLICY, clock=clock, hooks=()), clock, actions)


def test_a_breaker_known_to_reject_is_not_asked() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("p", POLICY, clock=clock, hooks=())
    for _ in range(2):
        breaker.finish(breaker.admit(), clock.monotonic(), RuntimeError("down"))
    assert breaker.state is BreakerState.OPEN
    rejected = breaker.statistics().lifetime_rejected
    assert breaker.admit_if_due(clock.monotonic()) is None
    assert breaker.statistics().lifetime_rejected == rejected  # skipped, not counted
    with pytest.raises(CallNotPermitted):
        breaker.admit()
    assert breaker.statistics().lifetime_rejected == rejected + 1
    clock.advance(10.0)
    assert breaker.would_admit(clock.monotonic())
    assert breaker.admit_if_due(clock.monotonic()) is not None  # the probe
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_refusal_found_by_asking_is_counted_as_admit_s() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("p", POLICY, clock=clock, hooks=())
    for _ in range(2):
        breaker.finish(breaker.admit(), clock.monotonic(), RuntimeError("down"))
    clock.advance(10.0)
    probes = [breaker.admit_if_due(clock.monotonic()) for _ in range(2)]
    assert None not in probes
    rejected = breaker.statistics().lifetime_rejected
    assert not breaker.would_admit(clock.monotonic())
    assert breaker.admit_if_due(clock.monotonic()) is None  # every probe slot is taken
    assert breaker.statistics().lifetime_rejected == rejected + 1
