"""``failover --version``: the installed distribution's version on stdout, exit code 0."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from failover.cli import main

INSTALLED = importlib.metadata.version("failover")


def test_version_prints_the_installed_version_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--version"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"failover {INSTALLED}\n"
    assert captured.err == ""


def test_version_wins_over_a_command_after_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version", "verify", "no-such-policy.toml"]) == 0
    assert capsys.readouterr().out == f"failover {INSTALLED}\n"


def test_version_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "[--version]" in out
    assert "print the installed failover version and exit" in out


def test_version_without_an_installed_distribution_says_how_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert main(["--version"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no 'failover' distribution is installed" in captured.err
    assert "pip install failover" in captured.err


def test_the_installed_command_prints_its_version_from_any_directory(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "failover.cli", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"failover {INSTALLED}\n"
