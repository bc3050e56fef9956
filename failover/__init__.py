"""failover: the runtime built on the pure core.

CircuitBreaker (sync and async calls, guards, decorators, hooks), the clocks, classification and
the error tree. The coordinator, storage, settings and CLI arrive with their issues.
"""

from failover._attempt import Attempt
from failover._breaker import CircuitBreaker
from failover._guard import Guard
from failover.classify import (
    Classification,
    Classifier,
    Rule,
    default_classifier,
    failure,
    failure_if_result,
    ignore,
    success,
)
from failover.clock import Clock, ManualClock, SystemClock
from failover.errors import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BadRequest,
    CallNotPermitted,
    ConfigurationError,
    ContentBlocked,
    FailoverError,
    IllegalTransitionError,
    NotFound,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.hooks import BreakerHook, Hook, LoggingHook
from statemachines import BreakerPolicy, BreakerState, FailoverEvent, ProviderHealth

__all__ = [
    "AllProvidersFailed",
    "AllProvidersUnavailable",
    "Attempt",
    "BadRequest",
    "BreakerHook",
    "BreakerPolicy",
    "BreakerState",
    "CallNotPermitted",
    "CircuitBreaker",
    "Classification",
    "Classifier",
    "Clock",
    "ConfigurationError",
    "ContentBlocked",
    "FailoverError",
    "FailoverEvent",
    "Guard",
    "Hook",
    "IllegalTransitionError",
    "LoggingHook",
    "ManualClock",
    "NotFound",
    "ProviderError",
    "ProviderHealth",
    "ProviderTimeout",
    "QuotaExhausted",
    "RateLimited",
    "Rule",
    "SystemClock",
    "Unauthorized",
    "Unavailable",
    "default_classifier",
    "failure",
    "failure_if_result",
    "ignore",
    "success",
]
