"""``failover simulate`` and the simulation engine: the real breakers on a virtual clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from failover.cli import main
from failover.simulation import (
    SimulationReport,
    arrival_times,
    load_scenario,
    percentile,
    policy_from_toml,
    scenario_from_mapping,
    simulate,
)
from statemachines import BreakerPolicy, BreakerState, replay

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "failover" / "policies"


def tiny(**providers: dict[str, Any]) -> dict[str, Any]:
    """A scenario mapping: 2 requests/s for 60 s over the given providers."""
    return {
        "seed": 1,
        "strategy": "priority",
        "arrivals": {"rate": 2, "duration": 60},
        "retry": {"attempt_timeout": 5, "initial_backoff": 0.5},
        "providers": [{"name": name, **spec} for name, spec in providers.items()],
    }


@pytest.fixture(scope="module")
def default_report() -> SimulationReport:
    return simulate(load_scenario())


# --- the bundled scenario -----------------------------------------------------------------------


def test_default_scenario_has_an_outage_a_rate_limit_and_a_slow_provider() -> None:
    scenario = load_scenario()
    primary, budget, slow = scenario.providers
    assert primary.outages
    assert not budget.outages
    assert budget.quota is not None
    assert budget.rate_limit_bursts
    assert slow.latency.median > 5 * primary.latency.median


def test_default_scenario_trips_on_the_outage_and_the_rate_limit(
    default_report: SimulationReport,
) -> None:
    reasons = {(e.provider, e.reason.value) for e in default_report.events}
    assert ("primary", "consecutive_failures") in reasons
    assert ("budget", "rate_limited") in reasons
    outage = load_scenario().providers[0].outages[0]
    opened = [e.at for e in default_report.events if e.provider == "primary"]
    assert outage.start <= opened[0] < outage.end
    recovered = [e for e in default_report.events if e.provider == "primary"][-1]
    assert recovered.dest is BreakerState.CLOSED
    assert recovered.at >= outage.end


def test_no_attempt_reaches_a_provider_whose_breaker_rejects(
    default_report: SimulationReport,
) -> None:
    # I4 seen from the providers: an attempt is admitted in CLOSED or as a HALF_OPEN probe only.
    assert {a.state for a in default_report.attempts} <= {"closed", "half_open"}
    for attempt in default_report.attempts:
        bands = default_report.bands()[attempt.provider]
        band = next(b for b in bands if b.start <= attempt.started < b.end)
        assert band.state in ("closed", "half_open"), attempt


def test_every_breaker_event_log_replays_under_the_policy(
    default_report: SimulationReport,
) -> None:
    for provider in default_report.providers:
        events = [e for e in default_report.events if e.provider == provider.name]
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        final = default_report.bands()[provider.name][-1].state
        assert replay(events, BreakerPolicy()).value == final
        assert provider.transitions == len(events)


def test_figures_add_up(default_report: SimulationReport) -> None:
    report = default_report
    summary = report.summary()
    assert summary["requests"] == len(report.requests) > 0
    assert summary["succeeded"] + summary["failed"] + summary["unavailable"] == len(report.requests)
    assert sum(p.attempts for p in report.providers) == len(report.attempts)
    assert sum(r.attempts for r in report.requests) == len(report.attempts)
    for provider in report.providers:
        assert sum(provider.time_in_state.values()) == pytest.approx(report.end)
        mine = [a for a in report.attempts if a.provider == provider.name]
        assert provider.probes == sum(1 for a in mine if a.state == "half_open")
    assert summary["reached_failing_provider"] == sum(
        1 for r in report.requests if r.failed_attempts
    )


def test_added_latency_is_the_time_before_the_answering_attempt(
    default_report: SimulationReport,
) -> None:
    answered = [r for r in default_report.requests if r.outcome == "ok"]
    for request in answered:
        assert request.served_latency is not None
        assert request.added_latency == pytest.approx(
            request.ended - request.arrived - request.served_latency
        )
        if request.failed_attempts == 0:
            assert request.added_latency == pytest.approx(0.0, abs=1e-9)
    values = [r.added_latency for r in answered if r.added_latency is not None]
    assert default_report.added_latency(50) == percentile(values, 50)


def test_a_run_is_reproducible_and_the_seed_matters() -> None:
    scenario = load_scenario()
    first, again = simulate(scenario, seed=3), simulate(scenario, seed=3)
    assert first.to_json(details=True) == again.to_json(details=True)
    other = simulate(scenario, seed=4)
    assert [r.arrived for r in other.requests] != [r.arrived for r in first.requests]


# --- the engine on small scenarios --------------------------------------------------------------


def test_outage_errors_open_the_breaker_and_traffic_fails_over() -> None:
    scenario = scenario_from_mapping(
        tiny(a={"priority": 2, "outages": [{"start": 10, "end": 30}]}, b={"priority": 1})
    )
    report = simulate(scenario, BreakerPolicy(open_jitter=0.0, open_duration=5.0))
    during = [a for a in report.attempts if 10 <= a.started < 30]
    assert {a.outcome for a in during if a.provider == "a"} == {"error"}
    assert any(a.provider == "b" and a.outcome == "ok" for a in during)
    assert report.success_rate == 1.0
    assert report.events[0].provider == "a"
    assert report.events[0].dest is BreakerState.OPEN


def test_a_timeout_outage_times_attempts_out() -> None:
    scenario = scenario_from_mapping(
        tiny(
            a={"priority": 2, "outages": [{"start": 5, "end": 20, "mode": "timeout"}]},
            b={"priority": 1},
        )
    )
    report = simulate(scenario)
    timed_out = [a for a in report.attempts if a.outcome == "timeout"]
    assert timed_out
    assert all(a.ended - a.started == pytest.approx(5.0) for a in timed_out)


def test_quota_and_bursts_answer_429_with_retry_after() -> None:
    scenario = scenario_from_mapping(
        tiny(
            a={
                "priority": 2,
                "quota": {"per_minute": 30},
                "rate_limit_bursts": [{"start": 40, "end": 45, "retry_after": 50}],
            },
            b={"priority": 1},
        )
    )
    report = simulate(scenario)
    limited = [a for a in report.attempts if a.provider == "a" and a.outcome == "rate_limited"]
    assert limited
    assert sum(1 for a in report.attempts if a.provider == "a" and a.outcome == "ok") <= 30
    assert any(e.reason.value == "rate_limited" for e in report.events)


def test_random_errors_follow_the_error_rate() -> None:
    scenario = scenario_from_mapping(
        tiny(a={"error_rate": 0.2, "latency": 0.1}) | {"arrivals": {"rate": 5, "duration": 200}}
    )
    report = simulate(scenario, BreakerPolicy(max_consecutive_failures=1000, minimum_calls=1000))
    errors = sum(1 for a in report.attempts if a.outcome == "error")
    assert 0.14 < errors / len(report.attempts) < 0.26


def test_the_same_draws_whatever_the_policy() -> None:
    # A request meets the same latency at a provider under any policy (common random numbers).
    scenario = scenario_from_mapping(
        tiny(a={"latency": {"dist": "uniform", "low": 0.1, "high": 0.9}})
    )
    one = simulate(scenario, BreakerPolicy())
    two = simulate(scenario, BreakerPolicy(open_duration=5.0))
    assert [(a.request, a.ended - a.started) for a in one.attempts] == [
        (a.request, a.ended - a.started) for a in two.attempts
    ]


def test_arrivals_are_poisson_within_the_duration() -> None:
    import random

    times = arrival_times(10.0, 1000.0, random.Random(0))
    assert times == sorted(times)
    assert times[0] > 0
    assert times[-1] < 1000.0
    assert 9500 < len(times) < 10500


# --- the command --------------------------------------------------------------------------------


def test_simulate_without_arguments_prints_timeline_table_and_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["simulate"]) == 0
    out = capsys.readouterr().out
    assert "Timeline:" in out
    assert "closed -> open" in out
    assert "consecutive_failures" in out
    assert "primary" in out
    assert "budget" in out
    assert "slow" in out
    assert "added latency p99" in out
    assert "reached a failing provider" in out
    assert "\x1b[" not in out  # not a terminal: plain text


def test_simulate_json_is_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--json", "--seed", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    report = simulate(load_scenario(), seed=3)
    assert data["summary"] == json.loads(json.dumps(report.summary()))
    assert len(data["events"]) == len(report.events)
    assert set(data["bands"]) == {"primary", "budget", "slow"}


def test_simulate_with_a_policy_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = POLICIES / "fast-recovery.toml"
    assert main(["simulate", "--policy", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = simulate(load_scenario(), policy_from_toml(path))
    assert data["policy"] == str(path)
    assert data["summary"]["transitions"] == len(expected.events)


def test_compare_runs_both_policies_on_the_same_seed(capsys: pytest.CaptureFixture[str]) -> None:
    a, b = POLICIES / "default.toml", POLICIES / "fast-recovery.toml"
    assert main(["simulate", "--compare", str(a), str(b), "--json", "--details"]) == 0
    runs = json.loads(capsys.readouterr().out)["compare"]
    assert [r["policy"] for r in runs] == [str(a), str(b)]
    assert runs[0]["seed"] == runs[1]["seed"]
    arrivals = [[r["arrived"] for r in run["requests"]] for run in runs]
    assert arrivals[0] == arrivals[1]
    assert runs[0]["summary"] != runs[1]["summary"]
    assert main(["simulate", "--compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert f"Providers under {a}" in out
    assert f"Providers under {b}" in out


def test_policy_and_compare_together_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    a = str(POLICIES / "default.toml")
    assert main(["simulate", "--policy", a, "--compare", a, a]) == 2
    assert "either --policy or --compare" in capsys.readouterr().err
