"""Active health checks: configuration (the runner lives with the coordinator)."""

from __future__ import annotations

from typing import Any, Final

import attrs

from failover._base.numbers import in_range
from statemachines import ConfigurationError

__all__ = [
    "MAX_HEALTH_CHECK_INTERVAL",
    "MAX_HEALTH_CHECK_TIMEOUT",
    "MIN_HEALTH_CHECK_INTERVAL",
    "HealthCheckConfig",
]

MIN_HEALTH_CHECK_INTERVAL: Final = 1.0
"""The shortest interval between two checks of a provider, in seconds (some checks are billed
requests: Brave's is a search)."""
MAX_HEALTH_CHECK_INTERVAL: Final = 86_400.0
"""The longest interval between two checks of a provider, in seconds (a day)."""
MAX_HEALTH_CHECK_TIMEOUT: Final = 120.0
"""The longest a health check may take, in seconds (it must also be below the interval)."""


def _interval(_: object, __: attrs.Attribute[Any], value: object) -> None:
    low, high = MIN_HEALTH_CHECK_INTERVAL, MAX_HEALTH_CHECK_INTERVAL
    if not in_range(value, low, high, strict_low=False):
        raise ConfigurationError(
            f"HealthCheckConfig.interval must be a finite number of seconds >= {low:g} and "
            f"<= {high:g}, got {value!r}"
        )


def _timeout(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not in_range(value, 0, MAX_HEALTH_CHECK_TIMEOUT, strict_low=True):
        raise ConfigurationError(
            "HealthCheckConfig.timeout must be a finite number of seconds > 0 and "
            f"<= {MAX_HEALTH_CHECK_TIMEOUT:g}, got {value!r}"
        )


def _jitter(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not in_range(value, 0, 1, strict_low=False):
        raise ConfigurationError(
            f"HealthCheckConfig.jitter must be a fraction in [0, 1], got {value!r}"
        )


@attrs.frozen
class HealthCheckConfig:
    """How often each provider is checked in the background.

    Attributes:
        interval: Seconds between two checks of one provider (HEALTH_CHECK_INTERVAL), from
            MIN_HEALTH_CHECK_INTERVAL (1) to MAX_HEALTH_CHECK_INTERVAL (86400).
        timeout: Seconds a check may take before it counts as failed (HEALTH_CHECK_TIMEOUT):
            > 0, at most MAX_HEALTH_CHECK_TIMEOUT (120), and below ``interval``.
        jitter: Fraction of the interval by which each provider's first check (and each later
            one) is offset at random, so that providers are not all checked at once.
        enabled: Whether background checks run at all.

    Raises:
        ConfigurationError: A value out of its range, or a timeout not below the interval.
    """

    interval: float = attrs.field(default=300.0, validator=_interval)
    timeout: float = attrs.field(default=10.0, validator=_timeout)
    jitter: float = attrs.field(default=0.1, validator=_jitter)
    enabled: bool = True

    def __attrs_post_init__(self) -> None:
        if self.timeout >= self.interval:
            raise ConfigurationError(
                f"HealthCheckConfig.timeout must be below the interval ({self.interval!r} "
                f"seconds), got {self.timeout!r}"
            )
