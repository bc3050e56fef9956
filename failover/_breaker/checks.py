"""CircuitBreaker's argument checks for keywords it does not take: pybreaker's keywords point to
their equivalents here (``BreakerPolicy.pybreaker_compatible`` first), any other names the
keywords it does take."""

from __future__ import annotations

from collections.abc import Mapping

from statemachines import ConfigurationError

__all__ = ["ACCEPTED_KEYWORDS", "PYBREAKER_KEYWORDS", "unexpected_keywords"]

ACCEPTED_KEYWORDS = ("name", "policy", "clock", "classifier", "hooks", "history", "rng")
"""The keywords ``CircuitBreaker(...)`` takes."""

_POLICY = (
    "the policy says it: CircuitBreaker(name, BreakerPolicy.pybreaker_compatible("
    "fail_max=5, reset_timeout=60, success_threshold=1))"
)

PYBREAKER_KEYWORDS: Mapping[str, str] = {
    "fail_max": _POLICY,
    "reset_timeout": _POLICY,
    "success_threshold": _POLICY,
    "exclude": (
        "the classifier says it: CircuitBreaker(name, BreakerPolicy.pybreaker_compatible(...), "
        "classifier=success(*exclude) | failure(BaseException)) (failover.classify)"
    ),
    "listeners": (
        "hooks say it: CircuitBreaker(name, BreakerPolicy.pybreaker_compatible(...), "
        "hooks=[...]) (failover.hooks.Hook)"
    ),
    "state_storage": (
        "a storage shares the state between processes: Coordinator(providers, "
        "policy=BreakerPolicy.pybreaker_compatible(...), storage=...) (failover.storage)"
    ),
    "throw_new_error_on_trip": (
        "a rejected call always raises CallNotPermitted; the policy is "
        "BreakerPolicy.pybreaker_compatible(...)"
    ),
}
"""pybreaker's ``CircuitBreaker`` keywords that this one does not take, and what says each here
(``name`` is taken as it is)."""


def unexpected_keywords(unexpected: Mapping[str, object]) -> ConfigurationError:
    """The error for keywords ``CircuitBreaker(...)`` does not take (``unexpected`` non-empty):
    a pybreaker keyword's names its equivalent, any other lists the accepted keywords."""
    for keyword, value in unexpected.items():
        hint = PYBREAKER_KEYWORDS.get(keyword)
        if hint is not None:
            return ConfigurationError(
                f"CircuitBreaker got {keyword}={value!r}, a pybreaker keyword it does not take; "
                f"{hint}"
            )
    names = ", ".join(sorted(unexpected))
    return ConfigurationError(
        f"CircuitBreaker got unexpected keywords {names}; it takes "
        f"{', '.join(ACCEPTED_KEYWORDS)} (a pybreaker keyword such as fail_max goes into "
        "BreakerPolicy.pybreaker_compatible(...))"
    )
