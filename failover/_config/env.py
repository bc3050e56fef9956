"""The environment variables ``FailoverSettings.from_env`` reads (public in
``failover.settings``), and the reading: the variables set, the CONFIG file they override, and
the prefixed variables that are none of these."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from failover._config.convert import read_env_data, unknown_variables
from failover._config.problem import SettingsProblem

__all__ = ["CONFIG_VARIABLE", "DEFAULT_PREFIX", "ENV_NAMES", "PREFIXED_ENV_NAMES", "read_env"]

DEFAULT_PREFIX: Final = "FAILOVER_"
"""The prefix of every variable ``from_env`` reads, unless told otherwise."""
CONFIG_VARIABLE: Final = "FAILOVER_CONFIG"
"""The variable that names a TOML file for ``from_env``: ``{prefix}CONFIG`` (FAILOVER_CONFIG
with the default prefix, and with none)."""
ENV_NAMES: Final[Mapping[str, str]] = {
    "health_check_interval": "HEALTH_CHECK_INTERVAL",
    "health_check_timeout": "HEALTH_CHECK_TIMEOUT",
    "max_consecutive_failures": "MAX_CONSECUTIVE_FAILURES",
    "max_retries_per_request": "MAX_RETRIES_PER_REQUEST",
    "backoff_factor": "BACKOFF_FACTOR",
    "request_timeout": "REQUEST_TIMEOUT",
    "requests_per_minute": "REQUESTS_PER_MINUTE",
    "daily_request_limit": "DAILY_REQUEST_LIMIT",
}
"""FailoverSettings field -> the variable ``from_env`` reads it from, after the prefix
(FAILOVER_REQUEST_TIMEOUT by default; the seed's bare names with ``prefix=""``)."""
PREFIXED_ENV_NAMES: Final[Mapping[str, str]] = {
    "strategy": "STRATEGY",
    "all_down": "ALL_DOWN",
    "hedge_after": "HEDGE_AFTER",
    "storage.url": "STORAGE_URL",
    "storage.prefix": "STORAGE_PREFIX",
}
"""More fields ``from_env`` reads, only with a prefix (a bare STRATEGY is too likely to be
another program's): ``storage.url`` is the key ``url`` of the ``storage`` table."""


def read_env(
    prefix: str, env: Mapping[str, str]
) -> tuple[dict[str, object], str, dict[str, str], list[SettingsProblem]]:
    """What ``from_env(prefix)`` reads of ``env``: the settings data (the CONFIG file's, the
    variables set over it), where it came from, each field's variable name (for the problems'
    paths), and a problem for each prefixed variable that is none of the names."""
    names = {**ENV_NAMES, **PREFIXED_ENV_NAMES} if prefix else ENV_NAMES
    variables = {field: prefix + name for field, name in names.items()}
    config = prefix + "CONFIG" if prefix else CONFIG_VARIABLE
    data, source, renamed = read_env_data(env, config, variables)
    unknown = unknown_variables(env, prefix, [*variables.values(), config])
    return data, source, renamed, [SettingsProblem(n, None, e) for n, e in unknown]
