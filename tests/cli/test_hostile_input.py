"""Every subcommand over a corpus of hostile files and flags: exit code 2 (bad input) with a
short message and never a traceback; a bad Redis URL never shows its password; a closed
standard output ends the command quietly with exit code 141; a bug is one line, exit code 3."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import failover.cli
from failover.cli import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERNAL, main

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-sekrit"

# name -> (file text or bytes, a phrase the message must hold; "" for any clear message)
POLICY_FILES: dict[str, tuple[str | bytes, str]] = {
    "deep_arrays": ("[policy]\nx = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    "deep_tables": ("[policy]\nx = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n", "nested too"),
    "many_terms": (
        '[policy]\ntrip_condition = "' + " | ".join(["timed_out()"] * 3000) + '"\n',
        "expression too long: 41997 characters",
    ),
    "many_short_terms": (
        '[policy]\ntrip_condition = "' + "|".join(["a()"] * 300) + '"\n',
        "expression too long: 300 terms",
    ),
    "long_expression": (
        '[policy]\ntrip_condition = "timed_out(' + " " * 5000 + ')"\n',
        "expression too long: 5011 characters",
    ),
    "deep_parentheses": (
        '[policy]\ntrip_condition = "' + "(" * 150 + "timed_out()" + ")" * 150 + '"\n',
        "nested too deeply: 151 levels",
    ),
    "deep_tildes": ('[policy]\ntrip_condition = "' + "~" * 4000 + 'timed_out()"\n', "too long"),
    "huge_count_window": ("[policy]\nwindow = { size = 1000000000000 }\n", "from 1 to 10000"),
    "huge_time_window": ("[policy]\nwindow = { seconds = 1e300, buckets = 10 }\n", "<= 86400"),
    "huge_count": ("[policy]\nminimum_calls = 1000000000\n", "from 1 to 10000"),
    "nan": ("[policy]\nopen_duration = nan\n", "finite"),
    "inf": ("[policy]\nmax_open_duration = inf\n", "finite"),
    "unicode_digit_value": ("[policy]\nopen_duration = \u0663\n", "valid TOML"),
    "unicode_digit_argument": (
        '[policy]\ntrip_condition = "consecutive_failures(\uff13)"\n',
        "only ASCII characters",
    ),
    "long_integer": ("[policy]\nminimum_calls = " + "9" * 5000 + "\n", "numbers of reasonable"),
    "binary": (bytes(range(256)) * 8, "UTF-8"),
    "nul": (b"[policy]\nx = '\x00'\n", "valid TOML"),
    "empty": ("", "missing"),
    "too_large": ("# " + "x" * (1024 * 1024) + "\n[policy]\n", "at most 1048576 bytes"),
}

SCENARIO = "[arrivals]\nrate = 2\nduration = 60\n[[providers]]\nname = 'a'\n"
SCENARIO_FILES: dict[str, tuple[str | bytes, str]] = {
    "huge_run": (
        SCENARIO.replace("rate = 2", "rate = 1e9").replace("60", "600000"),
        "<= 1,000,000 simulated requests",
    ),
    "huge_duration": (SCENARIO.replace("duration = 60", "duration = 1e9"), "<= 604800"),
    "nan_rate": (SCENARIO.replace("rate = 2", "rate = nan"), "finite"),
    "deep": (SCENARIO + "x = " + "[" * 100 + "]" * 100 + "\n", "nested too deeply"),
    "window": (SCENARIO + "policy = { window = { size = 10001 } }\n", "from 1 to 10000"),
}


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / f"{name}.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def bad_input(capsys: pytest.CaptureFixture[str], argv: list[str], phrase: str = "") -> str:
    """Run ``argv``; assert exit code 2, no traceback, a short message holding ``phrase``."""
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err
    assert code == EXIT_BAD_INPUT, (code, err)
    assert "Traceback" not in err
    assert err.strip(), "no message at all"
    assert len(err.splitlines()) <= 8, err
    assert phrase in err, err
    return err


POLICY_COMMANDS: list[Callable[[Path], list[str]]] = [
    lambda p: ["verify", str(p)],
    lambda p: ["verify", str(p), "--json"],
    lambda p: ["diagram", str(p)],
    lambda p: ["simulate", "--policy", str(p)],
    lambda p: ["simulate", "--compare", str(p), str(p)],
]


@pytest.mark.parametrize("name", POLICY_FILES)
@pytest.mark.parametrize("command", range(len(POLICY_COMMANDS)))
def test_policy_commands_refuse_hostile_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, command: int
) -> None:
    content, phrase = POLICY_FILES[name]
    path = write(tmp_path, name, content)
    err = bad_input(capsys, POLICY_COMMANDS[command](path), phrase)
    assert err.startswith(f"failover: {path}: 1 problem\n"), err


@pytest.mark.parametrize("name", SCENARIO_FILES)
def test_simulate_refuses_hostile_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    content, phrase = SCENARIO_FILES[name]
    path = write(tmp_path, name, content)
    bad_input(capsys, ["simulate", str(path)], phrase)


@pytest.mark.parametrize("name", ["deep_arrays", "binary", "too_large", "long_integer", "empty"])
def test_check_refuses_hostile_settings_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = write(tmp_path, name, POLICY_FILES[name][0])
    bad_input(capsys, ["check", "--config", str(path)])


def test_check_refuses_a_deep_settings_file_named_by_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "deep", "[failover]\nx = " + "[" * 3000 + "]" * 3000 + "\n")
    monkeypatch.setenv("FAILOVER_CONFIG", str(path))
    bad_input(capsys, ["check"])


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "missing.toml"],
        ["diagram", "missing.toml"],
        ["simulate", "missing.toml"],
        ["simulate", "--policy", "missing.toml"],
        ["check", "--config", "missing.toml"],
        ["verify", "."],  # a folder
        ["simulate", "--seed", "\u0663"],
        ["simulate", "--seed", "\uff13"],
        ["simulate", "--seed", "1e3"],
        ["simulate", "--seed", "9" * 5000],
        ["events", "--redis", "redis://localhost", "--follow", "--count", "\uff10"],
        ["events", "--redis", "redis://localhost", "--follow", "--count", "0"],
        ["check", "--import", "tests.cli.no_such_module"],
        ["diagram", "throttled", "--output", "no/such/folder/x.md"],
        ["nonsense"],
        [],
    ],
    ids=repr,
)
def test_bad_flags_and_missing_files(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.chdir(ROOT)
    bad_input(capsys, argv)


@pytest.mark.parametrize("command", ["status", "events"])
@pytest.mark.parametrize(
    "url",
    [
        "notaurl",
        "",
        "http://example.com",
        f"redis://user:{PASSWORD}@[::1/0",
        f"redis://user:{PASSWORD}@localhost:notaport/0",
    ],
)
def test_a_bad_redis_url_is_bad_input_and_hides_the_password(
    capsys: pytest.CaptureFixture[str], command: str, url: str
) -> None:
    err = bad_input(capsys, [command, "--redis", url], "not a Redis URL")
    assert PASSWORD not in err
    assert err.count("\n") == 1


def test_an_unreachable_redis_is_bad_input_and_hides_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    err = bad_input(
        capsys, ["status", "--redis", f"redis://user:{PASSWORD}@127.0.0.1:1/0"], "cannot reach"
    )
    assert PASSWORD not in err
    assert "redis://user:***@127.0.0.1:1/0" in err


class _ClosedPipe:
    """Standard output whose reader is gone."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        raise OSError("not a real file")


@pytest.mark.parametrize("argv", [["verify", "broken"], ["diagram", "--help"], ["--help"]])
def test_a_closed_stdout_ends_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(argv) == EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["failover", "simulate"],
        ["failover", "verify", "broken"],
        ["failover.cli", "diagram", "throttled"],
    ],
)
def test_a_real_closed_pipe_exits_141_without_a_traceback(argv: list[str]) -> None:
    read, write_end = os.pipe()
    os.close(read)  # the reader is gone before the command writes a byte: `| head -0`
    try:
        run = subprocess.run(
            [sys.executable, "-m", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            check=False,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert run.returncode == EXIT_BROKEN_PIPE, run.stderr
    assert run.stderr == ""


def test_python_dash_m_failover_runs_the_command() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "failover", "verify", "missing.toml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert run.returncode == EXIT_BAD_INPUT
    assert run.stderr == "failover: missing.toml: 1 problem\nmissing.toml: (file): a readable " + (
        "file: No such file or directory\n"
    )


@pytest.mark.parametrize(
    ("error", "code", "phrase"),
    [
        (RecursionError("maximum recursion depth exceeded"), EXIT_BAD_INPUT, "nested too deeply"),
        (MemoryError(), EXIT_BAD_INPUT, "more memory than there is"),
        (KeyError(f"redis://u:{PASSWORD}@h"), EXIT_INTERNAL, "internal error: KeyError"),
    ],
    ids=["recursion", "memory", "bug"],
)
def test_an_unexpected_error_is_one_message_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    code: int,
    phrase: str,
) -> None:
    def explode(*_: object) -> int:
        raise error

    monkeypatch.setitem(failover.cli._COMMANDS, "verify", explode)
    assert main(["verify", "any.toml"]) == code
    err = capsys.readouterr().err
    assert phrase in err
    assert "Traceback" not in err
    assert PASSWORD not in err
