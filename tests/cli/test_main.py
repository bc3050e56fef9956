"""The command as a program: ``python -m failover.cli``, help, exit codes, rich on a terminal."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from failover.cli import main
from failover.cli._render import Output, Table, plain_table

ROOT = Path(__file__).resolve().parents[2]


def test_python_dash_m_runs_the_command() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "failover.cli", "verify", "broken"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    assert "NO_WAY_BACK" in run.stdout


def test_help_lists_the_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("simulate", "verify", "diagram", "check"):
        assert command in out
    assert "exit codes: 0 ok; 1 defects found or providers unhealthy; 2 bad input" in out


def test_plain_tables_align_columns() -> None:
    table = Table("T", ("name", "n"), (("a", "1"), ("bbb", "22")), frozenset({1}))
    assert plain_table(table) == "T\nname   n\na      1\nbbb   22\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rich_on_a_terminal_plain_otherwise() -> None:
    assert Output(_Terminal()).rich is True
    assert Output(io.StringIO()).rich is False
    stream = _Terminal()
    Output(stream).table(Table("T", ("name",), (("a",),)))
    assert "┃" in stream.getvalue() or "│" in stream.getvalue()


def test_progress_only_on_a_terminal() -> None:
    with Output(io.StringIO()).progress("x", 10.0) as update:
        assert update is None
    stream = _Terminal()
    with Output(stream).progress("x", 10.0) as update:
        assert update is not None
        update(5.0)
