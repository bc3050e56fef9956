"""The example policies ship in the package and the CLI finds them by name from any directory
(issue 15, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.cli import main
from failover.simulation import EXAMPLE_POLICIES, example_policy, policy_from_toml
from statemachines import ConfigurationError


@pytest.mark.parametrize("name", EXAMPLE_POLICIES)
def test_each_example_policy_is_a_file_of_the_package(name: str) -> None:
    path = example_policy(name)
    assert path.is_file()
    assert path.parent.name == "policies"
    assert example_policy(f"{name}.toml") == path
    policy_from_toml(path)  # reads (broken.toml is well-formed, only defective)


def test_an_unknown_example_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="they are broken, default, fast-recovery"):
        example_policy("fastest")


def test_the_cli_finds_an_example_by_name_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "default"]) == 0
    assert main(["verify", "broken"]) == 1
    assert main(["simulate", "--compare", "default", "fast-recovery", "--json"]) == 0
    capsys.readouterr()


def test_a_file_in_the_working_directory_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken").write_text("[policy]\n", encoding="utf-8")  # a clean policy
    assert main(["verify", "broken"]) == 0
    assert main(["verify", "nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err
