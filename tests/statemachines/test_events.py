"""FailoverEvent: JSON round trips through the one converter, replay (I2) and its refusals."""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachines import (
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    CustomState,
    FailoverEvent,
    FailoverReason,
    IllegalTransitionError,
    ProviderHealth,
    Transition,
    deadline_passed,
    event_from_json,
    event_to_json,
    events_from_jsonl,
    events_to_jsonl,
    replay,
    signalled,
)
from tests import strategies as sts

S, R = BreakerState, FailoverReason
THROTTLED = CustomState("throttled", health=ProviderHealth.DEGRADED, duration=30.0)
THROTTLING = BreakerPolicy(
    states=[THROTTLED],
    transitions=[
        Transition(
            "throttle", S.CLOSED, THROTTLED, R.RATE_LIMITED, condition=signalled(R.RATE_LIMITED)
        ),
        Transition(
            "unthrottle", THROTTLED, S.CLOSED, R.COOLDOWN_ELAPSED, condition=deadline_passed()
        ),
    ],
)


def event(
    seq: int, source: object, dest: object, reason: FailoverReason = R.MANUAL
) -> FailoverEvent:
    return FailoverEvent("p", seq, source, dest, reason, float(seq), seq)  # type: ignore[arg-type]


# --- JSON ---------------------------------------------------------------------------------------


@given(sts.events())
def test_an_event_survives_a_json_round_trip(e: FailoverEvent) -> None:
    text = event_to_json(e)
    assert "\n" not in text
    again = event_from_json(text)
    assert again == e
    assert dict(again.details) == dict(e.details)
    assert isinstance(again.source, BreakerState)


@given(st.lists(sts.events(), max_size=3))
def test_events_survive_a_json_lines_round_trip(events: list[FailoverEvent]) -> None:
    text = events_to_jsonl(events)
    assert text.count("\n") == len(events)
    assert events_from_jsonl(text) == events
    assert events_from_jsonl("\n" + text + "\n\n") == events  # blank lines are skipped


def test_json_writes_states_and_reasons_as_their_values() -> None:
    e = FailoverEvent("p", 1, S.HALF_OPEN, S.OPEN, R.PROBE_FAILED, 2.5, 3, {"calls": 1})
    assert json.loads(event_to_json(e)) == {
        "provider": "p",
        "seq": 1,
        "source": "half_open",
        "dest": "open",
        "reason": "probe_failed",
        "at": 2.5,
        "generation": 3,
        "details": {"calls": 1},
        "wall_at": None,
    }


def test_custom_states_are_read_back_through_their_policy() -> None:
    e = event(1, S.CLOSED, THROTTLED, R.RATE_LIMITED)
    text = event_to_json(e)
    assert '"dest":"throttled"' in text
    assert event_from_json(text, THROTTLING) == e
    assert events_from_jsonl(events_to_jsonl([e]), THROTTLING) == [e]
    with pytest.raises(ConfigurationError, match=r"unknown state 'throttled'.*pass the policy"):
        event_from_json(text)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        pytest.param("{not json", r"not a FailoverEvent in JSON: '\{not json'", id="bad-json"),
        pytest.param('{"seq": 1}', r"not a FailoverEvent in JSON", id="missing-fields"),
        pytest.param("[1, 2]", r"not a FailoverEvent in JSON", id="not-an-object"),
    ],
)
def test_bad_json_is_a_configuration_error(text: str, pattern: str) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        event_from_json(text)


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("source", "ajar", r"unknown state 'ajar'; this policy declares \['closed', 'disabled'"),
        ("dest", 3, r"unknown state 3"),
        ("reason", "bored", r"not a FailoverEvent in JSON"),
        ("details", [1], r"not a FailoverEvent in JSON"),
    ],
)
def test_a_bad_field_is_a_configuration_error(field: str, value: object, pattern: str) -> None:
    data = json.loads(event_to_json(event(1, S.CLOSED, S.OPEN)))
    with pytest.raises(ConfigurationError, match=pattern):
        event_from_json(json.dumps({**data, field: value}))


def test_details_are_read_only_and_copied() -> None:
    details: dict[str, str | int | float | bool | None] = {"calls": 3}
    e = FailoverEvent("p", 1, S.CLOSED, S.OPEN, R.ERROR_RATE, 1.0, 1, details)
    details["calls"] = 4
    assert e.details["calls"] == 3
    with pytest.raises(TypeError):
        e.details["calls"] = 5  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        e.seq = 2  # type: ignore[misc]


def test_trigger_comes_from_the_details() -> None:
    assert event(1, S.CLOSED, S.OPEN).trigger is None
    e = FailoverEvent("p", 1, S.CLOSED, S.OPEN, R.ERROR_RATE, 1.0, 1, {"trigger": "trip"})
    assert e.trigger == "trip"


# --- replay (I2) --------------------------------------------------------------------------------

TRIP_PROBE_RECOVER = [
    event(1, S.CLOSED, S.OPEN, R.ERROR_RATE),
    event(2, S.OPEN, S.HALF_OPEN, R.COOLDOWN_ELAPSED),
    event(3, S.HALF_OPEN, S.CLOSED, R.PROBES_SUCCEEDED),
    event(4, S.CLOSED, S.FORCED_OPEN),
]


def test_replay_follows_the_events() -> None:
    assert replay([]) is S.CLOSED
    assert replay(TRIP_PROBE_RECOVER[:2]) is S.HALF_OPEN
    assert replay(TRIP_PROBE_RECOVER, BreakerPolicy()) is S.FORCED_OPEN
    assert replay([event(1, S.OPEN, S.HALF_OPEN)], initial=S.OPEN) is S.HALF_OPEN


def test_replay_with_custom_states() -> None:
    events = [event(1, S.CLOSED, THROTTLED, R.RATE_LIMITED), event(2, THROTTLED, S.CLOSED)]
    assert replay(events[:1], THROTTLING) == THROTTLED
    assert replay(events, THROTTLING) is S.CLOSED
    with pytest.raises(IllegalTransitionError):
        replay(events)  # the default policy has no THROTTLED


@pytest.mark.parametrize(
    ("events", "pattern"),
    [
        pytest.param(
            [TRIP_PROBE_RECOVER[0], TRIP_PROBE_RECOVER[2]],
            r"event seq 3 \(expected seq 2 from 'open'\)",
            id="gap",
        ),
        pytest.param(
            [TRIP_PROBE_RECOVER[0], TRIP_PROBE_RECOVER[0]],
            r"event seq 1 \(expected seq 2 from 'open'\)",
            id="repeat",
        ),
        pytest.param([event(1, S.OPEN, S.HALF_OPEN)], r"expected seq 1 from 'closed'", id="source"),
        pytest.param(
            [event(0, S.CLOSED, S.OPEN)], r"event seq 0 \(expected seq 1", id="starts-at-zero"
        ),
        pytest.param(
            [event(1, S.CLOSED, S.HALF_OPEN)],
            r"transition 'manual' to 'half_open' is not declared from state 'closed'",
            id="undeclared",
        ),
        pytest.param(
            [event(1, S.CLOSED, S.OPEN), event(2, S.OPEN, S.OPEN)],
            r"to 'open' is not declared from state 'open'",
            id="undeclared-self-loop",
        ),
    ],
)
def test_replay_refuses_an_impossible_history(events: list[FailoverEvent], pattern: str) -> None:
    with pytest.raises(IllegalTransitionError, match=pattern):
        replay(events)


def test_replay_refuses_a_transition_the_policy_removed() -> None:
    policy = BreakerPolicy(removed_transitions={"probe", "probe_health_check", "probe_now"})
    with pytest.raises(IllegalTransitionError) as info:
        replay(TRIP_PROBE_RECOVER[:2], policy)
    assert (info.value.source, info.value.dest) == ("open", "half_open")
