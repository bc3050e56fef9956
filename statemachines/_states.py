"""States, health, reasons, outcomes and stimuli: the vocabulary of the breaker machine."""

from __future__ import annotations

import enum
import math
from typing import Protocol, TypeAlias

import attrs

from statemachines._checks import check_seconds, instance_of
from statemachines._errors import ConfigurationError

__all__ = [
    "MAX_RETRY_AFTER",
    "BreakerState",
    "CustomState",
    "FailoverReason",
    "Outcome",
    "ProviderHealth",
    "State",
    "StateLike",
    "Stimulus",
    "retry_after_of",
]


MAX_RETRY_AFTER = 86_400.0
"""The longest Retry-After (seconds) the library honours: one day. Gemini's daily quota resets at
the next Pacific midnight, so nothing legitimate asks for more; a longer one is cut to this."""


def retry_after_of(value: object) -> float | None:
    """``value`` as a Retry-After the machine can honour: a number in [0, MAX_RETRY_AFTER], or
    None. Longer ones (infinity included) are cut to MAX_RETRY_AFTER; NaN, negatives, bools and
    non-numbers give None (no Retry-After), so no value can leave a deadline infinite or NaN."""
    if type(value) is float or type(value) is int:
        if value >= 0:  # False for NaN
            return MAX_RETRY_AFTER if value > MAX_RETRY_AFTER else float(value)  # no overflow
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value):
        return retry_after_of(float(value))
    return None


class ProviderHealth(enum.Enum):
    """What a breaker state means for the provider behind it."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class StateLike(Protocol):
    """What every state offers, built in or added by a policy."""

    @property
    def value(self) -> str: ...

    @property
    def health(self) -> ProviderHealth: ...

    @property
    def admits_calls(self) -> bool: ...


class BreakerState(enum.Enum):
    """The built-in states of a breaker. Values are the lowercase names."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"

    @property
    def health(self) -> ProviderHealth:
        """The ProviderHealth this state stands for."""
        return _HEALTH[self]

    @property
    def admits_calls(self) -> bool:
        """Whether the state lets any call through (HALF_OPEN: a limited number of probes)."""
        return self in _ADMITTING


_HEALTH = {
    BreakerState.CLOSED: ProviderHealth.HEALTHY,
    BreakerState.HALF_OPEN: ProviderHealth.DEGRADED,
    BreakerState.OPEN: ProviderHealth.UNHEALTHY,
    BreakerState.FORCED_OPEN: ProviderHealth.UNHEALTHY,
    BreakerState.DISABLED: ProviderHealth.UNKNOWN,
}
_ADMITTING = frozenset({BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.DISABLED})


def _state_name(value: object) -> str:
    if not isinstance(value, str) or not value.isidentifier() or value != value.lower():
        raise ConfigurationError(
            f"CustomState.value must be a lowercase identifier such as 'throttled', got {value!r}"
        )
    if value in {s.value for s in BreakerState}:
        raise ConfigurationError(
            f"CustomState.value {value!r} is a built-in state; use BreakerState.{value.upper()} "
            "or choose another name"
        )
    return value


@attrs.frozen
class CustomState:
    """A state a policy author adds to the machine.

    Args:
        value: Its name, a lowercase identifier distinct from the built-in ones.
        health: The ProviderHealth it stands for. ``None`` is accepted so that a policy can be
            built and then reported by ``verify_policy`` ("state with no health mapping");
            at run time such a state reports ``ProviderHealth.UNKNOWN``.
        admits_calls: Whether calls pass while in it. Outcomes of admitted calls are recorded in
            the window, as in CLOSED.
        duration: Seconds the state lasts before its ``deadline`` (see ``deadline_passed()``);
            a Retry-After carried by the outcome that entered it raises the deadline.
    """

    value: str = attrs.field(converter=_state_name)
    declared_health: ProviderHealth | None = attrs.field(
        default=None,
        alias="health",
        validator=instance_of(
            (ProviderHealth, type(None)),
            "CustomState.health",
            "a ProviderHealth such as ProviderHealth.DEGRADED",
        ),
    )
    admits_calls: bool = attrs.field(
        default=False,
        validator=instance_of(bool, "CustomState.admits_calls", "a bool (True or False)"),
    )
    duration: float | None = attrs.field(default=None)

    @property
    def health(self) -> ProviderHealth:
        """The declared health, or UNKNOWN when none was declared."""
        return self.declared_health or ProviderHealth.UNKNOWN

    @property
    def name(self) -> str:
        """The upper-case name, as for enum members."""
        return self.value.upper()

    @duration.validator
    def _check_duration(self, _: attrs.Attribute[float | None], value: float | None) -> None:
        if value is not None:
            check_seconds("CustomState.duration", value)


State: TypeAlias = BreakerState | CustomState


class FailoverReason(enum.Enum):
    """Why a transition happened: one per row of the transition table, plus MANUAL (and
    STORAGE_DEGRADED, which marks no transition)."""

    ERROR_RATE = "error_rate"
    CONSECUTIVE_FAILURES = "consecutive_failures"
    SLOW_CALLS = "slow_calls"
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"
    HEALTH_CHECK_FAILED = "health_check_failed"
    COOLDOWN_ELAPSED = "cooldown_elapsed"
    HEALTH_CHECK_PASSED = "health_check_passed"
    PROBES_SUCCEEDED = "probes_succeeded"
    PROBE_FAILED = "probe_failed"
    PROBE_TIMEOUT = "probe_timeout"
    MANUAL = "manual"
    STORAGE_DEGRADED = "storage_degraded"
    """Not a transition: the shared storage of distributed mode became unreachable (one event
    per breaker and outage, with ``source == dest`` and ``seq == 0``; see failover.storage)."""


class Outcome(enum.Enum):
    """How a finished call ended. ``failed`` and ``slow`` are plain attributes for the hot path."""

    SUCCESS = "success"
    FAILURE = "failure"
    SLOW_SUCCESS = "slow_success"
    SLOW_FAILURE = "slow_failure"
    IGNORED = "ignored"

    failed: bool
    slow: bool

    @classmethod
    def of(cls, *, failed: bool, slow: bool) -> Outcome:
        """The outcome for a call that failed or not, and was slow or not."""
        if failed:
            return cls.SLOW_FAILURE if slow else cls.FAILURE
        return cls.SLOW_SUCCESS if slow else cls.SUCCESS


for _member in Outcome:
    _member.failed = _member in (Outcome.FAILURE, Outcome.SLOW_FAILURE)
    _member.slow = _member in (Outcome.SLOW_SUCCESS, Outcome.SLOW_FAILURE)


class Stimulus(enum.Enum):
    """What makes the machine look at its transitions.

    OUTCOME: a call finished (``record``). TICK: time was checked (``admit``, ``tick``).
    HEALTH_CHECK: an active health check finished. MANUAL: an operator fired a trigger by name.
    """

    OUTCOME = "outcome"
    TICK = "tick"
    HEALTH_CHECK = "health_check"
    MANUAL = "manual"
