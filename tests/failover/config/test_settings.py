"""FailoverSettings and ProviderSettings: defaults, the three ways in, the derived runtime
objects, and API keys that never show (the errors are in test_settings_errors.py)."""

from __future__ import annotations

import json
import tomllib

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.health import HealthCheckConfig
from failover.ratelimit import RateLimit
from failover.retry import RetryPolicy
from failover.settings import (
    CONFIG_VARIABLE,
    ENV_NAMES,
    PREFIXED_ENV_NAMES,
    FailoverSettings,
    ProviderSettings,
    SettingsError,
)
from statemachines import BreakerPolicy, ConfigurationError, CountWindow, TimeWindow, converter
from tests.failover.config.settings_support import FIXTURES, SECRET, gemini

# The seed's names (issue 4), with issue 15's defaults: retries count extra attempts (2 retries
# are the 3 attempts of RetryPolicy()), and no client-side rate limit (as a Coordinator in code).
ISSUE = {
    "health_check_interval": ("HEALTH_CHECK_INTERVAL", 300),
    "health_check_timeout": ("HEALTH_CHECK_TIMEOUT", 10),
    "max_consecutive_failures": ("MAX_CONSECUTIVE_FAILURES", 3),
    "max_retries_per_request": ("MAX_RETRIES_PER_REQUEST", 2),
    "backoff_factor": ("BACKOFF_FACTOR", 1.5),
    "request_timeout": ("REQUEST_TIMEOUT", 60),
    "requests_per_minute": ("REQUESTS_PER_MINUTE", None),
    "daily_request_limit": ("DAILY_REQUEST_LIMIT", None),
}
# Read with a prefix only (issue 15): the strategy, all_down, hedging and the storage.
PREFIXED = {
    "strategy": "STRATEGY",
    "all_down": "ALL_DOWN",
    "hedge_after": "HEDGE_AFTER",
    "storage.url": "STORAGE_URL",
    "storage.prefix": "STORAGE_PREFIX",
}


# --- defaults --------------------------------------------------------------------------------


def test_every_default_is_the_issues() -> None:
    settings = FailoverSettings()
    assert {field: getattr(settings, field) for field in ISSUE} == {
        field: default for field, (_, default) in ISSUE.items()
    }
    assert (settings.strategy, settings.all_down, settings.providers) == (
        "success_rate",
        "fail_fast",
        (),
    )
    assert FailoverSettings.from_mapping({}) == settings


def test_the_environment_names_are_the_issues() -> None:
    assert dict(ENV_NAMES) == {field: name for field, (name, _) in ISSUE.items()}
    assert dict(PREFIXED_ENV_NAMES) == PREFIXED


def test_provider_defaults() -> None:
    provider = ProviderSettings("gemini", "gemini")
    assert attrs.asdict(provider) == {
        "name": "gemini",
        "kind": "gemini",
        "model": None,
        "base_url": None,
        "api_key_env": None,
        "priority": 0,
        "weight": 1.0,
        "policy": {},
        "policy_file": None,
        "health_check_interval": None,
        "health_check_timeout": None,
        "rate_limits": {},
        "options": {},
        "fallback": False,
    }


# --- the environment -------------------------------------------------------------------------


def test_from_env_reads_every_name_and_converts_its_type() -> None:
    env = {
        "HEALTH_CHECK_INTERVAL": "120",
        "HEALTH_CHECK_TIMEOUT": "2.5",
        "MAX_CONSECUTIVE_FAILURES": "5",
        "MAX_RETRIES_PER_REQUEST": " 4 ",
        "BACKOFF_FACTOR": "2",
        "REQUEST_TIMEOUT": "1e2",
        "REQUESTS_PER_MINUTE": "unlimited",
        "DAILY_REQUEST_LIMIT": "200",
    }
    settings = FailoverSettings.from_env("", environ=env)
    assert settings == FailoverSettings(
        health_check_interval=120,
        health_check_timeout=2.5,
        max_consecutive_failures=5,
        max_retries_per_request=4,
        backoff_factor=2,
        request_timeout=100,
        requests_per_minute=None,
        daily_request_limit=200,
    )
    assert type(settings.max_retries_per_request) is int
    assert type(settings.backoff_factor) is float
    assert type(settings.health_check_interval) is float


def test_from_env_reads_only_the_prefixed_names() -> None:
    env = {
        "MAX_RETRIES_PER_REQUEST": "9",
        "APP_MAX_RETRIES_PER_REQUEST": "2",
        "BACKOFF_FACTOR": "x",
    }
    settings = FailoverSettings.from_env("APP_", env)
    assert settings == FailoverSettings(max_retries_per_request=2)


def test_from_env_ignores_every_other_variable() -> None:
    env = {
        "PATH": "/usr/bin",
        "STRATEGY": "nonsense",
        "HEALTH_CHECK_INTERVALS": "nonsense",
        "APP_HEALTH_CHECK_INTERVAL": "nonsense",
        "max_retries_per_request": "nonsense",
    }
    assert FailoverSettings.from_env("", environ=env) == FailoverSettings()


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SETTINGS_REQUEST_TIMEOUT", "15")
    assert FailoverSettings.from_env("TEST_SETTINGS_").request_timeout == 15.0


def test_from_env_takes_providers_from_the_file_named_by_FAILOVER_CONFIG() -> None:
    path = FIXTURES / "full.toml"
    env = {"APP_CONFIG": str(path), "APP_MAX_RETRIES_PER_REQUEST": "2"}
    settings = FailoverSettings.from_env("APP_", env)
    assert settings == attrs.evolve(FailoverSettings.from_toml(path), max_retries_per_request=2)
    assert len(settings.providers) == 3


# --- TOML and mappings -----------------------------------------------------------------------

FULL = FailoverSettings(
    health_check_interval=120,
    health_check_timeout=5.5,
    max_consecutive_failures=4,
    max_retries_per_request=5,
    backoff_factor=2,
    request_timeout=90,
    requests_per_minute=30,
    daily_request_limit=5000,
    strategy="priority",
    all_down="wait",
    providers=(
        ProviderSettings(
            "gemini",
            "gemini",
            model="gemini-2.0-flash",
            api_key_env="GEMINI_API_KEY",
            priority=10,
            weight=3,
            policy={
                "open_duration": 45,
                "max_open_duration": 600,
                "window": TimeWindow(120, 12),
                "removed_transitions": ["probe_health_check"],
            },
            rate_limits={"per_minute": 15, "per_day": "unlimited"},
            options={"temperature": 0.2, "max_output_tokens": 1024},
        ),
        ProviderSettings(
            "brave", "brave", api_key_env="BRAVE_API_KEY", policy={"max_consecutive_failures": 2}
        ),
        ProviderSettings("local", "openai", model="llama3", base_url="http://localhost:11434/v1"),
    ),
)


def test_from_toml_reads_the_failover_table() -> None:
    assert FailoverSettings.from_toml(FIXTURES / "full.toml") == FULL
    assert FailoverSettings.from_toml(str(FIXTURES / "minimal.toml")) == FailoverSettings()


def test_from_mapping_reads_what_from_toml_reads() -> None:
    with (FIXTURES / "full.toml").open("rb") as file:
        table = tomllib.load(file)["failover"]
    assert FailoverSettings.from_mapping(table) == FULL
    table["providers"][1] = FULL.providers[1]  # a ProviderSettings among the mappings
    assert FailoverSettings.from_mapping(table) == FULL


def test_a_policy_may_set_fields_that_only_make_sense_together() -> None:
    data = {"providers": [gemini(policy={"open_duration": 5, "max_open_duration": 10})]}
    assert FailoverSettings.from_mapping(data).breaker_policy("gemini").max_open_duration == 10


# Bad values by path; any subset of them must be reported, each at its path, and nothing else.
def test_direct_construction_normalizes_like_the_readers() -> None:
    options = {"temperature": 1}
    provider = ProviderSettings(
        "a",
        "b",
        rate_limits={"per_day": "unlimited"},
        options=options,
        policy={"window": CountWindow(5)},
    )
    options["top_k"] = 3
    assert provider.options == {"temperature": 1}
    assert provider.rate_limits == {"per_day": None}
    assert provider.policy == {"window": {"size": 5}}
    assert FailoverSettings(requests_per_minute="unlimited").requests_per_minute is None
    assert FailoverSettings(providers=iter([provider])).providers == (provider,)


def test_settings_are_frozen_and_hashable() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        FULL.strategy = "p2c"  # type: ignore[misc]
    assert hash(FailoverSettings.from_toml(FIXTURES / "full.toml")) == hash(FULL)


# --- derived runtime objects -----------------------------------------------------------------


def test_the_defaults_derive_the_runtime_defaults() -> None:
    settings = FailoverSettings()
    assert settings.retry_policy() == RetryPolicy()
    assert settings.health_config() == HealthCheckConfig()
    assert settings.breaker_policy() == BreakerPolicy()
    assert settings.rate_limit() == RateLimit()


def test_retry_policy_and_health_config() -> None:
    # max_retries_per_request = 5: five attempts after the first
    assert FULL.retry_policy() == RetryPolicy(max_attempts=6, backoff_factor=2, request_timeout=90)
    assert FULL.health_config() == HealthCheckConfig(interval=120, timeout=5.5)


def test_breaker_policy_applies_the_global_threshold_then_the_providers_overrides() -> None:
    assert FULL.breaker_policy() == BreakerPolicy(max_consecutive_failures=4)
    assert FULL.breaker_policy("gemini") == BreakerPolicy(
        max_consecutive_failures=4,
        open_duration=45,
        max_open_duration=600,
        window=TimeWindow(120, 12),
        removed_transitions={"probe_health_check"},
    )
    assert FULL.breaker_policy("brave") == BreakerPolicy(max_consecutive_failures=2)
    assert FULL.breaker_policy("local") == BreakerPolicy(max_consecutive_failures=4)


def test_rate_limit_applies_the_global_limits_then_the_providers() -> None:
    assert FULL.rate_limit() == RateLimit(per_minute=30, per_day=5000)
    assert FULL.rate_limit("gemini") == RateLimit(per_minute=15, per_day=None)
    assert FULL.rate_limit("local") == RateLimit(per_minute=30, per_day=5000)


def test_an_unknown_provider_name_is_an_error_naming_the_providers() -> None:
    with pytest.raises(ConfigurationError, match=r"no provider named 'x'.*\['gemini', 'brave'"):
        FULL.breaker_policy("x")
    assert FULL.provider("local") is FULL.providers[2]


# --- JSON, and the one converter -------------------------------------------------------------

names = st.text(st.characters(codec="utf-8"), min_size=1).filter(lambda s: s == s.strip())
providers = st.builds(
    ProviderSettings,
    name=names,
    kind=st.sampled_from(["gemini", "brave", "openai", "callable", "mine"]),
    model=st.none() | names,
    base_url=st.none() | st.sampled_from(["https://api.example.com/v1", "http://[::1]:8080"]),
    api_key_env=st.none() | st.from_regex(r"[A-Z_][A-Z0-9_]{0,15}", fullmatch=True),
    priority=st.integers(-5, 5) | st.floats(-5, 5),
    weight=st.floats(0.01, 100),
    policy=st.fixed_dictionaries(
        {},
        optional={
            "open_duration": st.floats(0.5, 300),
            "half_open_max_calls": st.integers(1, 5),
            "window": st.builds(CountWindow, st.integers(1, 500))
            | st.builds(TimeWindow, st.floats(1, 600), st.integers(1, 60)),
        },
    ),
    rate_limits=st.dictionaries(
        st.sampled_from(["per_minute", "per_day", "tokens_per_minute"]),
        st.none() | st.integers(1, 10**6),
    ),
    options=st.dictionaries(
        st.sampled_from(["temperature", "max_output_tokens", "safe_search"]),
        st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | names,
    ),
)


@given(st.lists(providers, max_size=4, unique_by=lambda p: p.name))
def test_settings_round_trip_through_json(found: list[ProviderSettings]) -> None:
    settings = FailoverSettings(providers=found, strategy="p2c")
    text = json.dumps(settings.to_mapping())
    assert FailoverSettings.from_mapping(json.loads(text)) == settings


def test_reading_settings_leaves_the_projects_converter_as_it_was() -> None:
    with pytest.raises(SettingsError):
        FailoverSettings.from_mapping({"unknown": 1})
    assert converter.structure({"size": 3, "unknown": 1}, CountWindow) == CountWindow(3)


# --- API keys --------------------------------------------------------------------------------


def test_the_api_key_is_read_from_the_environment_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = FULL.providers[0]
    assert provider.api_key({"GEMINI_API_KEY": f" {SECRET}\n"}) == SECRET
    assert provider.api_key({"GEMINI_API_KEY": "  "}) is None
    assert provider.api_key({}) is None
    assert FULL.providers[2].api_key({"GEMINI_API_KEY": SECRET}) is None
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    assert provider.api_key() == SECRET


def test_settings_never_show_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    monkeypatch.setenv("BRAVE_API_KEY", SECRET)
    monkeypatch.setenv(CONFIG_VARIABLE, str(FIXTURES / "full.toml"))
    settings = FailoverSettings.from_env()
    assert settings.providers[0].api_key() == SECRET
    texts = [repr(settings), str(settings), json.dumps(settings.to_mapping())]
    texts += [repr(p) for p in settings.providers] + [str(p) for p in settings.providers]
    texts += [json.dumps(converter.unstructure(settings.providers[0]))]
    assert not [text for text in texts if SECRET in text]
