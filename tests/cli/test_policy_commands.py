"""``failover verify`` and ``failover diagram`` over policy files, and the policy file format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from failover.cli import main
from failover.simulation import policy_from_mapping, policy_from_toml
from statemachines import BreakerPolicy, DefectKind, to_mermaid, verify_policy
from statemachines.examples import broken_policy, throttled_policy

POLICIES = Path(__file__).resolve().parents[2] / "failover" / "policies"
BROKEN, DEFAULT = POLICIES / "broken.toml", POLICIES / "default.toml"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("broken.toml", broken_policy()),
        ("throttled.toml", throttled_policy()),
        ("default.toml", BreakerPolicy()),
        (
            "fast-recovery.toml",
            BreakerPolicy(
                max_consecutive_failures=2,
                open_duration=10.0,
                open_backoff=1.5,
                max_open_duration=60.0,
                half_open_max_calls=2,
            ),
        ),
    ],
)
def test_example_policy_files_are_the_policies_they_say(name: str, expected: BreakerPolicy) -> None:
    assert policy_from_toml(POLICIES / name) == expected


def test_conditions_compose_with_or_and_not() -> None:
    policy = policy_from_mapping(
        {
            "trip_condition": "(consecutive_failures(5) | failure_rate(0.25, min_calls=4)) "
            "& ~signalled('rate_limited')"
        }
    )
    from statemachines import FailoverReason, consecutive_failures, failure_rate, signalled

    expected = (consecutive_failures(5) | failure_rate(0.25, min_calls=4)) & ~signalled(
        FailoverReason.RATE_LIMITED
    )
    assert policy.trip_condition == expected


def test_verify_flags_the_broken_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(BROKEN)]) == 1
    out = capsys.readouterr().out
    for kind in ("UNREACHABLE_STATE", "NO_WAY_BACK", "AMBIGUOUS", "MISSING_HEALTH"):
        assert kind in out
    assert "'orphan'" in out
    assert "'limbo'" in out
    assert "'quarantine'" in out


def test_verify_passes_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(DEFAULT)]) == 0
    assert "no defect" in capsys.readouterr().out


def test_verify_json_is_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(BROKEN), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    report = verify_policy(broken_policy())
    assert data["ok"] is False
    assert data["samples"] == report.samples
    assert [d["kind"] for d in data["defects"]] == [d.kind.value for d in report.defects]
    assert {d["kind"] for d in data["defects"]} >= {DefectKind.NO_WAY_BACK.value}
    assert main(["verify", str(DEFAULT), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["defects"] == []


def test_diagram_prints_the_mermaid_of_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", str(POLICIES / "throttled.toml")]) == 0
    assert capsys.readouterr().out == to_mermaid(throttled_policy()).rstrip("\n") + "\n"


def test_diagram_to_a_file_and_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "machine.mmd"
    assert main(["diagram", str(BROKEN), "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8").rstrip("\n") == to_mermaid(broken_policy()).rstrip(
        "\n"
    )
    assert f"diagram written to {target}" in capsys.readouterr().out
    assert main(["diagram", str(BROKEN), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "policy": str(BROKEN),
        "mermaid": to_mermaid(broken_policy()),
    }
