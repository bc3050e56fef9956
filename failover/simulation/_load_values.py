"""Reading a scenario's plain values: numbers, texts, the seed, replicas and the arrivals.

Each reader returns the value, or None with its problem recorded. Besides types, the arrivals
are bounded so that no scenario exhausts memory: ``arrivals.duration`` at most
``MAX_SIMULATED_SECONDS`` and ``rate x duration`` at most ``MAX_SIMULATED_REQUESTS`` (each
simulated request is kept for the report, about 1 KiB).
"""

from __future__ import annotations

import math

from failover._base.numbers import in_range
from failover._config.problems import Problems, join
from failover.simulation._scenario import Arrivals

__all__ = [
    "MAX_REPLICAS",
    "MAX_SIMULATED_REQUESTS",
    "MAX_SIMULATED_SECONDS",
    "arrivals_in",
    "number_in",
    "replicas_in",
    "seed_in",
    "text_in",
]

MAX_REPLICAS = 16
"""The most coordinators a scenario may run over one storage."""
MAX_SIMULATED_REQUESTS = 1_000_000
"""The most requests a scenario may simulate (rate x duration): each costs about 1 KiB."""
MAX_SIMULATED_SECONDS = 7 * 86_400.0
"""The longest simulated duration (a week of virtual time)."""


def number_in(
    problems: Problems,
    path: str,
    value: object,
    minimum: float,
    *,
    strict: bool = False,
    maximum: float | None = None,
) -> float | None:
    high = math.inf if maximum is None else maximum
    if in_range(value, minimum, high, strict_low=strict):
        return float(value)
    bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
    upper = "" if maximum is None else f" and <= {maximum:g}"
    problems.add(path, value, f"a finite number {bound}{upper}")
    return None


def text_in(problems: Problems, path: str, value: object, *, empty: bool = False) -> str | None:
    if isinstance(value, str) and (empty or value.strip()):
        return value
    problems.add(path, value, "a string" if empty else "a non-empty string")
    return None


def replicas_in(problems: Problems, value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_REPLICAS:
        return value
    problems.add("replicas", value, f"an integer from 1 to {MAX_REPLICAS}")
    return None


def seed_in(problems: Problems, value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    problems.add("seed", value, "an integer")
    return None


def arrivals_in(problems: Problems, value: object) -> Arrivals | None:
    if value is None:
        problems.missing("arrivals", "a table with rate (requests per second) and duration")
        return None
    table = problems.table("arrivals", value, ("rate", "duration"))
    found = []
    for key, most in (("rate", None), ("duration", MAX_SIMULATED_SECONDS)):
        if key not in table:
            problems.missing(join("arrivals", key), "a finite number > 0")
        else:
            found.append(
                number_in(problems, join("arrivals", key), table[key], 0, strict=True, maximum=most)
            )
    if len(found) != 2 or None in found:
        return None
    rate, duration = found
    if rate * duration > MAX_SIMULATED_REQUESTS:  # type: ignore[operator]
        problems.add(
            "arrivals",
            f"rate {rate:g} x duration {duration:g} = {rate * duration:.3g} requests",  # type: ignore[operator]
            f"arrivals.rate x arrivals.duration <= {MAX_SIMULATED_REQUESTS:,} simulated "
            "requests (each is kept for the report)",
            shown=True,
        )
        return None
    return Arrivals(rate, duration)  # type: ignore[arg-type]
