"""FailoverSettings and ProviderSettings: defaults, the three ways in, every bad key reported at
once with its path, the derived runtime objects, and API keys that never show."""

from __future__ import annotations

import json
import tomllib
import traceback
from pathlib import Path
from typing import Any

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
    FailoverSettings,
    ProviderSettings,
    SettingsError,
)
from statemachines import BreakerPolicy, ConfigurationError, CountWindow, TimeWindow, converter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "settings"
SECRET = "sk-TEST-7f3a9c1e-never-print-me"

# The issue's names and defaults (issue 4, items 2, 3 and 5).
ISSUE = {
    "health_check_interval": ("HEALTH_CHECK_INTERVAL", 300),
    "health_check_timeout": ("HEALTH_CHECK_TIMEOUT", 10),
    "max_consecutive_failures": ("MAX_CONSECUTIVE_FAILURES", 3),
    "max_retries_per_request": ("MAX_RETRIES_PER_REQUEST", 3),
    "backoff_factor": ("BACKOFF_FACTOR", 1.5),
    "request_timeout": ("REQUEST_TIMEOUT", 60),
    "requests_per_minute": ("REQUESTS_PER_MINUTE", 60),
    "daily_request_limit": ("DAILY_REQUEST_LIMIT", 10_000),
}


def problems(exc: pytest.ExceptionInfo[SettingsError]) -> dict[str, tuple[str | None, str]]:
    return {p.path: (p.given, p.expected) for p in exc.value.problems}


def gemini(**changes: Any) -> dict[str, Any]:
    return {"name": "gemini", "kind": "gemini", **changes}


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
        "rate_limits": {},
        "options": {},
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
    settings = FailoverSettings.from_env(environ=env)
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
    assert FailoverSettings.from_env(environ=env) == FailoverSettings()


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SETTINGS_REQUEST_TIMEOUT", "15")
    assert FailoverSettings.from_env("TEST_SETTINGS_").request_timeout == 15.0


def test_from_env_names_every_bad_variable() -> None:
    env = {
        "APP_HEALTH_CHECK_INTERVAL": "soon",
        "APP_MAX_RETRIES_PER_REQUEST": "2.5",
        "APP_BACKOFF_FACTOR": "0.5",
        "APP_REQUEST_TIMEOUT": "",
        "APP_DAILY_REQUEST_LIMIT": "0",
        "APP_REQUESTS_PER_MINUTE": "60",
    }
    with pytest.raises(SettingsError, match=r"\(the environment\): 5 problems") as exc:
        FailoverSettings.from_env("APP_", env)
    assert problems(exc) == {
        "APP_HEALTH_CHECK_INTERVAL": ("'soon'", "a finite number of seconds > 0"),
        "APP_MAX_RETRIES_PER_REQUEST": ("2.5", "an int >= 1"),
        "APP_BACKOFF_FACTOR": ("0.5", "a finite number >= 1"),
        "APP_REQUEST_TIMEOUT": ("''", "a finite number of seconds > 0"),
        "APP_DAILY_REQUEST_LIMIT": ("0", "an int >= 1, or 'unlimited'"),
    }


def test_from_env_takes_providers_from_the_file_named_by_FAILOVER_CONFIG() -> None:
    path = FIXTURES / "full.toml"
    env = {f"APP_{CONFIG_VARIABLE}": str(path), "APP_MAX_RETRIES_PER_REQUEST": "2"}
    settings = FailoverSettings.from_env("APP_", env)
    assert settings == attrs.evolve(FailoverSettings.from_toml(path), max_retries_per_request=2)
    assert len(settings.providers) == 3


def test_from_env_reports_the_file_and_the_variables_together() -> None:
    env = {"FAILOVER_CONFIG": str(FIXTURES / "invalid.toml"), "REQUEST_TIMEOUT": "-1"}
    with pytest.raises(SettingsError, match=r"invalid\.toml") as exc:
        FailoverSettings.from_env(environ=env)
    assert {"REQUEST_TIMEOUT", "providers[0].rate_limits.per_minute"} <= set(problems(exc))


def test_from_env_names_the_variable_of_an_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(
        ConfigurationError, match=r"nowhere\.toml.*\(named by APP_FAILOVER_CONFIG\)"
    ):
        FailoverSettings.from_env("APP_", {"APP_FAILOVER_CONFIG": str(missing)})


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


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_failover_table.toml", r"has no \[failover\] table.*'max_retries_per_request'"),
        ("not_toml.toml", "is not valid TOML"),
        ("missing.toml", "cannot read failover settings from"),
    ],
)
def test_from_toml_refuses_a_file_without_settings(name: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        FailoverSettings.from_toml(FIXTURES / name)


def test_from_toml_lists_every_bad_key_with_its_value_and_expected_form() -> None:
    with pytest.raises(SettingsError, match=r"invalid\.toml \[failover\]\): 13 problems") as exc:
        FailoverSettings.from_toml(FIXTURES / "invalid.toml")
    found = problems(exc)
    assert set(found) == {
        "health_check_interval",
        "max_retries_per_request",
        "backoff_factor",
        "strategy",
        "retries",
        "providers[0].api_key_env",
        "providers[0].rate_limits.per_minute",
        "providers[0].policy.open_duration",
        "providers[0].policy.trip_after",
        "providers[1].name",
        "providers[1].weight",
        "providers[2].name",
        "providers[2].base_url",
    }
    assert found["health_check_interval"] == ("-5", "a finite number of seconds > 0")
    assert found["backoff_factor"] == ("'fast'", "a finite number >= 1")
    assert found["strategy"][1].startswith("one of 'success_rate', 'priority'")
    assert found["retries"][0] is None
    assert "max_retries_per_request" in found["retries"][1]
    assert found["providers[0].policy.open_duration"] == ("0", "a finite number of seconds > 0")
    assert "open_duration" in found["providers[0].policy.trip_after"][1]
    assert found["providers[1].name"] == (None, "missing; this key is required")
    assert found["providers[2].name"] == ("'gemini'", "a name not already used by providers[0]")
    assert found["providers[2].base_url"][1].startswith("an http:// or https:// URL")
    assert all(str(problem) in str(exc.value) for problem in exc.value.problems)


@pytest.mark.parametrize(
    ("data", "path", "expected"),
    [
        ([1, 2], "(settings)", "a table (mapping) of settings"),
        ({"providers": {"gemini": {}}}, "providers", "a list of provider tables"),
        ({"providers": ["gemini"]}, "providers[0]", "a table (mapping) of ProviderSettings keys"),
        ({"max_retries_per_request": True}, "max_retries_per_request", "an int >= 1"),
        ({"backoff_factor": 10**400}, "backoff_factor", "a finite number >= 1"),
        ({"providers": [gemini(priority="high")]}, "providers[0].priority", "a finite number"),
        ({"providers": [gemini(model="")]}, "providers[0].model", "a non-empty string"),
        ({"providers": [gemini(), gemini(name=["g"])]}, "providers[1].name", "a non-empty"),
        ({"providers": [gemini(name=" g")]}, "providers[0].name", "a non-empty string without"),
        ({"providers": [gemini(options=[1])]}, "providers[0].options", "a table of options"),
        (
            {"providers": [gemini(policy={"window": {"size": 0}})]},
            "providers[0].policy.window.size",
            "an int >= 1",
        ),
        (
            {"providers": [gemini(policy={"window": {"sise": 5}})]},
            "providers[0].policy.window",
            "{size = N} (the last N calls) or {seconds = T, buckets = B} (the last T seconds)",
        ),
        (
            {"providers": [gemini(policy={"max_open_duration": 10})]},
            "providers[0].policy",
            "a consistent policy (BreakerPolicy.max_open_duration (10) must be >= open_duration",
        ),
        (
            {"providers": [gemini(policy={"removed_transitions": ["tripp"]})]},
            "providers[0].policy.removed_transitions",
            "a list of built-in transition names",
        ),
        (
            {"providers": [gemini(policy={"health_check_can_probe": 1})]},
            "providers[0].policy.health_check_can_probe",
            "a bool (True or False)",
        ),
    ],
)
def test_each_kind_of_bad_value_is_reported_with_its_path(
    data: object, path: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as exc:
        FailoverSettings.from_mapping(data)  # type: ignore[arg-type]
    [(found, (_, message))] = problems(exc).items()
    assert (found, message[: len(expected)]) == (path, expected)


def test_a_policy_may_set_fields_that_only_make_sense_together() -> None:
    data = {"providers": [gemini(policy={"open_duration": 5, "max_open_duration": 10})]}
    assert FailoverSettings.from_mapping(data).breaker_policy("gemini").max_open_duration == 10


# Bad values by path; any subset of them must be reported, each at its path, and nothing else.
BAD: dict[tuple[str | int, ...], list[object]] = {
    ("health_check_interval",): [0, -1, "10", True, float("nan"), float("inf"), None],
    ("health_check_timeout",): [0, [10]],
    ("max_consecutive_failures",): [0, 1.5, "3"],
    ("max_retries_per_request",): [0, False],
    ("backoff_factor",): [0.99, "1.5"],
    ("request_timeout",): [0, {}],
    ("requests_per_minute",): [0, -3, "many", 2.0],
    ("daily_request_limit",): [0, "Unlimited"],
    ("strategy",): ["fastest", 1, "PRIORITY"],
    ("all_down",): ["retry", None],
    ("bogus",): [1, "x"],
    ("providers", 0, "kind"): ["", None, 7],
    ("providers", 0, "base_url"): ["ftp://x", "example.com", 3],
    ("providers", 0, "api_key_env"): ["gemini_api_key", "1KEY", "A-B", 5],
    ("providers", 0, "weight"): [0, -1, "heavy"],
    ("providers", 0, "extra"): [1],
    ("providers", 0, "policy", "open_jitter"): [1.0, -0.1],
    ("providers", 0, "policy", "minimum_calls"): [0, 2.5],
    ("providers", 0, "policy", "states"): [[]],
    ("providers", 0, "rate_limits", "per_day"): [0, "none"],
    ("providers", 0, "rate_limits", "per_hour"): [10],
    ("providers", 1, "name"): ["", " x", 3],
}


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: object) -> None:
    *parents, last = path
    node: Any = data
    for part in parents:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    node[last] = value


def _render(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@given(st.dictionaries(st.sampled_from(list(BAD)), st.integers(0, 10), min_size=1))
def test_every_bad_key_is_reported_together(choice: dict[tuple[str | int, ...], int]) -> None:
    data: dict[str, Any] = {"providers": [gemini(), {"name": "brave", "kind": "brave"}]}
    for path, pick in choice.items():
        _set(data, path, BAD[path][pick % len(BAD[path])])
    with pytest.raises(SettingsError) as exc:
        FailoverSettings.from_mapping(data)
    assert sorted(p.path for p in exc.value.problems) == sorted(map(_render, choice))


# --- direct construction ---------------------------------------------------------------------


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ConfigurationError, match=r"FailoverSettings\.backoff_factor: got 0\.5"):
        FailoverSettings(backoff_factor=0.5)
    with pytest.raises(ConfigurationError, match=r"ProviderSettings\.policy\.open_duration: got"):
        ProviderSettings("a", "b", policy={"open_duration": -1})
    with pytest.raises(ConfigurationError, match=r"providers\[1\]\.name: got 'a'"):
        FailoverSettings(providers=[ProviderSettings("a", "b"), ProviderSettings("a", "c")])
    with pytest.raises(
        ConfigurationError, match=r"providers\[0\]: got <dict>; expected a ProviderSettings"
    ):
        FailoverSettings(providers=[{"name": "a", "kind": "b"}])  # type: ignore[list-item]


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
    assert FULL.retry_policy() == RetryPolicy(max_attempts=5, backoff_factor=2, request_timeout=90)
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


def _leaky_inputs() -> list[dict[str, Any]]:
    return [
        {"providers": [gemini(api_key_env=SECRET)]},
        {"providers": [gemini(api_key=SECRET)]},
        {"providers": [gemini(options={"api_key": SECRET, "X-Subscription-Token": SECRET})]},
        {"providers": [gemini(base_url=f"https://x.example/v1?key={SECRET}")]},
        {"providers": [gemini(base_url=f"https://user:{SECRET}@x.example/v1")]},
        {"providers": [gemini(options={"headers": 1}, policy={"secret": SECRET})]},
        {"providers": [gemini(options=[("api_key", SECRET)])]},
    ]


@pytest.mark.parametrize("data", _leaky_inputs())
def test_no_error_shows_a_key_given_where_it_does_not_belong(data: dict[str, Any]) -> None:
    with pytest.raises(SettingsError) as exc:
        FailoverSettings.from_mapping(data)
    texts = [str(exc.value), repr(exc.value), "".join(traceback.format_exception(exc.value))]
    assert [SECRET in text for text in texts] == [False, False, False]
    with pytest.raises((ConfigurationError, TypeError)) as direct:  # TypeError: api_key=...
        FailoverSettings(providers=[ProviderSettings(**data["providers"][0])])
    assert SECRET not in "".join(traceback.format_exception(direct.value))


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
