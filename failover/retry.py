"""RetryPolicy: how many attempts a request gets, its deadline, and the backoff between two
attempts at the same provider (exponential, full jitter, never before a Retry-After)."""

from __future__ import annotations

import math
import random
from typing import Any, Final

import attrs

from failover._base.numbers import in_range
from statemachines import ConfigurationError

__all__ = ["MAX_ATTEMPTS", "MAX_BACKOFF", "MAX_BACKOFF_FACTOR", "MAX_TIMEOUT", "RetryPolicy"]

MAX_ATTEMPTS: Final = 100
"""The most attempts one request may be given (``max_attempts``)."""
MAX_BACKOFF_FACTOR: Final = 10.0
"""The largest growth of the wait between two attempts at a provider (``backoff_factor``)."""
MAX_BACKOFF: Final = 3_600.0
"""The longest ``initial_backoff`` or ``max_backoff``, in seconds (an hour)."""
MAX_TIMEOUT: Final = 21_600.0
"""The longest deadline or timeout, in seconds (6 hours): ``request_timeout``,
``attempt_timeout``, and a provider's ``options.timeout`` in settings."""


def _seconds(high: float) -> Any:
    def validate(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and attribute.name.endswith("_timeout"):
            return
        if not in_range(value, 0, high, strict_low=True):
            raise ConfigurationError(
                f"RetryPolicy.{attribute.name} must be a finite number > 0 and <= {high:g}, "
                f"got {value!r}"
            )

    return validate


def _attempts(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ATTEMPTS:
        raise ConfigurationError(
            f"RetryPolicy.max_attempts must be an int >= 1 and <= {MAX_ATTEMPTS}, got {value!r}"
        )


def _factor(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not in_range(value, 1, MAX_BACKOFF_FACTOR, strict_low=False):
        raise ConfigurationError(
            f"RetryPolicy.backoff_factor must be a finite number >= 1 and "
            f"<= {MAX_BACKOFF_FACTOR:g}, got {value!r}"
        )


@attrs.frozen
class RetryPolicy:
    """Attempts, deadlines and backoff of one coordinated request.

    Attributes:
        max_attempts: Attempts across all providers, the first included, from 1 to
            MAX_ATTEMPTS (100); default 3. Settings write it as retries, attempts after the
            first: max_attempts = 1 + max_retries_per_request (docs/reference/settings.md).
        backoff_factor: Growth of the wait before a provider is tried again
            (FAILOVER_BACKOFF_FACTOR), from 1 to MAX_BACKOFF_FACTOR (10).
        initial_backoff: The first such wait's ceiling, in seconds (> 0, <= MAX_BACKOFF).
        max_backoff: No wait's ceiling exceeds this (> 0, <= MAX_BACKOFF, an hour).
        request_timeout: The whole request's deadline in seconds (FAILOVER_REQUEST_TIMEOUT);
            None: none. At most MAX_TIMEOUT (6 hours), as ``attempt_timeout``.
        attempt_timeout: One attempt's limit in seconds; None: only the deadline applies.
        stop_on_content_blocked: Whether ContentBlocked ends the request (like BadRequest) or
            fails over to the next provider.
    """

    max_attempts: int = attrs.field(default=3, validator=_attempts)
    backoff_factor: float = attrs.field(default=1.5, validator=_factor)
    initial_backoff: float = attrs.field(default=1.0, validator=_seconds(MAX_BACKOFF))
    max_backoff: float = attrs.field(default=30.0, validator=_seconds(MAX_BACKOFF))
    request_timeout: float | None = attrs.field(default=60.0, validator=_seconds(MAX_TIMEOUT))
    attempt_timeout: float | None = attrs.field(default=None, validator=_seconds(MAX_TIMEOUT))
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
