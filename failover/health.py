"""Active health checks: configuration (the runner lives with the coordinator)."""

from __future__ import annotations

import math
from typing import Any

import attrs

from statemachines import ConfigurationError

__all__ = ["HealthCheckConfig"]


def _seconds(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ConfigurationError(
            f"HealthCheckConfig.{attribute.name} must be a finite number of seconds > 0, "
            f"got {value!r}"
        )


def _jitter(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ConfigurationError(
            f"HealthCheckConfig.jitter must be a fraction in [0, 1], got {value!r}"
        )


@attrs.frozen
class HealthCheckConfig:
    """How often each provider is checked in the background.

    Attributes:
        interval: Seconds between two checks of one provider (HEALTH_CHECK_INTERVAL).
        timeout: Seconds a check may take before it counts as failed (HEALTH_CHECK_TIMEOUT).
        jitter: Fraction of the interval by which each provider's first check (and each later
            one) is offset at random, so that providers are not all checked at once.
        enabled: Whether background checks run at all.
    """

    interval: float = attrs.field(default=300.0, validator=_seconds)
    timeout: float = attrs.field(default=10.0, validator=_seconds)
    jitter: float = attrs.field(default=0.1, validator=_jitter)
    enabled: bool = True
