"""The kit's strategies and records: outcomes, fault schedules, policies; and its lazy import."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BreakerPolicy,
    Coordinator,
    ManualClock,
    Result,
    RetryPolicy,
    default_classifier,
)
from failover.testing import (
    CallOutcome,
    Fault,
    FaultSchedule,
    ScriptedProvider,
    fault_schedules,
    outcomes,
    policies,
)
from statemachines import Outcome, verify_policy
from statemachines.examples import THROTTLED, throttled_policy

ROOT = Path(__file__).resolve().parents[2]


@given(outcomes())
def test_an_outcome_is_what_the_default_classifier_makes_of_its_error(outcome: CallOutcome) -> None:
    error = outcome.error("p")
    verdict = default_classifier(error, "answer")
    if outcome.kind == "bad_request":
        assert verdict.outcome is outcome.outcome is Outcome.IGNORED
    else:  # the classifier sees no duration: the breaker makes it slow
        assert outcome.outcome is Outcome.of(failed=verdict.outcome.failed, slow=outcome.slow)
    assert verdict.signal is outcome.signal
    assert (error is None) == (outcome.kind == "success")
    if error is not None:
        assert error.provider == "p"
        assert error.retry_after == outcome.retry_after


@given(outcomes(kinds=("success", "failure"), slow=False))
def test_outcomes_draw_only_the_kinds_asked_for(outcome: CallOutcome) -> None:
    assert outcome.kind in ("success", "failure")
    assert not outcome.slow
    assert outcome.retry_after is None


def test_outcomes_refuse_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match=r"outcomes\(kinds=\.\.\.\) takes some of"):
        outcomes(kinds=("timeout",))  # type: ignore[arg-type]


@given(fault_schedules(horizon=100.0), st.floats(-10.0, 110.0))
def test_a_schedule_has_ordered_disjoint_faults_within_its_horizon(
    schedule: FaultSchedule, now: float
) -> None:
    faults = schedule.faults
    assert all(0.0 <= f.start < f.end <= 100.0 for f in faults)
    assert all(a.end <= b.start for a, b in itertools.pairwise(faults))
    inside = [f for f in faults if f.start <= now < f.end]
    assert schedule.outcome_at(now) == (inside[0].outcome if inside else CallOutcome())
    assert all(f.outcome.kind != "success" for f in faults)


def test_faults_and_schedules_refuse_impossible_windows() -> None:
    with pytest.raises(ValueError, match=r"needs end > start, got start=5\.0, end=5\.0"):
        Fault(5.0, 5.0, CallOutcome("failure"))
    with pytest.raises(ValueError, match="faults overlap"):
        FaultSchedule((Fault(0.0, 10.0, CallOutcome("failure")), Fault(5.0, 6.0, CallOutcome())))


@given(policies(throttled_policy()))
def test_policies_keep_the_structure_of_their_base(policy: BreakerPolicy) -> None:
    base = throttled_policy()
    assert (policy.states, policy.transitions) == (base.states, base.transitions)
    assert THROTTLED in policy.states
    assert verify_policy(policy).ok


def test_a_schedule_drives_a_scripted_provider_on_the_clock() -> None:
    clock = ManualClock()
    schedule = FaultSchedule((Fault(10.0, 20.0, CallOutcome("rate_limited", retry_after=5.0)),))
    provider = ScriptedProvider("p", schedule.handler(clock, answer="hello"))

    async def scenario() -> list[object]:
        seen: list[object] = [(await provider.generate("hi")).text]
        clock.advance(10.0)
        try:
            await provider.generate("hi")
        except Exception as exc:
            seen.append((type(exc).__name__, getattr(exc, "retry_after", None)))
        clock.advance(10.0)
        seen.append((await provider.health_check()).healthy)
        return seen

    assert asyncio.run(scenario()) == ["hello", ("RateLimited", 5.0), True]


@given(st.lists(fault_schedules(horizon=300.0, max_faults=3), min_size=2, max_size=3))
def test_a_coordinator_over_scheduled_faults_loses_no_request(
    schedules: list[FaultSchedule],
) -> None:
    """I6 through the Coordinator: each request ends with a Result or one error of ours."""
    clock = ManualClock()
    providers = [
        ScriptedProvider(f"p{i}", s.handler(clock, answer=f"from p{i}"))
        for i, s in enumerate(schedules)
    ]
    coordinator = Coordinator(
        providers,
        policy=BreakerPolicy(open_jitter=0.0),
        retry=RetryPolicy(max_attempts=3, request_timeout=600.0),
        clock=clock,
        seed=1,
    )

    async def scenario() -> None:
        for _ in range(30):
            task = asyncio.ensure_future(coordinator.generate("hi"))
            while not task.done():  # the slow calls and backoffs sleep on the manual clock
                await asyncio.sleep(0)
                wake = clock.next_wakeup
                if wake is not None and not task.done():
                    clock.advance(wake - clock.monotonic())
            try:
                result = task.result()
            except (AllProvidersFailed, AllProvidersUnavailable):
                continue
            assert isinstance(result, Result)
            assert result.value.text == f"from {result.provider}"
            clock.advance(10.0)
        await coordinator.aclose()

    asyncio.run(scenario())


def test_importing_failover_testing_does_not_import_hypothesis() -> None:
    code = (
        "import sys, failover, failover.testing\n"
        "assert 'hypothesis' not in sys.modules, 'hypothesis was imported'\n"
        "sys.modules['hypothesis'] = None  # as if it were not installed\n"
        "try:\n"
        "    failover.testing.PolicyInterleavings\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "failover.testing.PolicyInterleavings needs hypothesis" in run.stdout
    assert "pip install 'failover[testing]'" in run.stdout


def test_an_unknown_name_is_an_attribute_error() -> None:
    import failover.testing

    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        failover.testing.nothing  # type: ignore[attr-defined]  # noqa: B018
