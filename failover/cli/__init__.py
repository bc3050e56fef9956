"""The ``failover`` command line: simulate outages, verify and draw policies, check providers.

::

    failover simulate [SCENARIO.toml] [--policy POLICY.toml | --compare A.toml B.toml]
                      [--seed N] [--plot timeline.png] [--json [--details]]
    failover verify POLICY.toml [--json]
    failover diagram POLICY.toml [--output FILE] [--json]
    failover check [--config failover.toml] [--import MODULE] [--json]
    failover status --redis URL [--prefix P] [--provider NAME] [--json]
    failover events --redis URL [--prefix P] [--provider NAME] [--follow [--count N]] [--json]
    failover --version

Exit codes: 0 success; 1 the command ran and found defects (``verify``) or unhealthy providers
(``check``); 2 bad input (arguments, a scenario, policy or settings file with problems, missing
API keys, a bad Redis URL, a file too large or nested too deeply); 3 an internal error (a bug:
one line naming it, no traceback); 141 standard output was closed early (``failover simulate |
head -1``: nothing more is written, quietly). Bad input never shows a traceback: one line per
problem, with the file, the key path and what would be accepted. ``main(argv)`` returns the
exit code (it never calls ``sys.exit``). Every line written about an error goes through
``failover.secrets.redact``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from failover.cli._args import VersionAction
from failover.cli._check import add_parser as _add_check
from failover.cli._check import check as _check
from failover.cli._errors import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_DEFECTS,
    EXIT_INTERNAL,
    EXIT_OK,
    CommandError,
)
from failover.cli._policy_commands import add_parsers as _add_policy_commands
from failover.cli._policy_commands import diagram as _diagram
from failover.cli._policy_commands import verify as _verify
from failover.cli._redis import add_parsers as _add_redis_commands
from failover.cli._redis import events as _events
from failover.cli._redis import status as _status
from failover.cli._render import Output
from failover.cli._simulate import add_parser as _add_simulate
from failover.cli._simulate import run as _simulate
from failover.secrets import redact
from failover.settings import SettingsError
from failover.simulation import InputFileError
from statemachines import FailoverError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_DEFECTS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "main",
    "parser",
]

_COMMANDS: dict[str, Callable[[argparse.Namespace, Output], int]] = {
    "simulate": _simulate,
    "verify": _verify,
    "diagram": _diagram,
    "check": _check,
    "status": _status,
    "events": _events,
}


def parser() -> argparse.ArgumentParser:
    """The ``failover`` argument parser."""
    root = argparse.ArgumentParser(
        prog="failover",
        description="Simulate outages against a circuit-breaker policy, verify and draw "
        "policies, and check live providers.",
        epilog="exit codes: 0 ok; 1 defects found or providers unhealthy; 2 bad input; "
        "3 internal error (a bug); 141 output closed early (| head)",
    )
    root.add_argument("--version", action=VersionAction)
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    _add_simulate(commands)
    _add_policy_commands(commands)
    _add_check(commands)
    _add_redis_commands(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``failover`` command with ``argv`` (``sys.argv[1:]`` when None).

    Returns:
        The exit code: 0 ok, 1 defects or unhealthy providers, 2 bad input, 3 an internal
        error, 141 standard output closed early.
    """
    try:
        return _main(argv)
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    root = parser()
    try:
        args = root.parse_args(argv)
    except SystemExit as exit_:  # --help or --version (0), or a usage error (2), already printed
        sys.stdout.flush()
        return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_INPUT
    if args.command is None:
        root.print_usage(sys.stderr)
        sys.stderr.write(
            "failover: give a command: simulate, verify, diagram, check, status or events\n"
        )
        return EXIT_BAD_INPUT
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the command; every error becomes its lines on stderr and an exit code."""
    try:
        code = _COMMANDS[args.command](args, Output())
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except (InputFileError, SettingsError) as exc:
        _problems(exc.source, [str(p) for p in exc.problems])
    except CommandError as exc:
        _error(exc.lines)
        return exc.code
    except FailoverError as exc:  # ConfigurationError and the library's other errors
        _error([f"failover: {exc}"])
    except RecursionError:
        _error(["failover: the input is nested too deeply to read; simplify it"])
    except MemoryError:
        _error(["failover: the input asks for more memory than there is; use smaller values"])
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        where = "" if exc.filename is None else f"{exc.filename}: "
        _error([f"failover: {where}{exc.strerror or exc}"])
    except Exception as exc:  # a bug: one line, no traceback (it might hold a secret)
        _error(
            [
                f"failover: internal error: {type(exc).__name__}: {exc}",
                "failover: this is a bug in failover; please report it with the command given",
            ]
        )
        return EXIT_INTERNAL
    return EXIT_BAD_INPUT


def _quiet_stdout() -> None:
    """Point standard output at /dev/null: its reader is gone, and Python flushes it at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        pass


def _problems(source: str, problems: list[str]) -> None:
    count = len(problems)
    _error(
        [
            f"failover: {source}: {count} problem{'' if count == 1 else 's'}",
            *(f"{source}: {problem}" for problem in problems),
        ]
    )


def _error(lines: Sequence[str]) -> None:
    for line in lines:
        sys.stderr.write(redact(line) + "\n")
