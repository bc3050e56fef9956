"""Argument types of the ``failover`` command: numbers in ASCII digits only.

``int()`` reads Arabic-Indic and fullwidth digits as numbers; an argument that looks like a
number to ``int`` but not to a reader is refused, as argparse refuses any bad value: a usage
error, exit code 2.
"""

from __future__ import annotations

import argparse
import re

__all__ = ["ascii_int", "positive_int"]

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
