"""Settings: FailoverSettings (the coordinator's) and ProviderSettings (one per provider).

Three ways in, all validated the same way (through the project's one cattrs converter):

- ``FailoverSettings.from_env(prefix="")`` reads the eight names HEALTH_CHECK_INTERVAL,
  HEALTH_CHECK_TIMEOUT, MAX_CONSECUTIVE_FAILURES, MAX_RETRIES_PER_REQUEST, BACKOFF_FACTOR,
  REQUEST_TIMEOUT, REQUESTS_PER_MINUTE and DAILY_REQUEST_LIMIT (each with the prefix). Providers
  are structured data and do not fit in flat variables: ``{prefix}FAILOVER_CONFIG`` may name a
  TOML file (as for ``from_toml``) whose settings the eight variables then override.
- ``FailoverSettings.from_toml(path)`` reads the ``[failover]`` table; each provider is one
  ``[[failover.providers]]`` entry (the file order is the registration order). Other tables are
  ignored, so the file can hold the rest of an application's configuration::

      [failover]
      max_retries_per_request = 4
      strategy = "priority"

      [[failover.providers]]
      name = "gemini"
      kind = "gemini"
      model = "gemini-2.0-flash"
      api_key_env = "GEMINI_API_KEY"
      policy = { open_duration = 60, window = { size = 50 } }
      rate_limits = { per_minute = 15, per_day = "unlimited" }

- ``FailoverSettings.from_mapping(data)`` takes the same shape as the ``[failover]`` table.

Bad values raise one SettingsError (a ConfigurationError) listing every problem: its path (such
as ``providers[1].rate_limits.per_minute``, or the environment variable's name), the value given
and what would be accepted. Unknown keys are problems too.

API keys come from the environment only: settings hold the *name* of the variable
(``api_key_env``) and ``ProviderSettings.api_key()`` reads it when called. No repr, str, JSON or
error shows a key; option names and URL query parameters that look like credentials are refused.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, cast, get_args
from urllib.parse import parse_qsl, urlsplit

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, override

from failover.health import HealthCheckConfig
from failover.ratelimit import RateLimit
from failover.retry import RetryPolicy
from statemachines import (
    BUILTIN_NAMES,
    BreakerPolicy,
    ConfigurationError,
    CountWindow,
    TimeWindow,
    converter,
)

__all__ = [
    "CONFIG_VARIABLE",
    "ENV_NAMES",
    "UNLIMITED",
    "FailoverSettings",
    "ProviderSettings",
    "SettingsError",
    "SettingsProblem",
]

# The same names as failover.strategies.StrategyName and the coordinator's all_down modes
# (kept here too so that settings do not depend on the coordinator's modules).
_StrategyName: TypeAlias = Literal[
    "success_rate", "priority", "round_robin", "weighted_random", "least_latency", "p2c"
]
_AllDown: TypeAlias = Literal["fail_fast", "wait", "probe"]
_STRATEGIES: Final[tuple[str, ...]] = get_args(_StrategyName)
_ALL_DOWN_MODES: Final[tuple[str, ...]] = get_args(_AllDown)
UNLIMITED: Final = "unlimited"
"""The text that stands for "no limit" in a rate limit (None in Python)."""
CONFIG_VARIABLE: Final = "FAILOVER_CONFIG"
"""The variable (after the prefix) that ``from_env`` reads a TOML file's path from."""
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
"""FailoverSettings field -> the environment variable ``from_env`` reads it from."""

_HIDDEN = "(hidden)"
_CHECK = "failover.settings.check"
_CODE_ONLY = frozenset({"trip_condition", "states", "transitions"})
_POLICY_KEYS: Final = tuple(f.name for f in attrs.fields(BreakerPolicy) if f.name not in _CODE_ONLY)
_RATE_LIMIT_KEYS: Final = tuple(f.name for f in attrs.fields(RateLimit))
_SECRET_WORDS = frozenset(
    {"key", "apikey", "secret", "token", "password", "passwd", "auth", "authorization", "bearer"}
    | {"credential", "credentials"}
)
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")

_PathPart: TypeAlias = str | int
_Found: TypeAlias = tuple[tuple[_PathPart, ...], str | None, str]  # (subpath, given, expected)


@attrs.frozen
class SettingsProblem:
    """One bad key.

    Attributes:
        path: Where: ``providers[1].rate_limits.per_minute``, or an environment variable's name.
        given: The value given as shown (a repr, shortened; ``(hidden)`` where it could be a
            credential), or None when the key is missing or unknown.
        expected: What would be accepted.
    """

    path: str
    given: str | None
    expected: str

    def __str__(self) -> str:
        if self.given is None:
            return f"{self.path}: {self.expected}"
        return f"{self.path}: got {self.given}; expected {self.expected}"


class SettingsError(ConfigurationError):
    """Invalid settings: every problem found, at once.

    Attributes:
        source: Where the settings came from (a file, the environment, a mapping).
        problems: Every bad key, in the order found.
    """

    def __init__(self, source: str, problems: Iterable[SettingsProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "".join(f"\n  - {problem}" for problem in self.problems)
        plural = "" if count == 1 else "s"
        super().__init__(f"invalid failover settings ({source}): {count} problem{plural}{lines}")


class _Invalid(ConfigurationError):
    """A check's verdict: problems relative to the value checked."""

    def __init__(self, found: list[_Found]) -> None:
        self.found = found
        super().__init__("; ".join(str(_problem(f)) for f in found))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _bad(expected: str, value: object, *, hide: bool = False) -> _Invalid:
    return _Invalid([((), _HIDDEN if hide else _show(value), expected)])


def _render(parts: Iterable[_PathPart], text: str = "") -> str:
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text or "(settings)"


def _problem(found: _Found, rename: Mapping[str, str] | None = None) -> SettingsProblem:
    parts, given, expected = found
    key = parts[0] if len(parts) == 1 else None
    path = rename[key] if rename and isinstance(key, str) and key in rename else _render(parts)
    return SettingsProblem(path, given, expected)


def _under(part: _PathPart, exc: _Invalid) -> list[_Found]:
    return [((part, *sub), given, expected) for sub, given, expected in exc.found]


def _secret_name(name: str) -> bool:
    return any(word in _SECRET_WORDS for word in re.split(r"[^a-z0-9]+", name.lower()))


def _unknown(key: object, accepted: Iterable[str]) -> _Found:
    hint = ""
    if isinstance(key, str) and _secret_name(key):
        hint = "; API keys come from the environment only: name the variable in api_key_env"
    expected = f"unknown key; the accepted keys are {', '.join(accepted)}{hint}"
    return ((str(key),), None, expected)


# --- checks: value -> normalized value, or _Invalid --------------------------------------------


def _number(value: object, *, minimum: float, strict: bool, expected: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) if isinstance(value, float) or abs(value) < 2**1000 else math.inf
        if math.isfinite(number) and (number > minimum if strict else number >= minimum):
            return number
    raise _bad(expected, value)


def _seconds(value: object) -> float:
    return _number(value, minimum=0, strict=True, expected="a finite number of seconds > 0")


def _factor(value: object) -> float:
    return _number(value, minimum=1, strict=False, expected="a finite number >= 1")


def _weight(value: object) -> float:
    return _number(value, minimum=0, strict=True, expected="a finite number > 0")


def _priority(value: object) -> float:
    return _number(value, minimum=-math.inf, strict=False, expected="a finite number")


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise _bad("an int >= 1", value)


def _limit(value: object) -> int | None:
    if value is None or value == UNLIMITED:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise _bad(f"an int >= 1, or {UNLIMITED!r}", value)


def _choice(options: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if isinstance(value, str) and value in options:
            return value
        raise _bad(f"one of {', '.join(map(repr, options))}", value)

    return check


def _name(value: object) -> str:
    if isinstance(value, str) and value and value == value.strip():
        return value
    raise _bad("a non-empty string without surrounding spaces", value)


def _kind(value: object) -> str:
    if isinstance(value, str) and value and value == value.strip():
        return value
    raise _bad("a provider kind such as 'gemini', 'brave', 'openai' or 'callable'", value)


def _optional_text(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise _bad("a non-empty string", value)


def _base_url(value: object) -> str | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:
        parts = None
    if parts is not None and (
        parts.username or parts.password or any(_secret_name(k) for k, _ in parse_qsl(parts.query))
    ):
        expected = "a URL without credentials (API keys come from api_key_env)"
        raise _bad(expected, value, hide=True)
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise _bad("an http:// or https:// URL such as 'https://api.example.com/v1'", value)
    return cast(str, value)


def _env_name(value: object) -> str | None:
    if value is None or (isinstance(value, str) and _ENV_NAME.fullmatch(value)):
        return value
    expected = (
        "the NAME of an environment variable (A-Z, 0-9 and _, such as 'GEMINI_API_KEY'), "
        "never the key itself"
    )
    raise _bad(expected, value, hide=True)


def _table(value: object, expected: str) -> Mapping[str, object]:
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return value
    raise _bad(expected, value)


def _entries(
    value: object, expected: str, accepted: tuple[str, ...], check: Callable[[str, object], object]
) -> dict[str, Any]:
    """Check each entry of a table: every unknown key and every bad value is a problem."""
    table, found, out = _table(value, expected), list[_Found](), dict[str, Any]()
    for key, item in table.items():
        if key not in accepted:
            found.append(_unknown(key, accepted))
            continue
        try:
            out[key] = check(key, item)
        except _Invalid as exc:
            found += _under(key, exc)
    if found:
        raise _Invalid(found)
    return out


def _rate_limits(value: object) -> dict[str, int | None]:
    expected = f"a table with some of {', '.join(_RATE_LIMIT_KEYS)}"
    return _entries(value, expected, _RATE_LIMIT_KEYS, lambda _, item: _limit(item))


def _options(value: object) -> dict[str, object]:
    expected = "a table of options for the provider, with string keys"
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        # Its repr could hold a credential: only its type is shown.
        raise _Invalid([((), f"<{type(value).__name__}>", expected)])
    secret = [key for key in value if _secret_name(key)]
    if secret:
        expected = "no credential here: API keys come from the environment (name it in api_key_env)"
        raise _Invalid([((key,), _HIDDEN, expected) for key in secret])
    return dict(value)


def _expected_from(exc: ConfigurationError) -> str:
    match = re.search(r" must be (.+), got ", str(exc), re.DOTALL)
    return match.group(1) if match else str(exc)


def _window_data(value: object) -> dict[str, Any]:
    if isinstance(value, CountWindow | TimeWindow):
        return attrs.asdict(value)
    if isinstance(value, Mapping) and set(value) in ({"size"}, {"seconds"}, {"seconds", "buckets"}):
        kind = CountWindow if "size" in value else TimeWindow
        try:
            return attrs.asdict(kind(**value))
        except ConfigurationError as exc:
            field = re.match(r"\w+\.(\w+) ", str(exc))
            if field and field.group(1) in value:
                given = _show(value[field.group(1)])
                raise _Invalid([((field.group(1),), given, _expected_from(exc))]) from None
            raise _bad(_expected_from(exc), value) from None
    expected = "{size = N} (the last N calls) or {seconds = T, buckets = B} (the last T seconds)"
    raise _bad(expected, value)


def _policy_value(key: str, value: object) -> object:
    if key == "window":
        return _window_data(value)
    if key == "removed_transitions":
        names = sorted(BUILTIN_NAMES)
        if isinstance(value, list | tuple | set | frozenset) and set(value) <= BUILTIN_NAMES:
            return tuple(sorted(value))
        raise _bad(f"a list of built-in transition names, from {', '.join(names)}", value)
    attribute = getattr(attrs.fields(BreakerPolicy), key)
    try:
        attribute.validator(None, attribute, value)
    except ConfigurationError as exc:
        raise _bad(_expected_from(exc), value) from None
    return value


def _policy(value: object) -> dict[str, object]:
    expected = "a table of BreakerPolicy fields"
    checked = _entries(value, expected, _POLICY_KEYS, _policy_value)
    try:
        BreakerPolicy().with_changes(**_policy_kwargs(checked))
    except ConfigurationError as exc:
        raise _bad(f"a consistent policy ({exc})", value) from None
    return checked


def _policy_kwargs(overrides: Mapping[str, object]) -> dict[str, object]:
    kwargs = dict(overrides)
    window = kwargs.get("window")
    if isinstance(window, Mapping):
        kwargs["window"] = CountWindow(**window) if "size" in window else TimeWindow(**window)
    return kwargs


def _lenient(check: Callable[[object], Any], value: Any) -> Any:
    """For attrs converters: the normalized value, or the value as given for the validator."""
    try:
        return check(value)
    except _Invalid:
        return value


def _limit_in(value: int | str | None) -> int | None:
    return cast("int | None", _lenient(_limit, value))


def _policy_in(value: Mapping[str, object]) -> Mapping[str, object]:
    return cast("Mapping[str, object]", _lenient(_policy, value))


def _rate_limits_in(value: Mapping[str, int | str | None]) -> Mapping[str, int | None]:
    return cast("Mapping[str, int | None]", _lenient(_rate_limits, value))


def _options_in(value: Mapping[str, object]) -> Mapping[str, object]:
    return cast("Mapping[str, object]", _lenient(_options, value))


def _check(check: Callable[[object], object]) -> dict[str, object]:
    return {_CHECK: check}


def _validate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    try:
        attribute.metadata[_CHECK](value)
    except _Invalid as exc:
        where = f"{type(instance).__name__}.{attribute.name}"
        problems = [
            SettingsProblem(_render(sub, where), given, expected)
            for sub, given, expected in exc.found
        ]
        raise ConfigurationError("; ".join(map(str, problems))) from None


# --- the records --------------------------------------------------------------------------------


@attrs.frozen
class ProviderSettings:
    """One provider: what to build and how to guard it.

    ``kind`` is checked against the provider registry when the provider is built
    (``failover.registry.build_provider``), not when settings are read: settings may be read
    before the ``providers`` package (or your own code) has registered its kinds.

    Attributes:
        name: A unique name (breakers, events, metrics and status use it).
        kind: Which factory builds it: "gemini", "gemini-sdk", "brave", "openai", "callable", or
            a kind registered with ``failover.registry.register_provider``.
        model: The model to ask, for LLM providers.
        base_url: Overrides the provider's endpoint (an http or https URL, no credentials).
        api_key_env: The NAME of the environment variable that holds the API key, never the
            key itself (upper-case letters, digits and _).
        priority: The provider's rank for the "priority" strategy and the default strategy's
            tie-break; higher numbers are preferred (default 0).
        weight: Its share for the "weighted_random" strategy (a number > 0).
        policy: BreakerPolicy fields that differ for this provider (after the global
            max_consecutive_failures); ``window`` is ``{size = N}`` or ``{seconds = T,
            buckets = B}``. Conditions, custom states and transitions are given in code.
        rate_limits: Some of per_minute, per_day and tokens_per_minute (an int >= 1, or
            "unlimited"); the others come from the global settings.
        options: Anything else the provider's factory reads (no credentials).
    """

    name: str = attrs.field(validator=_validate, metadata=_check(_name))
    kind: str = attrs.field(validator=_validate, metadata=_check(_kind))
    model: str | None = attrs.field(
        default=None, validator=_validate, metadata=_check(_optional_text)
    )
    base_url: str | None = attrs.field(
        default=None, validator=_validate, metadata=_check(_base_url)
    )
    api_key_env: str | None = attrs.field(
        default=None, validator=_validate, metadata=_check(_env_name)
    )
    priority: float = attrs.field(default=0, validator=_validate, metadata=_check(_priority))
    weight: float = attrs.field(default=1.0, validator=_validate, metadata=_check(_weight))
    policy: Mapping[str, object] = attrs.field(
        factory=dict,
        converter=_policy_in,
        validator=_validate,
        metadata=_check(_policy),
        hash=False,
    )
    rate_limits: Mapping[str, int | None] = attrs.field(
        factory=dict,
        converter=_rate_limits_in,
        validator=_validate,
        metadata=_check(_rate_limits),
        hash=False,
    )
    options: Mapping[str, object] = attrs.field(
        factory=dict,
        converter=_options_in,
        validator=_validate,
        metadata=_check(_options),
        hash=False,
    )

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The API key, read now from the variable named by ``api_key_env``.

        Args:
            environ: Where to read it; ``os.environ`` when None.

        Returns:
            The key without surrounding whitespace; None when no variable is named, or it is
            unset or empty.
        """
        if self.api_key_env is None:
            return None
        value = (os.environ if environ is None else environ).get(self.api_key_env, "")
        return value.strip() or None


def _as_tuple(value: Iterable[ProviderSettings]) -> tuple[ProviderSettings, ...]:
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        return tuple(value)
    return cast("tuple[ProviderSettings, ...]", value)  # not a sequence: the validator says so


def _duplicates(names: Iterable[object]) -> list[_Found]:
    found: list[_Found] = []
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if not isinstance(name, str):
            continue
        if name in first:
            expected = f"a name not already used by providers[{first[name]}]"
            found.append(((index, "name"), _show(name), expected))
        first.setdefault(name, index)
    return found


def _raw_name(entry: object) -> object:
    if isinstance(entry, ProviderSettings):
        return entry.name
    return entry.get("name") if isinstance(entry, Mapping) else None


def _providers(value: object) -> tuple[ProviderSettings, ...]:
    if not isinstance(value, list | tuple):
        raise _bad("a list of provider tables ([[failover.providers]] in TOML)", value)
    found: list[_Found] = [
        ((i,), f"<{type(p).__name__}>", "a ProviderSettings")
        for i, p in enumerate(value)
        if not isinstance(p, ProviderSettings)
    ]
    found += _duplicates(_raw_name(p) for p in value)
    if found:
        raise _Invalid(found)
    return tuple(value)


@attrs.frozen
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
        max_retries_per_request: Attempts per request across providers
            (MAX_RETRIES_PER_REQUEST, 3).
        backoff_factor: Growth of the wait before a provider is tried again (BACKOFF_FACTOR, 1.5).
        request_timeout: A request's overall deadline in seconds (REQUEST_TIMEOUT, 60).
        requests_per_minute: Each provider's requests per minute, or None for no limit
            (REQUESTS_PER_MINUTE, 60).
        daily_request_limit: Each provider's requests per day, or None for no limit
            (DAILY_REQUEST_LIMIT, 10000).
        strategy: How the coordinator picks a provider: "success_rate", "priority",
            "round_robin", "weighted_random", "least_latency" or "p2c" (a custom strategy, a
            callable, is given to the Coordinator in code).
        all_down: What it does when no provider admits a call: "fail_fast", "wait" or "probe".
        providers: The providers, in registration order, with unique names.
    """

    health_check_interval: float = attrs.field(
        default=300.0, validator=_validate, metadata=_check(_seconds)
    )
    health_check_timeout: float = attrs.field(
        default=10.0, validator=_validate, metadata=_check(_seconds)
    )
    max_consecutive_failures: int = attrs.field(
        default=3, validator=_validate, metadata=_check(_count)
    )
    max_retries_per_request: int = attrs.field(
        default=3, validator=_validate, metadata=_check(_count)
    )
    backoff_factor: float = attrs.field(default=1.5, validator=_validate, metadata=_check(_factor))
    request_timeout: float = attrs.field(
        default=60.0, validator=_validate, metadata=_check(_seconds)
    )
    requests_per_minute: int | None = attrs.field(
        default=60, converter=_limit_in, validator=_validate, metadata=_check(_limit)
    )
    daily_request_limit: int | None = attrs.field(
        default=10_000, converter=_limit_in, validator=_validate, metadata=_check(_limit)
    )
    strategy: _StrategyName = attrs.field(
        default="success_rate", validator=_validate, metadata=_check(_choice(_STRATEGIES))
    )
    all_down: _AllDown = attrs.field(
        default="fail_fast", validator=_validate, metadata=_check(_choice(_ALL_DOWN_MODES))
    )
    providers: tuple[ProviderSettings, ...] = attrs.field(
        default=(), converter=_as_tuple, validator=_validate, metadata=_check(_providers)
    )

    def __attrs_post_init__(self) -> None:
        # The fields' checks mirror the runtime records' validators; this makes sure of it,
        # so that the derived objects can never fail later.
        self.retry_policy()
        self.health_config()
        for provider in self.providers:
            self.breaker_policy(provider.name)
            self.rate_limit(provider.name)

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
        return _structure(_read_table(Path(path)), f"{os.fspath(path)} [failover]")

    @classmethod
    def from_env(
        cls, prefix: str = "", environ: Mapping[str, str] | None = None
    ) -> FailoverSettings:
        """Settings from environment variables: the names of ENV_NAMES, each after ``prefix``.

        ``{prefix}FAILOVER_CONFIG`` may name a TOML file (read as by ``from_toml``; the only way
        to give providers); the variables that are set override its values. Other variables
        are ignored. Limits accept "unlimited".

        Args:
            prefix: Put before each name ("APP_" reads APP_BACKOFF_FACTOR, ...).
            environ: Where to read; ``os.environ`` when None.

        Raises:
            ConfigurationError: The FAILOVER_CONFIG file cannot be read or has no [failover]
                table.
            SettingsError: Listing every bad value, by variable name (and every bad key of the
                file, by path).
        """
        env = os.environ if environ is None else environ
        data: dict[str, object] = {}
        source = "the environment"
        config = env.get(prefix + CONFIG_VARIABLE, "").strip()
        if config:
            data.update(_read_table(Path(config), via=prefix + CONFIG_VARIABLE))
            source += f" and {config} [failover]"
        names: dict[str, str] = {}
        for field, name in ENV_NAMES.items():
            if prefix + name in env:
                data[field] = _from_text(env[prefix + name])
                names[field] = prefix + name
        return _structure(data, source, names)

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
            max_attempts=self.max_retries_per_request,
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
        changes: dict[str, object] = {"max_consecutive_failures": self.max_consecutive_failures}
        if provider_name is not None:
            changes.update(_policy_kwargs(self.provider(provider_name).policy))
        return BreakerPolicy().with_changes(**changes)

    def rate_limit(self, provider_name: str | None = None) -> RateLimit:
        """The RateLimit from the global limits, then the provider's overrides.

        Args:
            provider_name: A provider of these settings; None for the global limits.
        """
        limits = {"per_minute": self.requests_per_minute, "per_day": self.daily_request_limit}
        if provider_name is not None:
            limits.update(self.provider(provider_name).rate_limits)
        return RateLimit(**limits)


# --- reading ---------------------------------------------------------------------------------


def _from_text(text: str) -> object:
    """An environment variable's text as an int or a float, or as given if it is neither."""
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text.strip()


def _read_table(path: Path, via: str = "") -> Mapping[str, object]:
    named = f" (named by {via})" if via else ""
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read failover settings from {str(path)!r}{named}: {exc.strerror or exc}"
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{str(path)!r}{named} is not valid TOML: {exc}") from exc
    table = document.get("failover")
    if not isinstance(table, dict):
        raise ConfigurationError(
            f"{str(path)!r}{named} has no [failover] table (its top-level keys are "
            f"{sorted(document)!r}); put the settings under [failover] and each provider in a "
            "[[failover.providers]] table"
        )
    return table


def _structure(
    data: object, source: str, rename: Mapping[str, str] | None = None
) -> FailoverSettings:
    try:
        if not isinstance(data, Mapping):
            raise _bad("a table (mapping) of settings", data)
        return _converter().structure(data, FailoverSettings)
    except (cattrs.BaseValidationError, _Invalid) as exc:
        found = _leaves(exc, ())
        raise SettingsError(source, [_problem(f, rename) for f in found]) from None


def _leaves(exc: BaseException, path: tuple[_PathPart, ...]) -> Iterator[_Found]:
    """Every problem in a (nested) cattrs error group, with its path."""
    if isinstance(exc, ClassValidationError):
        named, other = exc.group_exceptions()
        for inner, note in named:
            yield from _leaves(inner, (*path, note.name))
        for inner in other:
            yield from _leaves(inner, path)
    elif isinstance(exc, IterableValidationError):
        indexed, rest = exc.group_exceptions()
        for inner, index_note in indexed:
            yield from _leaves(inner, (*path, index_note.index))
        for inner in rest:
            yield from _leaves(inner, path)
    elif isinstance(exc, ForbiddenExtraKeysError):
        accepted = [f.name for f in attrs.fields(exc.cl)]
        for key in sorted(map(str, exc.extra_fields)):
            sub, given, expected = _unknown(key, accepted)
            yield (*path, *sub), given, expected
    elif isinstance(exc, _Invalid):
        for sub, given, expected in exc.found:
            yield (*path, *sub), given, expected
    elif isinstance(exc, KeyError):
        yield path, None, "missing; this key is required"
    elif isinstance(exc, ExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner, path)
    else:  # pragma: no cover - the checks above leave nothing else
        yield path, None, str(exc)


def _check_hook(check: Callable[[object], object]) -> Callable[[object, object], object]:
    return lambda value, _: check(value)


def _record_hook(
    cls: type[Any], conv: cattrs.Converter, **hooks: Callable[[object, object], object]
) -> Callable[[object, type[Any]], Any]:
    overrides = {
        f.name: override(struct_hook=hooks.get(f.name) or _check_hook(f.metadata[_CHECK]))
        for f in attrs.fields(cls)
    }
    structure = make_dict_structure_fn(cls, conv, **cast(Any, overrides))

    def hook(value: object, kind: type[Any]) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise _bad(f"a table (mapping) of {cls.__name__} keys", value)
        return structure(value, kind)

    return hook


@cache
def _converter() -> cattrs.Converter:
    """A copy of the project's converter that reads settings strictly (every error, no extra
    keys); the project's converter itself is left as it is."""
    conv = converter.copy(forbid_extra_keys=True, detailed_validation=True)

    def providers(value: object, _: object) -> tuple[ProviderSettings, ...]:
        if not isinstance(value, list | tuple):
            raise _bad("a list of provider tables ([[failover.providers]] in TOML)", value)
        duplicates = _duplicates(_raw_name(entry) for entry in value)
        try:
            structured = conv.structure(value, tuple[ProviderSettings, ...])
        except cattrs.BaseValidationError as exc:
            if duplicates:
                raise ExceptionGroup("providers", [exc, _Invalid(duplicates)]) from None
            raise
        if duplicates:
            raise _Invalid(duplicates)
        return structured

    conv.register_structure_hook(ProviderSettings, _record_hook(ProviderSettings, conv))
    conv.register_structure_hook(
        FailoverSettings, _record_hook(FailoverSettings, conv, providers=providers)
    )
    return conv
