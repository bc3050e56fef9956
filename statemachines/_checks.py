"""Validators shared by the policy records: each raises one ConfigurationError that names the
field, shows the value given and says what would be accepted."""

from __future__ import annotations

import math
from typing import Any

from statemachines._errors import ConfigurationError

__all__ = [
    "MAX_POLICY_COUNT",
    "MAX_WINDOW_SECONDS",
    "MAX_WINDOW_SIZE",
    "check_fraction",
    "check_int",
    "check_number",
    "check_seconds",
    "instance_of",
    "shown",
]

MAX_POLICY_COUNT = 10_000
"""The ceiling of a policy's counts: minimum_calls, max_consecutive_failures,
half_open_max_calls and health_failures_to_trip (a real policy counts tens, not thousands)."""
MAX_WINDOW_SIZE = 10_000
"""The largest CountWindow: it keeps one slot per call, allocated when a breaker is built."""
MAX_WINDOW_SECONDS = 86_400.0
"""The longest TimeWindow span, in seconds (one day)."""

_SHOWN = 80


def shown(value: object) -> str:
    """``repr(value)``, cut to 80 characters (a 4,000-digit int stays readable)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr (sys.get_int_max_str_digits)
        return f"<an int of about {int(value).bit_length() * 0.30103:.0f} digits>"  # type: ignore[call-overload]
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_number(field: str, value: Any, *, minimum: float, strict: bool = False) -> None:
    """A finite real number >= minimum (> minimum when strict)."""
    bad = not _is_number(value) or not math.isfinite(value)
    bad = bad or (value <= minimum if strict else value < minimum)
    if bad:
        relation = ">" if strict else ">="
        raise ConfigurationError(
            f"{field} must be a finite number {relation} {minimum:g}, got {value!r}"
        )


def check_seconds(field: str, value: Any) -> None:
    """A finite duration in seconds, > 0."""
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{field} must be a finite number of seconds > 0, got {value!r}")


def check_fraction(field: str, value: Any, *, allow_zero: bool = False) -> None:
    """A number in (0, 1], or [0, 1] with allow_zero."""
    ok = _is_number(value) and math.isfinite(value) and value <= 1
    if not (ok and (value >= 0 if allow_zero else value > 0)):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ConfigurationError(f"{field} must be a number in {interval}, got {value!r}")


def check_int(field: str, value: Any, *, minimum: int, maximum: int | None = None) -> None:
    """An int (not a bool) >= minimum (and <= maximum, when given)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigurationError(f"{field} must be an int >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(
            f"{field} must be an int from {minimum} to {maximum}, got {shown(value)}"
        )


def instance_of(kind: type | tuple[type, ...], field: str, accepted: str) -> Any:
    """An attrs validator raising ConfigurationError (not TypeError) for a value of the wrong type.

    ``bool`` is exact: 1 and 0 are not accepted where a bool is wanted.
    """

    def validate(_: object, __: object, value: Any) -> None:
        ok = type(value) is bool if kind is bool else isinstance(value, kind)
        if not ok:
            raise ConfigurationError(f"{field} must be {accepted}, got {value!r}")

    return validate
