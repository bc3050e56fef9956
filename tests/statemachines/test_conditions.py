"""Transition conditions: each factory at its boundary, composition, reprs and validation."""

from __future__ import annotations

import functools
import operator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachines import (
    Condition,
    ConditionContext,
    ConfigurationError,
    FailoverReason,
    Verdict,
    consecutive_failures,
    deadline_passed,
    failure_rate,
    health_check_passed,
    health_checks_failed,
    probes_failed,
    probes_succeeded,
    signalled,
    slow_call_rate,
    timed_out,
)
from tests import strategies as sts
from tests.strategies import FakeContext as Ctx

R = FailoverReason

# (condition, context one step short of holding, context at the boundary, reason it gives)
BOUNDARIES = [
    pytest.param(
        consecutive_failures(3),
        Ctx(consecutive_failures=2),
        Ctx(consecutive_failures=3),
        R.CONSECUTIVE_FAILURES,
        id="consecutive_failures",
    ),
    pytest.param(
        failure_rate(0.5, min_calls=4),
        Ctx(calls=4, failures=1),
        Ctx(calls=4, failures=2),
        R.ERROR_RATE,
        id="failure_rate-rate",
    ),
    pytest.param(
        failure_rate(0.5, min_calls=4),
        Ctx(calls=3, failures=3),
        Ctx(calls=4, failures=3),
        R.ERROR_RATE,
        id="failure_rate-min_calls",
    ),
    pytest.param(
        slow_call_rate(1.0, min_calls=2),
        Ctx(calls=2, slow_calls=1),
        Ctx(calls=2, slow_calls=2),
        R.SLOW_CALLS,
        id="slow_call_rate-rate",
    ),
    pytest.param(
        slow_call_rate(1.0, min_calls=2),
        Ctx(calls=1, slow_calls=1),
        Ctx(calls=2, slow_calls=2),
        R.SLOW_CALLS,
        id="slow_call_rate-min_calls",
    ),
    pytest.param(
        signalled(R.RATE_LIMITED),
        Ctx(signal=R.AUTH_FAILED),
        Ctx(signal=R.RATE_LIMITED),
        R.RATE_LIMITED,
        id="signalled",
    ),
    pytest.param(
        health_checks_failed(2),
        Ctx(health_check_passed=False, consecutive_health_failures=1),
        Ctx(health_check_passed=False, consecutive_health_failures=2),
        R.HEALTH_CHECK_FAILED,
        id="health_checks_failed",
    ),
    pytest.param(
        health_checks_failed(2),
        Ctx(health_check_passed=True, consecutive_health_failures=2),
        Ctx(health_check_passed=False, consecutive_health_failures=2),
        R.HEALTH_CHECK_FAILED,
        id="health_checks_failed-needs-a-failed-check-now",
    ),
    pytest.param(
        health_check_passed(),
        Ctx(health_check_passed=False),
        Ctx(health_check_passed=True),
        R.HEALTH_CHECK_PASSED,
        id="health_check_passed",
    ),
    pytest.param(
        deadline_passed(),
        Ctx(now=9.5, deadline=10.0),
        Ctx(now=10.0, deadline=10.0),
        R.COOLDOWN_ELAPSED,
        id="deadline_passed",
    ),
    pytest.param(
        timed_out(60.0),
        Ctx(entered_at=5.0, now=64.5),
        Ctx(entered_at=5.0, now=65.0),
        R.PROBE_TIMEOUT,
        id="timed_out",
    ),
    pytest.param(
        probes_failed(0.5, max_calls=4),
        Ctx(probes_failed=1),
        Ctx(probes_failed=2),
        R.PROBE_FAILED,
        id="probes_failed",
    ),
    pytest.param(
        probes_succeeded(0.5, max_calls=4),
        Ctx(probes_succeeded=2, probes_failed=1),
        Ctx(probes_succeeded=3, probes_failed=1),
        R.PROBES_SUCCEEDED,
        id="probes_succeeded-all-finished",
    ),
    pytest.param(
        probes_succeeded(0.5, max_calls=4),
        Ctx(probes_succeeded=2, probes_failed=2),
        Ctx(probes_succeeded=3, probes_failed=1),
        R.PROBES_SUCCEEDED,
        id="probes_succeeded-below-the-threshold",
    ),
]


@pytest.mark.parametrize(("cond", "short", "boundary", "reason"), BOUNDARIES)
def test_each_factory_at_its_boundary(
    cond: Condition, short: Ctx, boundary: Ctx, reason: FailoverReason
) -> None:
    assert not cond(short)
    assert cond(boundary) is reason


def test_deadline_passed_never_holds_without_a_deadline() -> None:
    assert deadline_passed()(Ctx(now=1e9, deadline=None)) is None


# --- composition --------------------------------------------------------------------------------

CF, FR = consecutive_failures(3), failure_rate(0.5, min_calls=4)
BOTH = Ctx(consecutive_failures=3, calls=4, failures=4)
ONLY_RATE = Ctx(consecutive_failures=0, calls=4, failures=2)
NEITHER = Ctx(consecutive_failures=1, calls=4, failures=1)


def test_or_gives_the_first_reason_that_holds() -> None:
    assert (CF | FR)(BOTH) is R.CONSECUTIVE_FAILURES
    assert (FR | CF)(BOTH) is R.ERROR_RATE
    assert (CF | FR)(ONLY_RATE) is R.ERROR_RATE
    assert not (CF | FR)(NEITHER)


def test_and_holds_when_all_hold_with_the_first_reason() -> None:
    assert (CF & FR)(BOTH) is R.CONSECUTIVE_FAILURES
    assert (FR & CF)(BOTH) is R.ERROR_RATE
    assert not (CF & FR)(ONLY_RATE)
    assert ((lambda ctx: True) & FR)(BOTH) is R.ERROR_RATE  # True names no reason: FR's wins


def test_not_inverts() -> None:
    assert (~CF)(NEITHER) is True
    assert not (~CF)(BOTH)
    assert (~~CF)(BOTH) is True


def always(ctx: ConditionContext) -> Verdict:
    return R.MANUAL


def never(ctx: ConditionContext) -> Verdict:
    return None


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: always | CF, R.MANUAL),
        (lambda: CF | always, R.CONSECUTIVE_FAILURES),
        (lambda: never | FR, R.ERROR_RATE),
        (lambda: FR | never, R.ERROR_RATE),
        (lambda: always & CF, R.MANUAL),
        (lambda: CF & always, R.CONSECUTIVE_FAILURES),
        (lambda: never & CF, None),
        (lambda: CF & never, None),
    ],
)
def test_plain_callables_compose_on_either_side(make: Any, expected: Verdict) -> None:
    cond = make()
    assert isinstance(cond, Condition)
    assert cond(BOTH) is expected


def test_compose_refuses_what_is_not_callable() -> None:
    with pytest.raises(ConfigurationError, match=r"condition must be a callable .*got 3"):
        CF | 3  # type: ignore[operator]
    with pytest.raises(ConfigurationError, match=r"condition must be a callable .*got 'x'"):
        CF & "x"  # type: ignore[operator]


# --- reprs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cond", "text"),
    [
        (consecutive_failures(3), "consecutive_failures(3)"),
        (failure_rate(0.5, min_calls=10), "failure_rate(0.5, min_calls=10)"),
        (slow_call_rate(1.0, min_calls=10), "slow_call_rate(1, min_calls=10)"),
        (signalled(R.RATE_LIMITED), "signalled(RATE_LIMITED)"),
        (health_checks_failed(2), "health_checks_failed(2)"),
        (health_check_passed(), "health_check_passed()"),
        (deadline_passed(), "deadline_passed()"),
        (timed_out(60.0), "timed_out(60)"),
        (probes_failed(0.5, max_calls=1), "probes_failed(0.5, max_calls=1)"),
        (probes_succeeded(0.5, max_calls=2), "probes_succeeded(0.5, max_calls=2)"),
        (CF | FR, "consecutive_failures(3) | failure_rate(0.5, min_calls=4)"),
        ((CF | FR) | CF, "consecutive_failures(3) | failure_rate(0.5, min_calls=4) | " + repr(CF)),
        (
            (CF | FR) & ~signalled(R.RATE_LIMITED),
            "(consecutive_failures(3) | failure_rate(0.5, min_calls=4)) & ~signalled(RATE_LIMITED)",
        ),
        (CF & FR, "consecutive_failures(3) & failure_rate(0.5, min_calls=4)"),
        (always | CF, "always | consecutive_failures(3)"),
    ],
)
def test_repr(cond: Condition, text: str) -> None:
    assert repr(cond) == text


# --- factory validation -------------------------------------------------------------------------

FRACTION = r"must be a number in \(0, 1\], got "
COUNT = r"must be an int >= 1, got "
SECONDS = r"must be a finite number of seconds > 0, got "


def bad(factory: Any, *args: Any, pattern: str, **kwargs: Any) -> Any:
    """A factory call that must raise ConfigurationError matching ``pattern``."""
    shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return pytest.param(factory, args, kwargs, pattern, id=f"{factory.__name__}({shown})")


BAD_ARGUMENTS = [
    bad(consecutive_failures, 0, pattern=r"consecutive_failures\(count\) " + COUNT + "0"),
    bad(consecutive_failures, True, pattern=r"consecutive_failures\(count\) " + COUNT + "True"),
    bad(failure_rate, 0, min_calls=1, pattern=r"failure_rate\(threshold\) " + FRACTION + "0"),
    bad(failure_rate, 1.5, min_calls=1, pattern=r"failure_rate\(threshold\) " + FRACTION + "1.5"),
    bad(
        failure_rate, "0.5", min_calls=1, pattern=r"failure_rate\(threshold\) " + FRACTION + "'0.5'"
    ),
    bad(failure_rate, 0.5, min_calls=0, pattern=r"failure_rate\(min_calls\) " + COUNT + "0"),
    bad(slow_call_rate, -1, min_calls=1, pattern=r"slow_call_rate\(threshold\) " + FRACTION + "-1"),
    bad(slow_call_rate, 1, min_calls=2.5, pattern=r"slow_call_rate\(min_calls\) " + COUNT + "2.5"),
    bad(
        signalled,
        "rate_limited",
        pattern=r"signalled\(reason\) takes a FailoverReason such as "
        r"FailoverReason\.RATE_LIMITED, got 'rate_limited'",
    ),
    bad(health_checks_failed, 0, pattern=r"health_checks_failed\(count\) " + COUNT + "0"),
    bad(timed_out, 0, pattern=r"timed_out\(seconds\) " + SECONDS + "0"),
    bad(timed_out, float("inf"), pattern=r"timed_out\(seconds\) " + SECONDS + "inf"),
    bad(probes_failed, 2, max_calls=1, pattern=r"probes_failed\(threshold\) " + FRACTION + "2"),
    bad(probes_failed, 0.5, max_calls=0, pattern=r"probes_failed\(max_calls\) " + COUNT + "0"),
    bad(
        probes_succeeded,
        None,
        max_calls=1,
        pattern=r"probes_succeeded\(threshold\) " + FRACTION + "None",
    ),
    bad(probes_succeeded, 0.5, max_calls=-1, pattern=r"probes_succeeded\(max_calls\) " + COUNT),
]


@pytest.mark.parametrize(("factory", "args", "kwargs", "pattern"), BAD_ARGUMENTS)
def test_factories_validate_their_arguments(
    factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        factory(*args, **kwargs)


# --- compiled() ---------------------------------------------------------------------------------

trip_rules = st.lists(sts.trip_conditions, min_size=2, max_size=4).map(
    lambda parts: functools.reduce(operator.or_, parts)
)


@given(cond=st.one_of(sts.composite_conditions, trip_rules), ctx=sts.condition_contexts())
def test_compiled_agrees_with_the_condition(cond: Condition, ctx: Ctx) -> None:
    assert cond.compiled()(ctx) == cond(ctx)


@given(ctx=sts.condition_contexts())
def test_the_default_trip_rule_compiles_to_the_same_verdicts(ctx: Ctx) -> None:
    rule = ctx.policy.effective_trip_condition()
    assert rule.compiled()(ctx) == rule(ctx)
