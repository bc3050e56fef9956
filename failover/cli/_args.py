"""Argument types of the ``failover`` command, and its ``--version``.

Numbers are read in ASCII digits only: ``int()`` reads Arabic-Indic and fullwidth digits as
numbers; an argument that looks like a number to ``int`` but not to a reader is refused, as
argparse refuses any bad value: a usage error, exit code 2.

``--version`` prints ``failover X.Y.Z``, the installed distribution's version, and exits 0; the
version is looked up only when asked for.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["DISTRIBUTION", "VersionAction", "ascii_int", "positive_int", "version_line"]

DISTRIBUTION = "failover"

_INT = re.compile(r"[+-]?[0-9]{1,4000}")


def ascii_int(text: str) -> int:
    """An integer written in ASCII digits, with an optional sign."""
    if not _INT.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"invalid int value: {text[:40]!r} (ASCII digits 0-9 only, with an optional sign)"
        )
    return int(text)


def positive_int(text: str) -> int:
    """An integer >= 1, in ASCII digits."""
    number = ascii_int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"invalid value: {number} (an integer >= 1)")
    return number


def version_line() -> str:
    """``failover X.Y.Z``: the version of the installed ``failover`` distribution.

    Raises:
        importlib.metadata.PackageNotFoundError: If no ``failover`` distribution is installed
            (the sources are imported from a checkout without ``pip install``).
    """
    return f"{DISTRIBUTION} {importlib.metadata.version(DISTRIBUTION)}"


class VersionAction(argparse.Action):
    """``--version``: print ``failover X.Y.Z`` on standard output and exit 0.

    Without an installed distribution it writes why on standard error and exits 2 (the
    environment is the bad input).
    """

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="print the installed failover version and exit",
            **kwargs,
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> NoReturn:
        try:
            line = version_line()
        except importlib.metadata.PackageNotFoundError:
            parser.exit(
                2,
                f"{parser.prog}: the version is unknown: no '{DISTRIBUTION}' distribution is "
                "installed (install it with 'pip install failover', or 'pip install -e .' "
                "from a checkout)\n",
            )
        sys.stdout.write(line + "\n")
        parser.exit(0)
