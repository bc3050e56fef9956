"""Settings: FailoverSettings (the coordinator's) and ProviderSettings (one per provider).

Everything a Coordinator takes, in three ways in, all validated the same way (through the
project's one cattrs converter); every key, variable and default is in
docs/reference/settings.md:

- ``FailoverSettings.from_toml(path)`` reads the ``[failover]`` table; each provider is one
  ``[[failover.providers]]`` entry (the file order is the registration order); a provider's
  ``policy`` is in the policy format that ``failover verify`` reads. Other tables are left
  alone, so the file can hold the rest of an application's configuration.
- ``FailoverSettings.from_env(prefix="FAILOVER_")`` reads ENV_NAMES (and, with a prefix,
  PREFIXED_ENV_NAMES) after the prefix; ``{prefix}CONFIG`` may name a TOML file whose settings
  the variables then override. A prefixed variable that is none of these is a problem.
- ``FailoverSettings.from_mapping(data)`` takes the same shape as the ``[failover]`` table.

Bad values raise one SettingsError (a ConfigurationError) listing every problem: its path (such
as ``providers[1].rate_limits.per_minute``, or the environment variable's name), the value given
and what would be accepted ("did you mean ...?" for an unknown key).

API keys come from the environment only: settings hold the *name* of the variable
(``api_key_env``) and ``ProviderSettings.api_key()`` reads it. No repr, str or error shows a key
or a Redis password (``to_mapping()`` keeps a Redis URL as written: prefer ``url_env``); option
names and URL query parameters that look like credentials are refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import attrs
import cattrs

from failover._config.checks import (
    MAX_RATE_LIMIT,
    UNLIMITED,
    Invalid,
    bad,
    check_metadata,
    checked_fields,
    checked_telemetry,
    choice,
    limit,
    problem_path,
    records,
)
from failover._config.convert import leaves, read_table, settings_converter
from failover._config.env import (
    CONFIG_VARIABLE,
    DEFAULT_PREFIX,
    ENV_NAMES,
    PREFIXED_ENV_NAMES,
    read_env,
)
from failover._config.policy import (
    build_storage,
    checked_storage,
    policy_from,
    policy_table,
    policy_table_in,
    resolve_policy_files,
    storage_repr,
)
from failover._config.policy_format import policy_from_toml
from failover._config.problem import SettingsError, SettingsProblem
from failover._config.provider import ProviderSettings
from failover._config.ranges import (
    MAX_CONSECUTIVE_FAILURES,
    MAX_PRIORITY,
    MAX_WEIGHT,
    RESPONSE_BYTES_RANGE,
    checked_hedge_after,
    checked_interval,
    checked_timeout,
    derived_problems,
    factor,
    failures,
    health_timeout,
    limit_in,
    own_health,
    retries,
)
from failover._coordinator.coordinator import ALL_DOWN_MODES, AllDown
from failover.health import HealthCheckConfig
from failover.ratelimit import RateLimit
from failover.retry import RetryPolicy
from failover.storage import Storage
from failover.strategies import STRATEGIES, StrategyName
from statemachines import BreakerPolicy, ConfigurationError

__all__ = [
    "CONFIG_VARIABLE",
    "DEFAULT_PREFIX",
    "ENV_NAMES",
    "MAX_CONSECUTIVE_FAILURES",
    "MAX_PRIORITY",
    "MAX_RATE_LIMIT",
    "MAX_WEIGHT",
    "PREFIXED_ENV_NAMES",
    "RESPONSE_BYTES_RANGE",
    "UNLIMITED",
    "FailoverSettings",
    "ProviderSettings",
    "SettingsError",
    "SettingsProblem",
]


# --- the records --------------------------------------------------------------------------------


def _as_tuple(value: Iterable[ProviderSettings]) -> tuple[ProviderSettings, ...]:
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        return tuple(value)
    return cast("tuple[ProviderSettings, ...]", value)  # not a sequence: the validator says so


@attrs.frozen(field_transformer=checked_fields)
class FailoverSettings:
    """The coordinator's settings, and the providers it coordinates.

    Build with ``from_env``, ``from_toml`` or ``from_mapping`` (which report every bad key at
    once), or directly. The runtime objects come from ``retry_policy()``, ``health_config()``,
    ``breaker_policy(name)`` and ``rate_limit(name)``; these never fail for a settings object
    that was built.

    Attributes:
        health_check_interval: Seconds between two health checks of a provider
            (HEALTH_CHECK_INTERVAL, 300).
        health_check_timeout: Seconds a health check may take (HEALTH_CHECK_TIMEOUT, 10).
        max_consecutive_failures: Consecutive failures that open a breaker
            (MAX_CONSECUTIVE_FAILURES, 3).
        max_retries_per_request: Attempts after the first, per request, across providers
            (MAX_RETRIES_PER_REQUEST, 2): a request makes at most 1 + this many attempts (the
            fallbacks' not counted); 0 turns failing over off.
        backoff_factor: Growth of the wait before a provider is tried again (BACKOFF_FACTOR, 1.5).
        request_timeout: A request's overall deadline in seconds (REQUEST_TIMEOUT, 60).
        requests_per_minute: Each provider's client-side limit of requests per minute, or
            None for none (REQUESTS_PER_MINUTE, None: as a Coordinator built in code).
        daily_request_limit: Each provider's client-side limit of requests per day, or None
            for none (DAILY_REQUEST_LIMIT, None).
        strategy: How the coordinator picks a provider: "success_rate", "priority",
            "round_robin", "weighted_random", "least_latency" or "p2c" (a custom strategy, a
            callable, is given to the Coordinator in code).
        all_down: What it does when no provider admits a call: "fail_fast", "wait" or "probe".
        hedge_after: Seconds after which a second attempt starts beside a slow one, or None
            for no hedging (HEDGE_AFTER, None).
        policy: The policy of every provider, in the policy format (docs/reference/
            policy-files.md), after max_consecutive_failures; each provider's ``policy``
            changes it.
        storage: ``{url = "redis://...", prefix = "failover"}`` (or ``url_env``, the NAME of
            the variable holding the URL; also ``timeout``) to share breakers through Redis
            (STORAGE_URL, STORAGE_PREFIX); empty: nothing is shared.
        telemetry: ``tracing`` and ``gen_ai_metrics``, each true or false (default false):
            OpenTelemetry spans and gen_ai metrics of the requests (``failover.tracing``).
        providers: The providers (fallbacks too), in registration order, unique names.
    """

    health_check_interval: float = attrs.field(
        default=300.0, metadata=check_metadata(checked_interval)
    )
    health_check_timeout: float = attrs.field(default=10.0, metadata=check_metadata(health_timeout))
    max_consecutive_failures: int = attrs.field(default=3, metadata=check_metadata(failures))
    max_retries_per_request: int = attrs.field(default=2, metadata=check_metadata(retries))
    backoff_factor: float = attrs.field(default=1.5, metadata=check_metadata(factor))
    request_timeout: float = attrs.field(default=60.0, metadata=check_metadata(checked_timeout))
    requests_per_minute: int | None = attrs.field(
        default=None, converter=limit_in, metadata=check_metadata(limit)
    )
    daily_request_limit: int | None = attrs.field(
        default=None, converter=limit_in, metadata=check_metadata(limit)
    )
    strategy: StrategyName = attrs.field(
        default="success_rate", metadata=check_metadata(choice(STRATEGIES))
    )
    all_down: AllDown = attrs.field(
        default="fail_fast", metadata=check_metadata(choice(ALL_DOWN_MODES))
    )
    hedge_after: float | None = attrs.field(
        default=None, metadata=check_metadata(checked_hedge_after)
    )
    policy: Mapping[str, object] = attrs.field(
        factory=dict, converter=policy_table_in, metadata=check_metadata(policy_table), hash=False
    )
    storage: Mapping[str, object] = attrs.field(
        factory=dict, metadata=check_metadata(checked_storage), hash=False, repr=storage_repr
    )
    telemetry: Mapping[str, bool] = attrs.field(
        factory=dict, metadata=check_metadata(checked_telemetry), hash=False
    )
    providers: tuple[ProviderSettings, ...] = attrs.field(
        default=(), converter=_as_tuple, metadata=check_metadata(records(ProviderSettings))
    )

    def __attrs_post_init__(self) -> None:
        # The fields together: the health timeout below the interval, and every derived
        # object built once, so that none can fail later (each failure is a problem).
        found = derived_problems(self)
        if found:
            raise Invalid(found, type(self).__name__)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, object], *, source: str = "a mapping"
    ) -> FailoverSettings:
        """Settings from a mapping shaped like the ``[failover]`` table of ``from_toml``.

        Entries of ``providers`` may be mappings or ProviderSettings.

        Raises:
            SettingsError: Listing every bad, missing or unknown key.
        """
        return _structure(data, source)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> FailoverSettings:
        """Settings from the ``[failover]`` table of a TOML file (see the module's docstring).

        Raises:
            ConfigurationError: The file cannot be read, is not TOML, or has no [failover]
                table.
            SettingsError: Listing every bad, missing or unknown key.
        """
        table = resolve_policy_files(read_table(Path(path)), Path(path).parent)
        return _structure(table, f"{os.fspath(path)} [failover]")

    @classmethod
    def from_env(
        cls, prefix: str = DEFAULT_PREFIX, environ: Mapping[str, str] | None = None
    ) -> FailoverSettings:
        """Settings from environment variables: the names of ENV_NAMES, each after ``prefix``.

        ``{prefix}CONFIG`` (FAILOVER_CONFIG) may name a TOML file (read as by ``from_toml``;
        the only way to give providers); the variables that are set override its values.
        With a prefix, PREFIXED_ENV_NAMES are read too (FAILOVER_STRATEGY, FAILOVER_STORAGE_URL,
        ...). Limits accept "unlimited". A variable that starts with the prefix but is none of
        these is a problem ("did you mean ...?"), so a misspelt name is not silently ignored.

        Args:
            prefix: Put before each name: "FAILOVER_" reads FAILOVER_BACKOFF_FACTOR, ...;
                "" reads the bare names (BACKOFF_FACTOR, ...; the file's variable is then
                FAILOVER_CONFIG) and cannot tell other variables from misspelt ones.
            environ: Where to read; ``os.environ`` when None.

        Raises:
            ConfigurationError: The CONFIG file cannot be read or has no [failover] table.
            SettingsError: Listing every bad value and unknown variable, by variable name
                (and every bad key of the file, by path).
        """
        data, source, names, unknown = read_env(prefix, os.environ if environ is None else environ)
        return _structure(data, source, names, unknown)

    def to_mapping(self) -> dict[str, Any]:
        """The settings as plain data (JSON-ready; ``from_mapping`` reads it back)."""
        return cast("dict[str, Any]", _converter().unstructure(self))

    def provider(self, name: str) -> ProviderSettings:
        """The settings of the provider named ``name``.

        Raises:
            ConfigurationError: No provider has that name.
        """
        for provider in self.providers:
            if provider.name == name:
                return provider
        known = [p.name for p in self.providers]
        raise ConfigurationError(
            f"no provider named {name!r} in these settings; the providers are {known!r}"
        )

    def retry_policy(self) -> RetryPolicy:
        """Attempts, backoff factor and deadline of each request."""
        return RetryPolicy(
            max_attempts=1 + self.max_retries_per_request,
            backoff_factor=self.backoff_factor,
            request_timeout=self.request_timeout,
        )

    def health_config(self) -> HealthCheckConfig:
        """Interval and timeout of the background health checks."""
        return HealthCheckConfig(
            interval=self.health_check_interval, timeout=self.health_check_timeout
        )

    def breaker_policy(self, provider_name: str | None = None) -> BreakerPolicy:
        """The BreakerPolicy with max_consecutive_failures, then the provider's overrides.

        Args:
            provider_name: A provider of these settings; None for the global policy.
        """
        base = BreakerPolicy(max_consecutive_failures=self.max_consecutive_failures)
        policy = policy_from(self.policy, base)
        if provider_name is None:
            return policy
        provider = self.provider(provider_name)
        if provider.policy_file is not None:
            policy = policy_from_toml(provider.policy_file)
        return policy_from(provider.policy, policy)

    def health_checks(self) -> dict[str, HealthCheckConfig]:
        """Each provider's own health-check config (``Coordinator(health_checks=...)``): those
        with their own interval or timeout, or with checks "off"."""
        return {
            p.name: own_health(
                self.health_config(), p.health_check_interval, p.health_check_timeout
            )
            for p in self.providers
            if p.health_check_interval is not None or p.health_check_timeout is not None
        }

    def make_storage(self, environ: Mapping[str, str] | None = None) -> Storage | None:
        """The RedisStorage of ``storage`` (None when it is empty), built now.

        Args:
            environ: Where ``url_env`` is read; ``os.environ`` when None.

        Raises:
            ConfigurationError: ``url_env`` is not set, or the redis extra is not installed.
        """
        return build_storage(self.storage, os.environ if environ is None else environ)

    def rate_limit(self, provider_name: str | None = None) -> RateLimit:
        """The RateLimit from the global limits, then the provider's overrides.

        Args:
            provider_name: A provider of these settings; None for the global limits.
        """
        limits = {"per_minute": self.requests_per_minute, "per_day": self.daily_request_limit}
        if provider_name is not None:
            limits.update(self.provider(provider_name).rate_limits)
        return RateLimit(**limits)


def _structure(
    data: object,
    source: str,
    rename: Mapping[str, str] | None = None,
    extra: Iterable[SettingsProblem] = (),
) -> FailoverSettings:
    problems = list(extra)
    try:
        if not isinstance(data, Mapping):
            raise bad("a table (mapping) of settings", data)
        settings: FailoverSettings = _converter().structure(data, FailoverSettings)
    except (cattrs.BaseValidationError, Invalid) as exc:
        problems += [
            SettingsProblem(problem_path(sub, rename), given, expected)
            for sub, given, expected in leaves(exc, ())
        ]
    if problems:
        raise SettingsError(source, problems) from None
    return settings


def _converter() -> cattrs.Converter:
    return settings_converter(FailoverSettings, tuple[ProviderSettings, ...])
