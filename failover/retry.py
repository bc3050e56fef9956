"""RetryPolicy: how many attempts a request gets, its deadline, and the backoff between two
attempts at the same provider (exponential, full jitter, never before a Retry-After)."""

from __future__ import annotations

import math
import random
from typing import Any

import attrs

from statemachines import ConfigurationError

__all__ = ["RetryPolicy"]


def _positive(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ConfigurationError(
            f"RetryPolicy.{attribute.name} must be a finite number > 0, got {value!r}"
        )


def _optional_positive(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _positive(_, attribute, value)


def _attempts(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"RetryPolicy.max_attempts must be an int >= 1, got {value!r}")


def _factor(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not (math.isfinite(value) and value >= 1)
    ):
        raise ConfigurationError(
            f"RetryPolicy.backoff_factor must be a finite number >= 1, got {value!r}"
        )


@attrs.frozen
class RetryPolicy:
    """Attempts, deadlines and backoff of one coordinated request.

    Attributes:
        max_attempts: Attempts across all providers (MAX_RETRIES_PER_REQUEST).
        backoff_factor: Growth of the wait before a provider is tried again (BACKOFF_FACTOR).
        initial_backoff: The first such wait's ceiling, in seconds.
        max_backoff: No wait's ceiling exceeds this.
        request_timeout: The whole request's deadline in seconds (REQUEST_TIMEOUT); None: none.
        attempt_timeout: One attempt's limit in seconds; None: only the deadline applies.
        stop_on_content_blocked: Whether ContentBlocked ends the request (like BadRequest) or
            fails over to the next provider.
    """

    max_attempts: int = attrs.field(default=3, validator=_attempts)
    backoff_factor: float = attrs.field(default=1.5, validator=_factor)
    initial_backoff: float = attrs.field(default=1.0, validator=_positive)
    max_backoff: float = attrs.field(default=30.0, validator=_positive)
    request_timeout: float | None = attrs.field(default=60.0, validator=_optional_positive)
    attempt_timeout: float | None = attrs.field(default=None, validator=_optional_positive)
    stop_on_content_blocked: bool = True

    def backoff(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """The wait before trying a provider for the ``retry``-th time (1 = its second attempt):
        full jitter, uniform in [0, ceiling), raised to any Retry-After."""
        exponent = max(retry - 1, 0)
        if self.backoff_factor == 1 or exponent < math.log(
            self.max_backoff / self.initial_backoff, self.backoff_factor
        ):
            ceiling = min(self.initial_backoff * self.backoff_factor**exponent, self.max_backoff)
        else:
            ceiling = self.max_backoff
        return max(rng.random() * ceiling, retry_after or 0.0)
