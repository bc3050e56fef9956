"""The numeric checks of ``failover.settings``: every number has a floor and a ceiling.

Each check takes a value as given and returns it normalized, or raises ``Invalid`` saying what
would be accepted, the range included. NaN, infinities, bools and ints too large for a float are
refused everywhere. The ranges of the runtime records (HealthCheckConfig, RetryPolicy) are
theirs; the others are the constants below, listed in docs/reference/settings.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Final, cast

import attrs

from failover._config.checks import (
    HIDDEN,
    Found,
    Invalid,
    bad,
    checked_rate_limits,
    lenient,
    limit,
    secret_name,
    show,
    under,
)
from failover.health import (
    MAX_HEALTH_CHECK_INTERVAL,
    MAX_HEALTH_CHECK_TIMEOUT,
    MIN_HEALTH_CHECK_INTERVAL,
    HealthCheckConfig,
)
from failover.retry import MAX_ATTEMPTS, MAX_BACKOFF_FACTOR, MAX_TIMEOUT
from statemachines import ConfigurationError

MAX_CONSECUTIVE_FAILURES: Final = 1_000
"""The most consecutive failures ``max_consecutive_failures`` may ask for."""
MAX_PRIORITY: Final = 1_000_000.0
"""A provider's ``priority`` is within -MAX_PRIORITY..MAX_PRIORITY."""
MAX_WEIGHT: Final = 1_000_000.0
"""A provider's ``weight`` is > 0 and at most this."""
RESPONSE_BYTES_RANGE: Final = (1024, 1024**3)
"""``options.max_response_bytes``: from 1 KiB to 1 GiB (as providers._reading checks it)."""

_FLOAT_INT: Final = 2**1000  # ints beyond this are out of every range (and of float's)


def _real(value: object) -> float | None:
    """``value`` as a finite float, or None (not a number, a bool, NaN, inf, a huge int)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and abs(value) > _FLOAT_INT:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _between(value: object, low: float, high: float, *, above: bool, what: str) -> float:
    """A finite number in [low, high] ((low, high] when ``above``)."""
    number = _real(value)
    if number is not None and (number > low if above else number >= low) and number <= high:
        return number
    floor = f"> {low:g}" if above else f">= {low:g}"
    raise bad(f"a finite number{what} {floor} and <= {high:g}", value)


def _int_between(value: object, low: int, high: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise bad(f"an int >= {low} and <= {high}", value)


def checked_interval(value: object) -> float:
    low, high = MIN_HEALTH_CHECK_INTERVAL, MAX_HEALTH_CHECK_INTERVAL
    return _between(value, low, high, above=False, what=" of seconds")


def health_timeout(value: object) -> float:
    return _between(value, 0, MAX_HEALTH_CHECK_TIMEOUT, above=True, what=" of seconds")


def checked_timeout(value: object) -> float:
    return _between(value, 0, MAX_TIMEOUT, above=True, what=" of seconds")


def factor(value: object) -> float:
    return _between(value, 1, MAX_BACKOFF_FACTOR, above=False, what="")


def checked_weight(value: object) -> float:
    return _between(value, 0, MAX_WEIGHT, above=True, what="")


def checked_priority(value: object) -> float:
    return _between(value, -MAX_PRIORITY, MAX_PRIORITY, above=False, what="")


def _attempts(value: object) -> int:
    return _int_between(value, 1, MAX_ATTEMPTS)


def retries(value: object) -> int:
    """Attempts after the first (``max_retries_per_request``): 0 .. MAX_ATTEMPTS - 1."""
    return _int_between(value, 0, MAX_ATTEMPTS - 1)


HEALTH_OFF: Final = "off"
"""A provider's ``health_check_interval`` that turns its background checks off."""


def own_interval(value: object) -> float | str | None:
    if value is None or value == HEALTH_OFF:
        return value
    low, high = MIN_HEALTH_CHECK_INTERVAL, MAX_HEALTH_CHECK_INTERVAL
    try:
        return checked_interval(value)
    except Invalid:
        expected = f"a finite number of seconds >= {low:g} and <= {high:g}, or {HEALTH_OFF!r}"
        raise bad(expected, value) from None


def own_timeout(value: object) -> float | None:
    return None if value is None else health_timeout(value)


def checked_hedge_after(value: object) -> float | None:
    return (
        None if value is None else _between(value, 0, MAX_TIMEOUT, above=True, what=" of seconds")
    )


def own_health(
    base: HealthCheckConfig, interval: float | str | None, timeout: float | None
) -> HealthCheckConfig:
    """``base`` with a provider's own interval ("off": no background checks) and timeout."""
    changes: dict[str, Any] = {}
    if interval == HEALTH_OFF:
        changes["enabled"] = False
    elif interval is not None:
        changes["interval"] = interval
    if timeout is not None:
        changes["timeout"] = timeout
    return attrs.evolve(base, **changes)


def failures(value: object) -> int:
    return _int_between(value, 1, MAX_CONSECUTIVE_FAILURES)


def _response_bytes(value: object) -> int:
    low, high = RESPONSE_BYTES_RANGE
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise bad(f"an int >= {low} and <= {high} (bytes)", value)


_OPTION_CHECKS: Final = {"timeout": checked_timeout, "max_response_bytes": _response_bytes}
"""The options whose values are checked when settings are read (the others by the factory)."""


def checked_options(value: object) -> dict[str, object]:
    expected = "a table of options for the provider, with string keys"
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        # Its repr could hold a credential: only its type is shown.
        raise Invalid([((), f"<{type(value).__name__}>", expected)])
    secret = [key for key in value if secret_name(key)]
    if secret:
        expected = "no credential here: API keys come from the environment (name it in api_key_env)"
        raise Invalid([((key,), HIDDEN, expected) for key in secret])
    found: list[Found] = []
    for key, check in _OPTION_CHECKS.items():
        try:
            if key in value:
                check(value[key])  # kept as given (an int timeout stays an int)
        except Invalid as exc:
            found += under(key, exc)
    if found:
        raise Invalid(found)
    return dict(value)


def _health_problems(interval: float, timeout: float) -> list[Found]:
    """The health check's timeout must be below its interval (each already in its range)."""
    if timeout < interval:
        return []
    expected = f"a number of seconds below health_check_interval ({interval:g})"
    return [(("health_check_timeout",), show(timeout), expected)]


def limit_in(value: int | str | None) -> int | None:
    return cast("int | None", lenient(limit, value))


def rate_limits_in(value: Mapping[str, int | str | None]) -> Mapping[str, int | None]:
    return cast("Mapping[str, int | None]", lenient(checked_rate_limits, value))


def options_in(value: Mapping[str, object]) -> Mapping[str, object]:
    return cast("Mapping[str, object]", lenient(checked_options, value))


def derived_problems(settings: Any) -> list[Found]:
    """What keeps the runtime objects of a FailoverSettings (its fields each checked) from being
    built: the health timeout not below the interval, or a provider's policy that does not
    hold with the global max_consecutive_failures."""
    found = _health_problems(settings.health_check_interval, settings.health_check_timeout)
    if found:
        return found
    derived: list[tuple[tuple[str | int, ...], str, Callable[[], object]]] = [
        ((), "retry policy", settings.retry_policy),
        ((), "health check configuration", settings.health_config),
        (("max_consecutive_failures",), "breaker policy", settings.breaker_policy),
    ]
    for index, provider in enumerate(settings.providers):
        name = provider.name
        derived.append(
            (("providers", index, "policy"), "policy", partial(settings.breaker_policy, name))
        )
        derived.append(
            (("providers", index, "rate_limits"), "rate limit", partial(settings.rate_limit, name))
        )
        own = (provider.health_check_interval, provider.health_check_timeout)
        derived.append(
            (
                ("providers", index, "health_check_timeout"),
                "health-check configuration (a timeout below the interval)",
                partial(own_health, settings.health_config(), *own),
            )
        )
    for path, what, derive in derived:
        try:
            derive()
        except (ConfigurationError, ArithmeticError, ValueError) as exc:
            found.append((path, None, f"settings that make a valid {what} ({exc})"))
    return found
