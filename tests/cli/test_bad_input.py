"""Bad scenario and policy files: one message per problem (file, key path, what would be
accepted), exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.cli import main
from failover.simulation import (
    PolicyFileError,
    ScenarioError,
    load_scenario,
    policy_from_toml,
    scenario_from_mapping,
)

GOOD = """
[arrivals]
rate = 2
duration = 60

[[providers]]
name = "a"
"""


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *args: str) -> list[str]:
    """Run ``failover simulate FILE`` (or ``args`` with FILE) on ``text``; the problem lines."""
    path = tmp_path / "input.toml"
    path.write_text(text, encoding="utf-8")
    command = [a.replace("FILE", str(path)) for a in args] or ["simulate", str(path)]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[0].startswith(f"failover: {path}: ")
    assert all(line.startswith(f"{path}: ") for line in lines[1:])
    return [line.removeprefix(f"{path}: ") for line in lines[1:]]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            GOOD + "colour = 'red'\n",
            "providers[0].colour: unknown key; the accepted keys are name,",
        ),
        ("speed = 1\n" + GOOD, "speed: unknown key; the accepted keys are name, description"),
        (
            GOOD.replace("rate = 2", "rate = -2"),
            "arrivals.rate: got -2; expected a finite number > 0",
        ),
        (GOOD.replace("rate = 2", "rate = 'fast'"), "arrivals.rate: got 'fast'; expected a finite"),
        (GOOD.replace("duration = 60", ""), "arrivals.duration: missing; a finite number > 0"),
        (
            GOOD + "outages = [{ start = 300, end = 100 }]\n",
            "providers[0].outages[0].end: got 100; expected a time after start (300)",
        ),
        (
            GOOD + "outages = [{ start = 1, end = 2, mode = 'flood' }]\n",
            "providers[0].outages[0].mode: got 'flood'; expected 'error' (503 at once) or",
        ),
        (
            GOOD + "error_rate = 1.5\n",
            "providers[0].error_rate: got 1.5; expected a finite number >= 0 and <= 1",
        ),
        (
            GOOD + "latency = { dist = 'lognormal', median = 1.0, p99 = 0.5 }\n",
            "providers[0].latency.p99: got 0.5; expected a p99 > median (1)",
        ),
        (
            GOOD + "latency = 'fast'\n",
            "providers[0].latency: got 'fast'; expected a number of seconds",
        ),
        (
            GOOD + "quota = { per_minute = 0 }\n",
            "providers[0].quota.per_minute: got 0; expected an int >= 1",
        ),
        (
            GOOD + "rate_limit_bursts = [{ start = 1, end = 5, retry_after = -3 }]\n",
            "providers[0].rate_limit_bursts[0].retry_after: got -3; expected a finite number > 0",
        ),
        (
            GOOD + "policy = { open_duration = 'long' }\n",
            "providers[0].policy.open_duration: got 'long'",
        ),
        ("seed = 'x'\n" + GOOD, "seed: got 'x'; expected an integer"),
        (
            "strategy = 'fastest'\n" + GOOD,
            "strategy: got 'fastest'; expected one of 'success_rate'",
        ),
        ("[retry]\nmax_attempts = 0\n" + GOOD, "retry.max_attempts: got 0; expected an int >= 1"),
        (
            "[policy]\nopen_duration = -5\n" + GOOD,
            "policy.open_duration: got -5; expected a finite",
        ),
        (
            GOOD + "[[providers]]\nname = 'a'\n",
            "providers[1].name: got 'a'; expected a name no other",
        ),
        ("[arrivals]\nrate = 1\nduration = 1\n", "providers: missing; one [[providers]] table"),
        ("name = [1\n", "(file): valid TOML: "),
    ],
)
def test_each_problem_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    lines = run(tmp_path, capsys, text)
    assert len(lines) == 1, lines
    assert lines[0].startswith(problem), lines


def test_every_problem_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "seed = 'x'\n[arrivals]\nrate = -1\nduration = 0\n[[providers]]\nname = 'a'\n"
        "outages = [{ start = 5, end = 1 }]\nerror_rate = -1\n"
    )
    lines = run(tmp_path, capsys, text)
    paths = sorted(line.split(":")[0] for line in lines)
    assert paths == [
        "arrivals.duration",
        "arrivals.rate",
        "providers[0].error_rate",
        "providers[0].outages[0].end",
        "seed",
    ]


def test_a_missing_scenario_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "nope.toml: (file): a readable file" in err
    assert "Traceback" not in err


def test_timeout_outages_need_a_timeout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        "[retry]\nrequest_timeout = false\n"
        + GOOD
        + "outages = [{ start = 1, end = 2, mode = 'timeout' }]\n"
    )
    lines = run(tmp_path, capsys, text)
    assert lines[0].startswith("retry.request_timeout: got False")


def test_loaders_raise_one_error_listing_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[arrivals]\nrate = -1\nduration = -1\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.source == str(path)
    assert [p.path for p in caught.value.problems] == [
        "arrivals.rate",
        "arrivals.duration",
        "providers",
    ]
    assert isinstance(caught.value, ValueError)


def test_a_number_no_float_can_hold_is_a_problem_not_an_overflow() -> None:
    data = {"arrivals": {"rate": 10**400, "duration": 60}, "error_latency": -(10**400)}
    with pytest.raises(ScenarioError) as caught:
        scenario_from_mapping({**data, "providers": [{"name": "a"}]})
    found = {p.path: p.expected for p in caught.value.problems}
    assert found["arrivals.rate"].startswith("a finite number > 0")
    assert found["error_latency"] == "a finite number >= 0"


def transition(**fields: str) -> str:
    """A [[policy.transitions]] table: a valid one, but for ``fields`` (TOML values)."""
    table = {"name": "'t'", "source": "'closed'", "dest": "'open'", "reason": "'manual'"}
    table.update(fields)
    return "[[policy.transitions]]\n" + "".join(f"{k} = {v}\n" for k, v in table.items())


# --- policy files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[policy]\nbogus = 1\n", "policy.bogus: unknown key; the accepted keys are failure_rate"),
        (
            "[policy]\nhalf_open_max_calls = 0\n",
            "policy.half_open_max_calls: got 0; expected an int >= 1",
        ),
        (
            "[policy]\nopen_duration = 'long'\n",
            "policy.open_duration: got 'long'; expected a finite",
        ),
        ("[policy]\nwindow = { size = 0 }\n", "policy.window.size: got 0"),
        ("[policy]\n[breaker]\n", "breaker: unknown key; the accepted keys are policy"),
        ("x = 1\n[policy]\n", "x: unknown key; the accepted keys are policy"),
        ("", "policy: missing; a [policy] table of BreakerPolicy fields"),
        (
            "[policy]\ntrip_condition = 'explode(3)'\n",
            "policy.trip_condition: got 'explode(3)'; expected an expression",
        ),
        (
            "[policy]\ntrip_condition = 'consecutive_failures('\n",
            "policy.trip_condition: got 'consecutive_failures('",
        ),
        (
            "[policy]\ntrip_condition = 'consecutive_failures(0)'\n",
            "policy.trip_condition: got 'consecutive_failures(0)'",
        ),
        ("[policy]\ntrip_condition = 3\n", "policy.trip_condition: got 3; expected an expression"),
        (
            "[[policy.states]]\nname = 'Bad Name'\n",
            "policy.states[0].name: got 'Bad Name'; expected a lowercase",
        ),
        (
            "[[policy.states]]\nname = 'x'\nhealth = 'great'\n",
            "policy.states[0].health: got 'great'; expected one of 'healthy'",
        ),
        ("[[policy.states]]\nname = 'x'\nduration = -1\n", "policy.states[0].duration: got -1"),
        (
            transition(source="'nowhere'", on="'manual'"),
            "policy.transitions[0].source: got 'nowhere'; expected a state: one of 'closed'",
        ),
        (
            transition(reason="'because'", on="'manual'"),
            "policy.transitions[0].reason: got 'because'; expected one of 'error_rate'",
        ),
        (
            transition(),
            "policy.transitions[0].condition: missing; an expression",
        ),
        (
            transition(name="'trip'", on="'manual'"),
            "policy: a consistent policy: BreakerPolicy.transitions reuses the built-in name(s)",
        ),
    ],
)
@pytest.mark.parametrize("command", ["verify", "diagram"])
def test_each_policy_problem_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str, command: str
) -> None:
    lines = run(tmp_path, capsys, text, command, "FILE")
    assert len(lines) == 1, lines
    assert lines[0].startswith(problem), lines


def test_a_bad_policy_for_simulate_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = run(tmp_path, capsys, "[policy]\nopen_duration = 0\n", "simulate", "--policy", "FILE")
    assert lines == ["policy.open_duration: got 0; expected a finite number of seconds > 0"]


def test_policy_from_toml_raises_policy_file_error(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[policy]\nminimum_calls = -1\nopen_backoff = 0.5\n", encoding="utf-8")
    with pytest.raises(PolicyFileError) as caught:
        policy_from_toml(path)
    assert [p.path for p in caught.value.problems] == [
        "policy.minimum_calls",
        "policy.open_backoff",
    ]


def test_unknown_command_and_bad_option_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 2
    assert "give a command" in capsys.readouterr().err
    assert main(["explode"]) == 2
    assert main(["simulate", "--seed", "x"]) == 2
    assert "invalid int value: 'x'" in capsys.readouterr().err
