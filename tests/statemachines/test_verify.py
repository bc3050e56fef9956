"""verify_policy: clean policies verify clean, and each kind of defect is found and named."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings

from statemachines import (
    ANY,
    BreakerPolicy,
    BreakerState,
    ConditionContext,
    CountWindow,
    CustomState,
    DefectKind,
    FailoverReason,
    Outcome,
    ProviderHealth,
    Stimulus,
    TimeWindow,
    Transition,
    VerificationReport,
    consecutive_failures,
    deadline_passed,
    failure_rate,
    probes_succeeded,
    signalled,
    to_mermaid,
    verify_policy,
)
from statemachines.examples import throttled_policy
from tests import strategies as sts

S, R = BreakerState, FailoverReason
RATE_LIMITED = signalled(R.RATE_LIMITED)


def kinds(report: VerificationReport) -> list[DefectKind]:
    return [d.kind for d in report.defects]


# --- clean policies -------------------------------------------------------------------------


def test_the_default_policy_verifies_clean() -> None:
    report = verify_policy(BreakerPolicy())
    assert report.ok, str(report)
    assert report.defects == ()
    assert str(report) == f"policy verified: {report.samples} samples, no defect"
    assert report.reachable == tuple(BreakerState)


def test_the_exploration_is_bounded_and_counted() -> None:
    report = verify_policy(BreakerPolicy())
    # thousands of samples, not millions: the default policy verifies in a few tens of ms
    assert 1_000 < report.samples < 20_000


@pytest.mark.parametrize(
    "changes",
    [
        {"half_open_max_calls": 5},
        {"health_check_can_probe": False},
        {"window": TimeWindow(60.0, 10)},
        {"window": CountWindow(1)},  # smaller than minimum_calls: only streaks trip
        {"window": CountWindow(2), "max_consecutive_failures": 5},  # streak longer than window
        {
            "failure_rate_threshold": 1.0,
            "minimum_calls": 500,
            "max_consecutive_failures": 50,
            "slow_call_rate_threshold": 0.9,
            "health_failures_to_trip": 10,
            "half_open_max_calls": 20,
        },
        {"failure_rate_threshold": 0.01, "slow_call_rate_threshold": 0.01, "minimum_calls": 1},
        {"failure_rate_threshold": 0.3, "half_open_max_calls": 10},  # 0.3 * 10 is 3.0000000004
        {"trip_condition": consecutive_failures(2)},
    ],
    ids=lambda changes: ",".join(changes),
)
def test_variants_of_the_default_policy_verify_clean(changes: dict[str, object]) -> None:
    report = verify_policy(BreakerPolicy().with_changes(**changes))
    assert report.ok, str(report)


@given(sts.verifiable_policies())
@settings(max_examples=min(settings.default.max_examples, 100))
def test_random_valid_policies_verify_clean_and_draw_every_state(policy: BreakerPolicy) -> None:
    # At most 100 examples, even under the `ci` profile: each example verifies two policies of
    # 10^3 to 10^4 samples each (0.05 to 0.3 s), so 1,000 would take minutes.
    for candidate in (policy, throttled_policy(policy)):
        report = verify_policy(candidate)
        assert report.ok, f"{candidate}\n{report}"
        diagram = to_mermaid(candidate)
        for state in candidate.all_states():
            assert state.value in diagram


def test_an_operator_state_needs_no_automatic_way_back() -> None:
    maintenance = CustomState("maintenance", health=ProviderHealth.UNKNOWN)
    policy = BreakerPolicy(
        states=(maintenance,),
        transitions=(Transition("maintain", ANY, maintenance, R.MANUAL, on=Stimulus.MANUAL),),
    )
    report = verify_policy(policy)
    assert report.ok, str(report)
    assert maintenance in report.reachable


# --- each kind of defect ---------------------------------------------------------------------


def test_removing_the_way_into_half_open_leaves_it_unreachable_and_open_a_trap() -> None:
    policy = BreakerPolicy(removed_transitions={"probe", "probe_health_check", "probe_now"})
    report = verify_policy(policy)
    assert kinds(report) == [DefectKind.UNREACHABLE_STATE, DefectKind.NO_WAY_BACK]
    unreachable, no_way_back = report.defects
    assert unreachable.states == ("half_open",)
    assert "removed_transitions" in unreachable.message
    assert no_way_back.states == ("open",)
    assert no_way_back.transitions == ("trip_rate_limited",)
    assert "closed -> open (trip_rate_limited)" in no_way_back.message
    assert S.HALF_OPEN not in report.reachable


def test_a_recover_that_overlaps_reopen_is_ambiguous() -> None:
    # recover at a failure rate below 0.9 while reopen fires at 0.5: with 2 of 3 probes
    # failed, both hold.
    lenient = Transition(
        "recover",
        S.HALF_OPEN,
        S.CLOSED,
        R.PROBES_SUCCEEDED,
        condition=probes_succeeded(0.9, max_calls=3) & ~RATE_LIMITED,
    )
    policy = BreakerPolicy(
        half_open_max_calls=3, transitions=(lenient,), removed_transitions={"recover"}
    )
    report = verify_policy(policy)
    assert kinds(report) == [DefectKind.AMBIGUOUS]
    (defect,) = report.defects
    assert defect.transitions == ("recover", "reopen")
    assert defect.states == ("half_open", "closed", "open")
    assert "probes_failed=2" in defect.message
    assert "probes_admitted=3" in defect.message


def test_a_throttle_that_overlaps_trip_is_ambiguous() -> None:
    # the worked example without its `& ~signalled(RATE_LIMITED)` on the trip rule
    policy = throttled_policy().with_changes(trip_condition=None)
    report = verify_policy(policy)
    assert kinds(report) == [DefectKind.AMBIGUOUS]
    assert report.defects[0].transitions == ("throttle", "trip")
    assert "signal=RATE_LIMITED" in report.defects[0].message


def test_transitions_to_one_destination_may_overlap() -> None:
    # trip_rate_limited, trip_auth_failed and trip all hold together, all lead to OPEN
    extra = Transition("trip_early", S.CLOSED, S.OPEN, R.ERROR_RATE, condition=lambda ctx: True)
    assert verify_policy(BreakerPolicy(transitions=(extra,))).ok


def test_a_custom_state_without_health_is_reported() -> None:
    vague = CustomState("vague", duration=10.0)
    policy = BreakerPolicy(
        states=(vague,),
        transitions=(
            Transition("park", ANY, vague, R.MANUAL, on=Stimulus.MANUAL),
            Transition(
                "unpark", vague, S.CLOSED, R.COOLDOWN_ELAPSED, Stimulus.TICK, deadline_passed()
            ),
        ),
    )
    report = verify_policy(policy)
    assert kinds(report) == [DefectKind.MISSING_HEALTH]
    assert report.defects[0].states == ("vague",)
    assert "health=ProviderHealth" in report.defects[0].message


def test_a_condition_that_never_holds_never_fires() -> None:
    never = Transition("never", S.CLOSED, S.OPEN, R.ERROR_RATE, Stimulus.TICK, lambda ctx: False)
    report = verify_policy(BreakerPolicy(transitions=(never,)))
    assert kinds(report) == [DefectKind.NEVER_FIRES]
    (defect,) = report.defects
    assert defect.transitions == ("never",)
    assert defect.states == ("closed",)
    assert "holds on none of the" in defect.message


def test_a_threshold_the_window_cannot_reach_never_fires() -> None:
    # 200 calls can never be in a count window of 100; in a time window they can
    shed = Transition(
        "shed", S.CLOSED, S.OPEN, R.ERROR_RATE, condition=failure_rate(0.5, min_calls=200)
    )
    report = verify_policy(BreakerPolicy(transitions=(shed,)))
    assert kinds(report) == [DefectKind.NEVER_FIRES]
    assert report.defects[0].transitions == ("shed",)
    assert verify_policy(BreakerPolicy(window=TimeWindow(60.0, 6), transitions=(shed,))).ok


def test_the_thresholds_of_a_policys_own_conditions_are_explored_at_their_boundaries() -> None:
    # holds only with exactly ceil(0.83 * calls) failures among >= 37 calls
    exact = failure_rate(0.83, min_calls=37) & ~failure_rate(0.84, min_calls=37)
    narrow = Transition("narrow", S.CLOSED, S.OPEN, R.ERROR_RATE, condition=exact)
    assert verify_policy(BreakerPolicy(transitions=(narrow,))).ok


def test_an_outcome_transition_from_a_state_that_records_nothing_never_fires() -> None:
    deaf = Transition("deaf", S.OPEN, S.CLOSED, R.PROBES_SUCCEEDED, condition=lambda ctx: True)
    report = verify_policy(BreakerPolicy(transitions=(deaf,)))
    assert kinds(report) == [DefectKind.NEVER_FIRES]
    assert "no outcome is ever recorded in open" in report.defects[0].message


def test_a_condition_that_raises_is_reported_not_raised() -> None:
    boom = Transition(
        "boom", S.OPEN, S.HALF_OPEN, R.COOLDOWN_ELAPSED, Stimulus.TICK, lambda ctx: 1 / 0
    )
    report = verify_policy(BreakerPolicy(transitions=(boom,)))
    assert kinds(report) == [DefectKind.CONDITION_ERROR]  # and not NEVER_FIRES as well
    (defect,) = report.defects
    assert defect.transitions == ("boom",)
    assert defect.states == ("open",)
    assert "ZeroDivisionError" in defect.message


def test_a_condition_reading_beyond_the_context_protocol_is_reported() -> None:
    nosy = Transition(
        "nosy", S.CLOSED, S.OPEN, R.ERROR_RATE, condition=lambda ctx: ctx.generation > 3
    )
    report = verify_policy(BreakerPolicy(transitions=(nosy,)))
    assert kinds(report) == [DefectKind.CONDITION_ERROR]
    assert "AttributeError" in report.defects[0].message


def test_the_report_prints_one_line_per_defect() -> None:
    never = Transition("never", S.CLOSED, S.OPEN, R.ERROR_RATE, Stimulus.TICK, lambda ctx: None)
    orphan = CustomState("orphan")
    report = verify_policy(BreakerPolicy(states=(orphan,), transitions=(never,)))
    assert kinds(report) == [
        DefectKind.UNREACHABLE_STATE,
        DefectKind.MISSING_HEALTH,
        DefectKind.NEVER_FIRES,
    ]
    lines = str(report).splitlines()
    assert [line.split(":")[0] for line in lines] == [k.name for k in kinds(report)]
    assert report.of_kind(DefectKind.NEVER_FIRES) == report.defects[2:]


# --- the samples are consistent contexts ------------------------------------------------------


def spy_policy(seen: list[ConditionContext], *extra: Transition, **fields: object) -> BreakerPolicy:
    """A policy whose extra transitions record every context they are evaluated on."""

    def spy(ctx: ConditionContext) -> bool:
        seen.append(ctx)
        return False

    spies = [
        Transition(f"spy_{stimulus.value}", ANY, S.CLOSED, R.MANUAL, stimulus, spy)
        for stimulus in (Stimulus.OUTCOME, Stimulus.TICK, Stimulus.HEALTH_CHECK)
    ]
    return BreakerPolicy(transitions=(*spies, *extra), **fields)  # type: ignore[arg-type]


def check_consistent(ctx: ConditionContext) -> None:
    policy = ctx.policy
    assert 0 <= ctx.failures <= ctx.calls
    assert 0 <= ctx.slow_calls <= ctx.calls
    assert not (ctx.consecutive_failures and ctx.consecutive_successes)
    assert ctx.failures >= min(ctx.consecutive_failures, ctx.calls)
    assert ctx.signal is None or (ctx.outcome is not None and ctx.outcome.failed)
    assert (ctx.retry_after is not None) == (ctx.signal is R.RATE_LIMITED)
    assert ctx.probes_succeeded + ctx.probes_failed <= ctx.probes_admitted
    assert ctx.probes_admitted <= policy.half_open_max_calls
    assert (ctx.outcome is not None) == (ctx.stimulus is Stimulus.OUTCOME)
    assert (ctx.health_check_passed is not None) == (ctx.stimulus is Stimulus.HEALTH_CHECK)
    if ctx.health_check_passed is not None:
        assert (ctx.consecutive_health_failures == 0) == ctx.health_check_passed
    if ctx.outcome is not None and ctx.state is S.CLOSED:
        assert ctx.calls >= 1
        assert (ctx.consecutive_failures if ctx.outcome.failed else ctx.consecutive_successes) > 0
        assert ctx.slow_calls >= 1 if ctx.outcome.slow else ctx.slow_calls < ctx.calls
    if ctx.outcome is not None and ctx.state is S.HALF_OPEN:
        finished = ctx.probes_failed if ctx.outcome.failed else ctx.probes_succeeded
        assert finished >= 1
    if ctx.state is not S.CLOSED:  # only CLOSED records into the window
        assert ctx.calls == ctx.consecutive_failures == ctx.consecutive_successes == 0
    if ctx.state is not S.HALF_OPEN:
        assert ctx.probes_admitted == 0
    assert ctx.outcome is not Outcome.IGNORED


@pytest.mark.parametrize(
    "fields", [{}, {"half_open_max_calls": 4, "window": CountWindow(3)}], ids=["default", "small"]
)
def test_every_sample_is_a_consistent_context(fields: dict[str, object]) -> None:
    seen: list[ConditionContext] = []
    verify_policy(spy_policy(seen, **fields))
    assert seen
    for ctx in seen:
        check_consistent(ctx)


def test_no_outcome_is_sampled_where_none_is_recorded() -> None:
    seen: list[ConditionContext] = []
    verify_policy(spy_policy(seen))
    states = {ctx.state for ctx in seen if ctx.stimulus is Stimulus.OUTCOME}
    assert states == {S.CLOSED, S.HALF_OPEN}


def closed_outcomes(seen: list[ConditionContext]) -> list[ConditionContext]:
    return [c for c in seen if c.state is S.CLOSED and c.stimulus is Stimulus.OUTCOME]


def test_the_samples_hit_the_window_thresholds_on_both_sides() -> None:
    seen: list[ConditionContext] = []
    policy = spy_policy(seen, failure_rate_threshold=0.3, minimum_calls=7)
    verify_policy(policy)
    calls = {c.calls for c in closed_outcomes(seen)}
    assert {1, 6, 7, 100} <= calls
    at_minimum = {c.failures for c in closed_outcomes(seen) if c.calls == 7}
    boundary = math.ceil(0.3 * 7)
    assert {0, 1, boundary - 1, boundary, 7} <= at_minimum
    streaks = {c.consecutive_failures for c in closed_outcomes(seen)}
    assert {1, 2, 3} <= streaks


def test_the_samples_hit_the_time_and_health_boundaries() -> None:
    seen: list[ConditionContext] = []
    verify_policy(spy_policy(seen, health_failures_to_trip=4))
    in_open = [c for c in seen if c.state is S.OPEN and c.stimulus is Stimulus.TICK]
    deadline = in_open[0].deadline
    assert deadline is not None
    assert {c.now < deadline for c in in_open} == {True, False}
    assert any(c.now == deadline for c in in_open)
    checks = [c for c in seen if c.state is S.CLOSED and c.stimulus is Stimulus.HEALTH_CHECK]
    failed = {c.consecutive_health_failures for c in checks if c.health_check_passed is False}
    assert {3, 4} <= failed
    assert {c.deadline for c in seen if c.state is S.CLOSED} == {None}


def test_samples_of_a_custom_state_carry_its_deadline() -> None:
    seen: list[ConditionContext] = []
    timed = CustomState("timed", health=ProviderHealth.DEGRADED, duration=7.0)
    enter = Transition("enter", ANY, timed, R.MANUAL, on=Stimulus.MANUAL)
    verify_policy(spy_policy(seen, enter, states=(timed,)))
    in_timed = [c for c in seen if c.state == timed]
    assert {c.deadline - c.entered_at for c in in_timed if c.deadline is not None} == {7.0}
