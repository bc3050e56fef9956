"""BreakerMachine.adopt: taking on a state decided elsewhere (distributed mode), as properties.

After any history of stimuli, adopting a state moves the machine there with a new generation
and no event; outcomes of earlier admissions are stale (I5); the adopted deadline governs the
time-driven transitions; and the machine goes on with legal transitions from the adopted state.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachines import (
    BreakerMachine,
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    CustomState,
    FailoverEvent,
    Outcome,
    ProviderHealth,
)
from tests.strategies import default_table_policies, recorded_outcomes

S = BreakerState
states = st.sampled_from(list(BreakerState))
histories = st.lists(st.tuples(recorded_outcomes, st.floats(0.0, 5.0)), max_size=30)


def run(machine: BreakerMachine, history: list[tuple[Outcome, float]]) -> float:
    """Feed ``history`` (outcome, time step) to admitted calls; the time reached."""
    now = 0.0
    for outcome, step in history:
        now += step
        generation = machine.admit(now)
        if generation is not None:
            machine.record(generation, outcome, now)
    return now


@given(default_table_policies(), histories, states, st.integers(0, 9), st.integers(0, 50))
def test_adopt_moves_to_the_state_with_a_new_generation_and_no_event(
    policy: BreakerPolicy, history: list[tuple[Outcome, float]], state: S, openings: int, seq: int
) -> None:
    heard: list[FailoverEvent] = []
    machine = BreakerMachine("p", policy, on_event=heard.append)
    now = run(machine, history)
    before, generation, lifetime = len(heard), machine.generation, machine.lifetime_calls
    new = machine.adopt(state, now, deadline=now + 10.0, openings=openings, seq=seq)
    assert new == machine.generation == generation + 1
    assert machine.state is state
    assert len(heard) == before
    assert (machine.seq, machine.openings, machine.entered_at) == (seq, openings, now)
    assert (machine.calls, machine.consecutive_failures, machine.probes_admitted) == (0, 0, 0)
    assert machine.lifetime_calls == lifetime
    assert machine.free_admission == (state in (S.CLOSED, S.DISABLED))


@given(default_table_policies(), histories, recorded_outcomes)
def test_outcomes_admitted_before_an_adoption_are_stale(
    policy: BreakerPolicy, history: list[tuple[Outcome, float]], outcome: Outcome
) -> None:
    machine = BreakerMachine("p", policy)
    now = run(machine, history)
    machine.adopt(S.CLOSED, now)
    generation = machine.generation
    assert machine.admit(now) == generation
    machine.adopt(S.CLOSED, now)
    stale = machine.lifetime_stale
    assert not machine.record(generation, outcome, now)
    assert machine.lifetime_stale == stale + 1
    assert machine.calls == 0


@given(default_table_policies(), histories, st.floats(0.5, 100.0))
def test_an_adopted_open_state_keeps_its_deadline(
    policy: BreakerPolicy, history: list[tuple[Outcome, float]], left: float
) -> None:
    heard: list[FailoverEvent] = []
    machine = BreakerMachine("p", policy, on_event=heard.append)
    now = run(machine, history)
    machine.adopt(S.OPEN, now, deadline=now + left, openings=1)
    assert machine.retry_at == now + left
    assert machine.admit(now + left / 2) is None
    seq = machine.seq
    assert machine.admit(now + left) is not None  # the cooldown elapsed: the probe goes
    assert machine.state is S.HALF_OPEN
    assert [(e.seq, e.source, e.dest) for e in heard[-1:]] == [(seq + 1, S.OPEN, S.HALF_OPEN)]


@given(default_table_policies(), histories, states, histories)
def test_the_machine_goes_on_legally_from_an_adopted_state(
    policy: BreakerPolicy,
    history: list[tuple[Outcome, float]],
    state: S,
    after: list[tuple[Outcome, float]],
) -> None:
    heard: list[FailoverEvent] = []
    machine = BreakerMachine("p", policy, on_event=heard.append)
    now = run(machine, history)
    machine.adopt(state, now, deadline=now + 1.0, seq=100)
    heard.clear()
    for outcome, step in after:
        now += step
        generation = machine.admit(now)
        if generation is not None:
            machine.record(generation, outcome, now)
    legal = {(t.name, t.dest) for t in policy.transition_table()}
    previous = state
    for index, event in enumerate(heard):
        assert event.seq == 101 + index
        assert event.source is previous
        assert (event.trigger, event.dest) in legal
        previous = event.dest
    assert machine.state is previous


def test_adopting_a_state_the_policy_lacks_is_refused() -> None:
    throttled = CustomState("throttled", health=ProviderHealth.DEGRADED)
    with pytest.raises(ConfigurationError, match=r"cannot adopt state .*throttled.* \['closed'"):
        BreakerMachine("p").adopt(throttled, 0.0)
