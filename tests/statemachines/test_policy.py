"""BreakerPolicy, Transition and CustomState: defaults, the transition table, and bad input.

Every invalid value raises ConfigurationError (a ValueError) whose message names the field, shows
the value given and says what would be accepted; never a KeyError, a TypeError from attrs or a
``transitions`` MachineError.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import partial
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachines import (
    ANY,
    BUILTIN_NAMES,
    BreakerMachine,
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    CountWindow,
    CustomState,
    FailoverError,
    FailoverReason,
    ProviderHealth,
    Stimulus,
    Transition,
    deadline_passed,
    signalled,
)
from statemachines._checks import check_fraction, check_int, check_number, check_seconds

S, R = BreakerState, FailoverReason
THROTTLED = CustomState("throttled", health=ProviderHealth.DEGRADED, duration=30.0)

FRACTION = r"must be a number in \(0, 1\]"
COUNT = r"must be an int >= 1"
SECONDS = r"must be a finite number of seconds > 0"
BACKOFF = r"must be a finite number >= 1"
NOT_NUMBERS: list[Any] = [math.nan, math.inf, -math.inf, True, "1", None]


def case(field: str, value: Any, accepted: str, shown: Any = attrs.NOTHING) -> Any:
    """One bad value: the message must read "BreakerPolicy.<field> <accepted> ... <value!r>"."""
    shown = value if shown is attrs.NOTHING else shown
    pattern = rf"BreakerPolicy\.{field} {accepted}.*{re.escape(repr(shown))}"
    return pytest.param(field, value, pattern, id=f"{field}={value!r}")


# The numeric fields share four checks: each check is tried on everything it must refuse (a
# matrix of check x bad value), and each field once, to show which check it is wired to (the
# message names the field and says what the check accepts).
CHECKS: dict[str, tuple[Callable[[str, Any], None], str, list[Any]]] = {
    "fraction": (check_fraction, FRACTION, [0, 0.0, -0.1, 1.5, *NOT_NUMBERS]),
    "count": (partial(check_int, minimum=1), COUNT, [0, -1, 1.5, 2.0, *NOT_NUMBERS]),
    "seconds": (check_seconds, SECONDS, [0, -1.0, *NOT_NUMBERS]),
    "backoff": (partial(check_number, minimum=1), BACKOFF, [0.5, 0, *NOT_NUMBERS]),
}
FIELD_CHECKS = {
    "failure_rate_threshold": "fraction",
    "slow_call_rate_threshold": "fraction",
    "minimum_calls": "count",
    "max_consecutive_failures": "count",
    "half_open_max_calls": "count",
    "health_failures_to_trip": "count",
    "slow_call_duration": "seconds",
    "open_duration": "seconds",
    "max_open_duration": "seconds",
    "max_half_open_duration": "seconds",
    "open_backoff": "backoff",
}
WIRING = {"fraction": 1.5, "count": 1.5, "seconds": 0, "backoff": 0.5}
"""A value that one check refuses with its own message (1.5 is a bad fraction and a bad count,
but each says so in its own words)."""


@pytest.mark.parametrize(
    ("check", "value"),
    [pytest.param(k, v, id=f"{k}={v!r}") for k, (_, _, bad) in CHECKS.items() for v in bad],
)
def test_each_numeric_check_refuses_its_bad_values(check: str, value: Any) -> None:
    fn, accepted, _ = CHECKS[check]
    with pytest.raises(
        ConfigurationError, match=rf"^the\.field {accepted}.*{re.escape(repr(value))}"
    ):
        fn("the.field", value)


@pytest.mark.parametrize("field", sorted(FIELD_CHECKS))
def test_each_numeric_field_uses_its_check(field: str) -> None:
    check = FIELD_CHECKS[field]
    value = WIRING[check]
    pattern = rf"BreakerPolicy\.{field} {CHECKS[check][1]}.*{re.escape(repr(value))}"
    with pytest.raises(ConfigurationError, match=pattern):
        BreakerPolicy(**{field: value})


def test_every_numeric_field_is_in_the_matrix() -> None:
    numeric = {f.name for f in attrs.fields(BreakerPolicy) if f.type in ("float", "int")} - {
        "open_jitter"
    }  # open_jitter has its own check (below)
    assert numeric == set(FIELD_CHECKS)


BAD_FIELDS = [
    *(case("open_jitter", v, r"must be a finite number >= 0") for v in [-0.1, *NOT_NUMBERS]),
    *(case("open_jitter", v, r"must be a fraction in \[0, 1\)") for v in [1, 1.0, 1.5]),
    *(
        case("window", v, r"must be CountWindow\(size\) or TimeWindow\(seconds, buckets\)")
        for v in [100, "count", None, CountWindow]
    ),
    *(case("health_check_can_probe", v, r"must be .*bool") for v in ["yes", 1, None]),
    *(case("trip_condition", v, r"must be a callable") for v in [3, "trip"]),
    case("states", 3, r"must hold CustomState records"),
    case("states", ["throttled"], r"must hold CustomState records", shown="throttled"),
    case("transitions", 3, r"must hold Transition records"),
    case("transitions", [S.OPEN], r"must hold Transition records", shown=S.OPEN),
    case("removed_transitions", "trip", r"must be a set of names"),
    case("removed_transitions", 3, r"must be a set of names"),
    case(
        "removed_transitions",
        {"trip", "bogus"},
        r"names \['bogus'\], which are not built-in transitions; the built-in ones are \[",
        shown="disable",
    ),
]


@pytest.mark.parametrize(("field", "value", "pattern"), BAD_FIELDS)
def test_every_invalid_field_value_is_a_configuration_error(
    field: str, value: Any, pattern: str
) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        BreakerPolicy(**{field: value})


def test_max_open_duration_below_open_duration() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"BreakerPolicy\.max_open_duration \(20\.0\) must be >= open_duration \(60\.0\)",
    ):
        BreakerPolicy(open_duration=60.0, max_open_duration=20.0)


def test_configuration_error_is_a_value_error_and_a_failover_error() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(ConfigurationError, FailoverError)
    with pytest.raises(ValueError, match="minimum_calls"):
        BreakerPolicy(minimum_calls=0)


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.sampled_from([object(), S.OPEN, R.MANUAL, CountWindow(), THROTTLED, {"a": 1}]),
)


@given(field=st.sampled_from([f.name for f in attrs.fields(BreakerPolicy)]), value=JUNK)
def test_any_value_builds_a_policy_or_raises_configuration_error(field: str, value: Any) -> None:
    try:
        policy = BreakerPolicy(**{field: value})
    except ConfigurationError:
        return
    BreakerMachine("p", policy)  # a policy that validates builds a machine


@given(
    name=st.sampled_from(["t", 3, None, "not a name"]),
    source=st.sampled_from([S.CLOSED, [S.OPEN], ANY, [], "closed", None, THROTTLED]),
    dest=st.sampled_from([S.OPEN, "open", None, THROTTLED]),
    reason=st.sampled_from([R.MANUAL, "manual", None]),
    on=st.sampled_from([*Stimulus, "tick", None]),
    condition=st.sampled_from([None, deadline_passed(), 3, "x"]),
)
def test_any_transition_builds_or_raises_configuration_error(**fields: Any) -> None:
    try:
        transition = Transition(**fields)
        BreakerPolicy(transitions=[transition])
    except ConfigurationError:
        pass


# --- custom states and transitions -------------------------------------------------------------


def test_a_transition_from_an_undeclared_state() -> None:
    leave = Transition(
        "leave",
        THROTTLED,
        S.CLOSED,
        R.COOLDOWN_ELAPSED,
        on=Stimulus.TICK,
        condition=deadline_passed(),
    )
    with pytest.raises(
        ConfigurationError,
        match=r"Transition 'leave' uses state 'throttled', which the policy does not declare; "
        r"add it to BreakerPolicy\.states or use one of \['closed', 'disabled'",
    ):
        BreakerPolicy(transitions=[leave])


def test_a_transition_into_an_undeclared_state() -> None:
    throttle = Transition(
        "throttle", S.CLOSED, THROTTLED, R.RATE_LIMITED, condition=signalled(R.RATE_LIMITED)
    )
    with pytest.raises(ConfigurationError, match=r"Transition 'throttle' uses state 'throttled'"):
        BreakerPolicy(transitions=[throttle])
    assert BreakerPolicy(states=[THROTTLED], transitions=[throttle]).transitions == (throttle,)


def test_duplicate_custom_states() -> None:
    with pytest.raises(
        ConfigurationError, match=r"BreakerPolicy\.states declares \['throttled'\] more than once"
    ):
        BreakerPolicy(states=[THROTTLED, CustomState("throttled")])


BAD_TRANSITIONS = [
    pytest.param(
        {"name": "not a name"}, r"Transition\.name must be an identifier.*'not a name'", id="name"
    ),
    pytest.param(
        {"source": "closed"},
        r"Transition\.source must be a state, a non-empty sequence of states or ANY.*'closed'",
        id="source-str",
    ),
    pytest.param({"source": []}, r"Transition\.source .*got \[\]", id="source-empty"),
    pytest.param(
        {"dest": "open"},
        r"Transition\.dest must be a BreakerState or a CustomState.*'open'",
        id="dest",
    ),
    pytest.param(
        {"reason": "manual"}, r"Transition\.reason .*FailoverReason.*'manual'", id="reason"
    ),
    pytest.param({"on": "manual"}, r"Transition\.on .*Stimulus.*'manual'", id="on"),
    pytest.param(
        {"on": Stimulus.OUTCOME, "condition": None},
        r"Transition 'x' on OUTCOME needs a condition.*on=Stimulus\.MANUAL",
        id="no-condition",
    ),
    pytest.param(
        {"condition": 3},
        r"Transition\.condition must be a callable taking the condition context.*got 3",
        id="condition-not-callable",
    ),
]


@pytest.mark.parametrize(("changes", "pattern"), BAD_TRANSITIONS)
def test_invalid_transition(changes: dict[str, Any], pattern: str) -> None:
    fields: dict[str, Any] = {
        "name": "x",
        "source": S.CLOSED,
        "dest": S.OPEN,
        "reason": R.MANUAL,
        "on": Stimulus.MANUAL,
    }
    with pytest.raises(ConfigurationError, match=pattern):
        Transition(**{**fields, **changes})


BAD_CUSTOM_STATES = [
    pytest.param(
        {"value": "closed"},
        r"CustomState\.value 'closed' is a built-in state; use BreakerState\.CLOSED",
        id="built-in",
    ),
    *(
        pytest.param(
            {"value": v},
            rf"CustomState\.value must be a lowercase identifier such as 'throttled', "
            rf"got {re.escape(repr(v))}",
            id=f"value={v!r}",
        )
        for v in ["not a name", "Throttled", "", 5, None]
    ),
    *(
        pytest.param(
            {"duration": v},
            rf"CustomState\.duration must be a finite number of seconds > 0, "
            rf"got {re.escape(repr(v))}",
            id=f"duration={v!r}",
        )
        for v in [0, -1.0, math.nan, math.inf, "5", True]
    ),
    pytest.param(
        {"health": "degraded"}, r"CustomState\.health .*ProviderHealth.*'degraded'", id="health"
    ),
    pytest.param({"admits_calls": "yes"}, r"CustomState\.admits_calls .*bool.*'yes'", id="admits"),
]


@pytest.mark.parametrize(("changes", "pattern"), BAD_CUSTOM_STATES)
def test_invalid_custom_state(changes: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        CustomState(**{"value": "throttled", **changes})


# --- defaults and the table --------------------------------------------------------------------


def test_defaults_are_design_md_s() -> None:
    p = BreakerPolicy()
    assert (p.failure_rate_threshold, p.minimum_calls, p.max_consecutive_failures) == (0.5, 10, 3)
    assert p.window == CountWindow(100)
    assert (p.slow_call_duration, p.slow_call_rate_threshold) == (30.0, 1.0)
    assert (p.open_duration, p.open_backoff, p.max_open_duration, p.open_jitter) == (
        30.0,
        2.0,
        300.0,
        0.1,
    )
    assert (p.half_open_max_calls, p.max_half_open_duration) == (1, 60.0)
    assert (p.health_failures_to_trip, p.health_check_can_probe) == (2, True)
    assert (p.trip_condition, p.states, p.transitions) == (None, (), ())
    assert p.removed_transitions == frozenset()


DESIGN_TABLE = [
    ("trip_rate_limited", (S.CLOSED,), S.OPEN, R.RATE_LIMITED, Stimulus.OUTCOME),
    ("trip_auth_failed", (S.CLOSED,), S.OPEN, R.AUTH_FAILED, Stimulus.OUTCOME),
    ("trip", (S.CLOSED,), S.OPEN, R.ERROR_RATE, Stimulus.OUTCOME),
    ("trip_health_check", (S.CLOSED,), S.OPEN, R.HEALTH_CHECK_FAILED, Stimulus.HEALTH_CHECK),
    ("probe", (S.OPEN,), S.HALF_OPEN, R.COOLDOWN_ELAPSED, Stimulus.TICK),
    ("probe_health_check", (S.OPEN,), S.HALF_OPEN, R.HEALTH_CHECK_PASSED, Stimulus.HEALTH_CHECK),
    ("probe_now", (S.OPEN,), S.HALF_OPEN, R.MANUAL, Stimulus.MANUAL),
    ("reopen_rate_limited", (S.HALF_OPEN,), S.OPEN, R.RATE_LIMITED, Stimulus.OUTCOME),
    ("reopen", (S.HALF_OPEN,), S.OPEN, R.PROBE_FAILED, Stimulus.OUTCOME),
    ("recover", (S.HALF_OPEN,), S.CLOSED, R.PROBES_SUCCEEDED, Stimulus.OUTCOME),
    ("reopen_timeout", (S.HALF_OPEN,), S.OPEN, R.PROBE_TIMEOUT, Stimulus.TICK),
    ("force_open", ANY, S.FORCED_OPEN, R.MANUAL, Stimulus.MANUAL),
    ("disable", ANY, S.DISABLED, R.MANUAL, Stimulus.MANUAL),
    ("reset", ANY, S.CLOSED, R.MANUAL, Stimulus.MANUAL),
]


def test_the_default_table_is_design_md_s() -> None:
    table = [(t.name, t.source, t.dest, t.reason, t.on) for t in BreakerPolicy().transition_table()]
    assert table == DESIGN_TABLE
    assert {row[0] for row in DESIGN_TABLE} == BUILTIN_NAMES


def test_the_policy_s_own_transitions_come_first_and_removed_ones_go() -> None:
    throttle = Transition(
        "throttle", S.CLOSED, THROTTLED, R.RATE_LIMITED, condition=signalled(R.RATE_LIMITED)
    )
    policy = BreakerPolicy(
        states=[THROTTLED], transitions=[throttle], removed_transitions={"trip_rate_limited"}
    )
    names = [t.name for t in policy.transition_table()]
    assert names[0] == "throttle"
    assert "trip_rate_limited" not in names
    assert names[1:] == [row[0] for row in DESIGN_TABLE if row[0] != "trip_rate_limited"]


def test_with_changes_validates_and_copies() -> None:
    policy = BreakerPolicy()
    with pytest.raises(ConfigurationError, match=r"BreakerPolicy\.minimum_calls .*got 0"):
        policy.with_changes(minimum_calls=0)
    with pytest.raises(ConfigurationError, match=r"max_open_duration \(300\.0\) must be >= "):
        policy.with_changes(open_duration=400.0)
    changed = policy.with_changes(minimum_calls=5)
    assert (changed.minimum_calls, policy.minimum_calls) == (5, 10)
    assert changed == BreakerPolicy(minimum_calls=5)


def test_a_policy_transition_may_not_reuse_a_kept_built_in_name() -> None:
    own = Transition(
        "probe_now",
        BreakerState.OPEN,
        BreakerState.FORCED_OPEN,
        FailoverReason.MANUAL,
        on=Stimulus.MANUAL,
    )
    with pytest.raises(ConfigurationError, match=r"reuses the built-in name\(s\) \['probe_now'\]"):
        BreakerPolicy(transitions=[own])
    replaced = BreakerPolicy(transitions=[own], removed_transitions={"probe_now"})
    assert [t.name for t in replaced.transition_table()].count("probe_now") == 1
