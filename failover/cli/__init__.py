"""The ``failover`` command line: simulate outages, verify and draw policies, check providers.

::

    failover simulate [SCENARIO.toml] [--policy POLICY.toml | --compare A.toml B.toml]
                      [--seed N] [--plot timeline.png] [--json [--details]]
    failover verify POLICY.toml [--json]
    failover diagram POLICY.toml [--output FILE] [--json]
    failover check [--config failover.toml] [--import MODULE] [--json]
    failover status --redis URL [--prefix P] [--provider NAME] [--json]
    failover events --redis URL [--prefix P] [--provider NAME] [--follow [--count N]] [--json]

Exit codes: 0 success; 1 the command ran and found defects (``verify``) or unhealthy providers
(``check``); 2 bad input (arguments, a scenario, policy or settings file with problems, missing
API keys). Bad input never shows a traceback: one line per problem, with the file, the key path
and what would be accepted. ``main(argv)`` returns the exit code (it never calls ``sys.exit``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from failover.cli._check import add_parser as _add_check
from failover.cli._check import check as _check
from failover.cli._errors import EXIT_BAD_INPUT, EXIT_DEFECTS, EXIT_OK, CommandError
from failover.cli._policy_commands import add_parsers as _add_policy_commands
from failover.cli._policy_commands import diagram as _diagram
from failover.cli._policy_commands import verify as _verify
from failover.cli._redis import add_parsers as _add_redis_commands
from failover.cli._redis import events as _events
from failover.cli._redis import status as _status
from failover.cli._render import Output
from failover.cli._simulate import add_parser as _add_simulate
from failover.cli._simulate import run as _simulate
from failover.settings import SettingsError
from failover.simulation import InputFileError
from statemachines import ConfigurationError

__all__ = ["EXIT_BAD_INPUT", "EXIT_DEFECTS", "EXIT_OK", "main", "parser"]

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
        epilog="exit codes: 0 ok; 1 defects found or providers unhealthy; 2 bad input",
    )
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    _add_simulate(commands)
    _add_policy_commands(commands)
    _add_check(commands)
    _add_redis_commands(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``failover`` command with ``argv`` (``sys.argv[1:]`` when None).

    Returns:
        The exit code: 0 ok, 1 defects or unhealthy providers, 2 bad input.
    """
    root = parser()
    try:
        args = root.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_INPUT
    if args.command is None:
        root.print_usage(sys.stderr)
        sys.stderr.write(
            "failover: give a command: simulate, verify, diagram, check, status or events\n"
        )
        return EXIT_BAD_INPUT
    try:
        return _COMMANDS[args.command](args, Output())
    except (InputFileError, SettingsError) as exc:
        _problems(exc.source, [str(p) for p in exc.problems])
    except CommandError as exc:
        _error(exc.lines)
        return exc.code
    except ConfigurationError as exc:
        _error([str(exc)])
    return EXIT_BAD_INPUT


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
        sys.stderr.write(line + "\n")
