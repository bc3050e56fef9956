"""What a number given to the library must be: a real number (an int or a float, never a bool),
finite (an int too large for a float counts as infinite, rather than raising OverflowError),
and often in a range. One place for it: the public records (RetryPolicy, HealthCheckConfig),
the clocks and the coordinator's arguments check numbers through here."""

from __future__ import annotations

import math
from typing import TypeGuard

__all__ = ["finite", "in_range"]

_LARGEST_INT = 2**1000  # larger ints are past any bound here, and float() of some overflows


def finite(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is a finite real number (not a bool, NaN or an infinity)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= _LARGEST_INT
    return math.isfinite(value)


def in_range(
    value: object, low: float, high: float, *, strict_low: bool = False
) -> TypeGuard[int | float]:
    """Whether ``value`` is a finite real number in [low, high] (``(low, high]`` with
    ``strict_low``)."""
    return finite(value) and (value > low if strict_low else value >= low) and value <= high
