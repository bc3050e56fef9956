"""statemachines.examples: the THROTTLED worked example on a real machine, and the broken policy."""

from __future__ import annotations

import pytest

import statemachines.examples as examples
from statemachines import (
    BreakerMachine,
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    DefectKind,
    FailoverEvent,
    FailoverReason,
    Outcome,
    ProviderHealth,
    TimeWindow,
    event_from_json,
    event_to_json,
    events_from_jsonl,
    events_to_jsonl,
    replay,
    verify_policy,
)
from statemachines.examples import THROTTLED, broken_policy, throttled_policy

S, R = BreakerState, FailoverReason


def throttled_machine(
    policy: BreakerPolicy | None = None,
) -> tuple[BreakerMachine, list[FailoverEvent]]:
    events: list[FailoverEvent] = []
    machine = BreakerMachine("gemini", policy or throttled_policy(), on_event=events.append)
    return machine, events


def answer_429(machine: BreakerMachine, now: float, retry_after: float | None = 20.0) -> None:
    generation = machine.admit(now)
    assert generation is not None
    machine.record(generation, Outcome.FAILURE, now, R.RATE_LIMITED, retry_after)


# --- THROTTLED -------------------------------------------------------------------------------


def test_throttled_is_a_degraded_state_that_rejects_calls() -> None:
    assert THROTTLED.value == "throttled"
    assert THROTTLED.health is ProviderHealth.DEGRADED
    assert THROTTLED.admits_calls is False


def test_the_throttled_policy_verifies_clean() -> None:
    report = verify_policy(throttled_policy())
    assert report.ok, str(report)
    assert THROTTLED in report.reachable


@pytest.mark.parametrize(
    "base",
    [
        BreakerPolicy(half_open_max_calls=5),
        BreakerPolicy(health_check_can_probe=False),
        BreakerPolicy(window=TimeWindow(60.0, 10)),
        BreakerPolicy(failure_rate_threshold=1.0, minimum_calls=200, max_consecutive_failures=30),
    ],
)
def test_throttling_other_policies_verifies_clean_and_keeps_their_settings(
    base: BreakerPolicy,
) -> None:
    policy = throttled_policy(base)
    assert verify_policy(policy).ok
    assert policy.half_open_max_calls == base.half_open_max_calls
    assert policy.window == base.window
    assert "trip_rate_limited" in policy.removed_transitions
    assert [t.name for t in policy.transitions] == ["throttle", "unthrottle"]


def test_a_429_throttles_until_its_retry_after_then_closes_at_the_next_admission() -> None:
    machine, events = throttled_machine()
    answer_429(machine, now=1.0, retry_after=20.0)

    assert machine.state == THROTTLED
    (throttled,) = events
    assert (throttled.source, throttled.dest, throttled.reason) == (
        S.CLOSED,
        THROTTLED,
        R.RATE_LIMITED,
    )
    assert throttled.trigger == "throttle"
    deadline = 21.0
    assert machine.deadline == deadline
    for now in (1.0, 10.0, 20.999):
        assert machine.admit(now) is None
        assert machine.retry_at == deadline
    assert machine.state == THROTTLED
    assert len(events) == 1

    generation = machine.admit(deadline)

    assert generation == machine.generation == 2
    assert machine.state is S.CLOSED
    closed = events[-1]
    assert (closed.source, closed.dest, closed.reason) == (THROTTLED, S.CLOSED, R.COOLDOWN_ELAPSED)
    assert closed.trigger == "unthrottle"
    assert machine.record(generation, Outcome.SUCCESS, deadline + 0.5)
    assert [e.seq for e in events] == [1, 2]


def test_the_throttled_events_replay_and_round_trip_through_json() -> None:
    policy = throttled_policy()
    machine, events = throttled_machine(policy)
    answer_429(machine, now=1.0)
    assert replay(events, policy) == THROTTLED
    machine.admit(21.0)

    assert replay(events, policy) is S.CLOSED is machine.state
    texts = [event_to_json(e) for e in events]
    assert [event_from_json(text, policy) for text in texts] == events
    assert events_from_jsonl(events_to_jsonl(events), policy) == events
    assert replay(events_from_jsonl(events_to_jsonl(events), policy), policy) is S.CLOSED
    with pytest.raises(ConfigurationError):
        event_from_json(texts[0])  # the built-in states alone do not know THROTTLED


def test_a_429_without_retry_after_throttles_for_the_state_duration() -> None:
    machine, _ = throttled_machine()
    answer_429(machine, now=5.0, retry_after=None)
    assert machine.state == THROTTLED
    assert machine.retry_at == 5.0 + 5.0
    assert machine.admit(9.9) is None
    assert machine.admit(10.0) is not None
    assert machine.state is S.CLOSED


def test_a_429_that_is_also_the_third_failure_in_a_row_throttles_rather_than_trips() -> None:
    machine, events = throttled_machine()
    for now in (1.0, 2.0):
        generation = machine.admit(now)
        assert generation is not None
        machine.record(generation, Outcome.FAILURE, now)
    answer_429(machine, now=3.0)
    assert [e.dest for e in events] == [THROTTLED]


def test_other_failures_still_trip_to_open() -> None:
    machine, events = throttled_machine()
    generation = machine.admit(1.0)
    assert generation is not None
    machine.record(generation, Outcome.FAILURE, 1.0, R.AUTH_FAILED)
    assert [(e.dest, e.reason) for e in events] == [(S.OPEN, R.AUTH_FAILED)]


def test_a_429_while_probing_still_reopens() -> None:
    machine, events = throttled_machine(throttled_policy(BreakerPolicy(open_jitter=0.0)))
    machine.force_open(0.0)
    machine.reset(0.0)
    for now in (1.0, 2.0, 3.0):
        generation = machine.admit(now)
        assert generation is not None
        machine.record(generation, Outcome.FAILURE, now)
    assert machine.state is S.OPEN
    answer_429(machine, now=40.0)  # the admission probes, the 429 reopens
    assert [e.dest for e in events[-2:]] == [S.HALF_OPEN, S.OPEN]
    assert events[-1].reason is R.RATE_LIMITED


# --- the broken policy -----------------------------------------------------------------------


def test_the_broken_policy_reports_each_of_its_defects() -> None:
    report = verify_policy(broken_policy())
    found = [(d.kind, d.states, d.transitions) for d in report.defects]
    assert found == [
        (DefectKind.UNREACHABLE_STATE, ("orphan",), ()),
        (DefectKind.NO_WAY_BACK, ("limbo",), ("trip_rate_limited", "probe", "linger")),
        (DefectKind.AMBIGUOUS, ("half_open", "limbo", "open"), ("linger", "reopen_timeout")),
        (DefectKind.MISSING_HEALTH, ("quarantine",), ()),
    ]
    assert examples.LIMBO in report.reachable
    assert examples.QUARANTINE in report.reachable
    assert examples.ORPHAN not in report.reachable


def test_the_broken_policy_docstring_lists_each_defect() -> None:
    doc = broken_policy.__doc__ or ""
    for kind in ("UNREACHABLE_STATE", "NO_WAY_BACK", "AMBIGUOUS", "MISSING_HEALTH"):
        assert kind in doc
    for name in ("orphan", "limbo", "linger", "reopen_timeout", "quarantine"):
        assert name in doc


def test_the_examples_module_is_documented_and_exports_its_names() -> None:
    assert examples.__doc__
    for name in examples.__all__:
        assert getattr(examples, name).__doc__ or name.isupper()
    assert sorted(examples.__all__) == examples.__all__
