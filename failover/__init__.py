"""failover: the runtime built on the pure core.

CircuitBreaker (sync and async calls, guards, decorators, hooks), the clocks, classification and
the error tree; the Coordinator with its retry, rate-limit and health-check settings, its status
snapshots, the provider port and records, settings, and the provider registry. Public modules
not re-exported here: ``failover.strategies``, ``failover.status`` (also re-exported in part),
``failover.testing``, ``failover.telemetry`` and ``failover.interop``.
"""

from failover._base.records import Attempt, Result, Skip, SkipReason
from failover._breaker.breaker import CircuitBreaker
from failover._breaker.guard import Guard
from failover._coordinator.coordinator import Coordinator
from failover._coordinator.fleet import FleetEvent, FleetState
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
    StreamInterrupted,
    Unauthorized,
    Unavailable,
)
from failover.health import HealthCheckConfig
from failover.hooks import BreakerHook, Hook, LoggingHook
from failover.lifecycle import ProviderMixin, managed_failover
from failover.provider import (
    HealthCheckResult,
    LLMProvider,
    LLMResponse,
    Provider,
    QuotaReport,
    ReportsQuota,
    SearchProvider,
    SearchResult,
    SearchResults,
    Usage,
)
from failover.ratelimit import RateLimit
from failover.registry import (
    ProviderFactory,
    ProviderRegistry,
    build_provider,
    build_providers,
    known_kinds,
    register_provider,
)
from failover.retry import RetryPolicy
from failover.settings import FailoverSettings, ProviderSettings, SettingsError, SettingsProblem
from failover.status import CoordinatorStatus, ProviderStatus, status_from_json, status_to_json
from statemachines import (
    MAX_RETRY_AFTER,
    BreakerPolicy,
    BreakerState,
    FailoverEvent,
    ProviderHealth,
)

__all__ = [
    "MAX_RETRY_AFTER",
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
    "Coordinator",
    "CoordinatorStatus",
    "FailoverError",
    "FailoverEvent",
    "FailoverSettings",
    "FleetEvent",
    "FleetState",
    "Guard",
    "HealthCheckConfig",
    "HealthCheckResult",
    "Hook",
    "IllegalTransitionError",
    "LLMProvider",
    "LLMResponse",
    "LoggingHook",
    "ManualClock",
    "NotFound",
    "Provider",
    "ProviderError",
    "ProviderFactory",
    "ProviderHealth",
    "ProviderMixin",
    "ProviderRegistry",
    "ProviderSettings",
    "ProviderStatus",
    "ProviderTimeout",
    "QuotaExhausted",
    "QuotaReport",
    "RateLimit",
    "RateLimited",
    "ReportsQuota",
    "Result",
    "RetryPolicy",
    "Rule",
    "SearchProvider",
    "SearchResult",
    "SearchResults",
    "SettingsError",
    "SettingsProblem",
    "Skip",
    "SkipReason",
    "StreamInterrupted",
    "SystemClock",
    "Unauthorized",
    "Unavailable",
    "Usage",
    "build_provider",
    "build_providers",
    "default_classifier",
    "failure",
    "failure_if_result",
    "ignore",
    "known_kinds",
    "managed_failover",
    "register_provider",
    "status_from_json",
    "status_to_json",
    "success",
]
