"""Every number in the settings has a floor and a ceiling, checked when the settings are read,
with one problem per field naming the value given and the accepted range; numbers from the
environment are ASCII digits only; NaN and infinities are refused; the health check's timeout
is below its interval. HealthCheckConfig and RetryPolicy built in code are checked the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from failover.health import (
    MAX_HEALTH_CHECK_INTERVAL,
    MAX_HEALTH_CHECK_TIMEOUT,
    MIN_HEALTH_CHECK_INTERVAL,
    HealthCheckConfig,
)
from failover.retry import MAX_ATTEMPTS, MAX_BACKOFF, MAX_BACKOFF_FACTOR, MAX_TIMEOUT, RetryPolicy
from failover.settings import (
    MAX_CONSECUTIVE_FAILURES,
    MAX_PRIORITY,
    MAX_RATE_LIMIT,
    MAX_WEIGHT,
    FailoverSettings,
    ProviderSettings,
    SettingsError,
)
from statemachines import ConfigurationError

NAN, INF = float("nan"), float("inf")
INTERVAL = "a finite number of seconds >= 1 and <= 86400"
HEALTH_TIMEOUT = "a finite number of seconds > 0 and <= 120"
TIMEOUT = "a finite number of seconds > 0 and <= 21600"
LIMIT = "an int >= 1 and <= 1000000000, or 'unlimited'"


def only_problem(data: dict[str, Any]) -> tuple[str, str | None, str]:
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_mapping(data)
    [problem] = caught.value.problems
    return problem.path, problem.given, problem.expected


def provider(**changes: Any) -> dict[str, Any]:
    return {"name": "p", "kind": "callable", **changes}


def test_the_bounds_are_the_documented_ones() -> None:
    assert (MIN_HEALTH_CHECK_INTERVAL, MAX_HEALTH_CHECK_INTERVAL) == (1.0, 86_400.0)
    assert (MAX_HEALTH_CHECK_TIMEOUT, MAX_TIMEOUT, MAX_BACKOFF) == (120.0, 21_600.0, 3_600.0)
    assert (MAX_ATTEMPTS, MAX_BACKOFF_FACTOR, MAX_CONSECUTIVE_FAILURES) == (100, 10.0, 1_000)
    assert (MAX_RATE_LIMIT, MAX_PRIORITY, MAX_WEIGHT) == (10**9, 10.0**6, 10.0**6)


# --- one problem per field, naming the value and the range -------------------------------------

OUT_OF_RANGE = [
    # (key, value, the other keys it needs, expected)
    ("health_check_interval", 0.999, {"health_check_timeout": 0.5}, INTERVAL),
    ("health_check_interval", 86_400.5, {}, INTERVAL),
    ("health_check_interval", 1e-9, {}, INTERVAL),
    ("health_check_interval", NAN, {}, INTERVAL),
    ("health_check_timeout", 0, {}, HEALTH_TIMEOUT),
    ("health_check_timeout", 120.5, {}, HEALTH_TIMEOUT),
    ("health_check_timeout", -INF, {}, HEALTH_TIMEOUT),
    ("max_consecutive_failures", 1001, {}, "an int >= 1 and <= 1000"),
    ("max_retries_per_request", 100, {}, "an int >= 0 and <= 99"),
    ("max_retries_per_request", 10**100, {}, "an int >= 0 and <= 99"),
    ("backoff_factor", 10.01, {}, "a finite number >= 1 and <= 10"),
    ("backoff_factor", INF, {}, "a finite number >= 1 and <= 10"),
    ("request_timeout", 21_600.5, {}, TIMEOUT),
    ("request_timeout", NAN, {}, TIMEOUT),
    ("request_timeout", 10**400, {}, TIMEOUT),
    ("requests_per_minute", 10**9 + 1, {}, LIMIT),
    ("daily_request_limit", 10**100, {}, LIMIT),
]


@pytest.mark.parametrize(("key", "value", "others", "expected"), OUT_OF_RANGE)
def test_a_number_out_of_range_is_one_problem_naming_the_range(
    key: str, value: object, others: dict[str, object], expected: str
) -> None:
    path, given, found = only_problem({key: value, **others})
    assert (path, found) == (key, expected)
    huge = isinstance(value, int) and value >= 10**60
    assert given == (f"<an int of about {len(str(value))} digits>" if huge else repr(value))


IN_RANGE = [
    {"health_check_interval": 1, "health_check_timeout": 0.5},
    {"health_check_interval": 86_400, "health_check_timeout": 120},
    {"max_consecutive_failures": 1_000, "max_retries_per_request": 99},
    {"backoff_factor": 10, "request_timeout": 21_600},
    {"requests_per_minute": 10**9, "daily_request_limit": 1},
    {"providers": [provider(priority=-(10**6), weight=10**6)]},
    {"providers": [provider(priority=10**6, weight=1e-9)]},
    {"providers": [provider(options={"timeout": 21_600, "max_response_bytes": 1024**3})]},
    {"providers": [provider(rate_limits={"tokens_per_minute": 10**9})]},
]


@pytest.mark.parametrize("data", IN_RANGE)
def test_the_bounds_themselves_are_accepted(data: dict[str, Any]) -> None:
    settings = FailoverSettings.from_mapping(data)
    assert FailoverSettings.from_mapping(settings.to_mapping()) == settings


PROVIDER_OUT_OF_RANGE = [
    ({"priority": 10**6 + 1}, "priority", "a finite number >= -1e+06 and <= 1e+06"),
    ({"priority": -INF}, "priority", "a finite number >= -1e+06 and <= 1e+06"),
    ({"weight": 10**6 + 1}, "weight", "a finite number > 0 and <= 1e+06"),
    ({"weight": NAN}, "weight", "a finite number > 0 and <= 1e+06"),
    ({"options": {"timeout": NAN}}, "options.timeout", TIMEOUT),
    ({"options": {"timeout": 0}}, "options.timeout", TIMEOUT),
    ({"options": {"timeout": 21_601}}, "options.timeout", TIMEOUT),
    ({"options": {"timeout": "30"}}, "options.timeout", TIMEOUT),
    (
        {"options": {"max_response_bytes": 1023}},
        "options.max_response_bytes",
        "an int >= 1024 and <= 1073741824 (bytes)",
    ),
    ({"rate_limits": {"per_day": 10**9 + 1}}, "rate_limits.per_day", LIMIT),
    ({"rate_limits": {"tokens_per_minute": -1}}, "rate_limits.tokens_per_minute", LIMIT),
]


@pytest.mark.parametrize(("changes", "path", "expected"), PROVIDER_OUT_OF_RANGE)
def test_a_providers_number_out_of_range_is_one_problem(
    changes: dict[str, Any], path: str, expected: str
) -> None:
    assert only_problem({"providers": [provider(**changes)]})[::2] == (
        f"providers[0].{path}",
        expected,
    )


def test_both_option_numbers_are_reported_together() -> None:
    data = {"providers": [provider(options={"timeout": INF, "max_response_bytes": 0.5})]}
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_mapping(data)
    assert [(p.path, p.given) for p in caught.value.problems] == [
        ("providers[0].options.timeout", "inf"),
        ("providers[0].options.max_response_bytes", "0.5"),
    ]


def test_a_window_too_large_to_allocate_is_refused_when_read() -> None:
    data = {"providers": [provider(policy={"window": {"size": 10**12}})]}
    path, given, expected = only_problem(data)
    assert (path, given) == ("providers[0].policy.window.size", "1000000000000")
    assert expected.startswith("an int from 1 to 10000")


@pytest.mark.parametrize("key", ["open_duration", "minimum_calls", "open_backoff"])
def test_a_policy_number_too_large_for_a_float_is_a_problem(key: str) -> None:
    path, given, expected = only_problem({"providers": [provider(policy={key: 10**400})]})
    assert (path, given) == (f"providers[0].policy.{key}", "<an int of about 401 digits>")
    assert expected.startswith(("a finite number", "an int"))


def test_a_value_too_large_to_print_is_shown_shortened() -> None:
    path, given, _ = only_problem({"request_timeout": 10**5000})
    assert (path, given) == ("request_timeout", "<an int of about 5001 digits>")


def test_a_deeply_nested_value_is_a_problem_shown_shortened() -> None:
    nested: list[object] = []
    for _ in range(5_000):
        nested = [nested]
    path, given, expected = only_problem({"backoff_factor": nested})
    assert (path, given, expected) == (
        "backoff_factor",
        "[[[[...]]]]",
        "a finite number >= 1 and <= 10",
    )


# --- the health check's timeout below its interval ---------------------------------------------


def test_a_health_timeout_not_below_the_interval_is_a_problem() -> None:
    data = {"health_check_interval": 5, "health_check_timeout": 5}
    assert only_problem(data) == (
        "health_check_timeout",
        "5.0",
        "a number of seconds below health_check_interval (5)",
    )


def test_an_interval_below_the_default_timeout_blames_the_timeout_by_its_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_env("", environ={"HEALTH_CHECK_INTERVAL": "5"})
    [problem] = caught.value.problems
    assert str(problem) == (
        "health_check_timeout: got 10.0; expected a number of seconds below "
        "health_check_interval (5)"
    )
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_env(
            "", environ={"HEALTH_CHECK_INTERVAL": "5", "HEALTH_CHECK_TIMEOUT": "7"}
        )
    assert [p.path for p in caught.value.problems] == ["HEALTH_CHECK_TIMEOUT"]


def test_direct_construction_checks_the_timeout_against_the_interval() -> None:
    with pytest.raises(ConfigurationError) as caught:
        FailoverSettings(health_check_interval=5, health_check_timeout=6)
    assert str(caught.value) == (
        "FailoverSettings.health_check_timeout: got 6; expected a number of seconds below "
        "health_check_interval (5)"
    )


def test_the_global_threshold_at_its_ceiling_reaches_a_providers_policy() -> None:
    data = {
        "max_consecutive_failures": 1_000,
        "providers": [provider(policy={"window": {"size": 10}, "minimum_calls": 5})],
    }
    settings = FailoverSettings.from_mapping(data)
    assert settings.breaker_policy("p").max_consecutive_failures == 1_000


# --- numbers from the environment --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("١٢", "'١٢'"),  # Arabic-Indic digits: int() reads 12
        ("１２", "'１２'"),  # fullwidth digits  # noqa: RUF001
        ("1_000", "'1_000'"),
        ("nan", "'nan'"),
        ("inf", "'inf'"),
        ("-Infinity", "'-Infinity'"),
        ("0x10", "'0x10'"),
        ("1e400", "inf"),
        ("9" * 5_000, "'" + "9" * 37 + "..." + "9" * 38 + "'"),
    ],
)
def test_only_ascii_digits_make_a_number_in_the_environment(text: str, shown: str) -> None:
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_env("", environ={"MAX_RETRIES_PER_REQUEST": text})
    [problem] = caught.value.problems
    assert (problem.path, problem.given, problem.expected) == (
        "MAX_RETRIES_PER_REQUEST",
        shown,
        "an int >= 0 and <= 99",
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [(" 5 ", 5), ("+7", 7), ("2.", 2.0), (".5", 0.5), ("1e1", 10.0), ("2.5E+1", 25.0)],
)
def test_ascii_numbers_in_the_environment_are_read(text: str, value: float) -> None:
    settings = FailoverSettings.from_env("", environ={"REQUEST_TIMEOUT": text})
    assert settings.request_timeout == value


def test_a_tiny_health_interval_from_the_environment_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_env("", environ={"HEALTH_CHECK_INTERVAL": "1e-9"})
    assert [(p.path, p.given, p.expected) for p in caught.value.problems] == [
        ("HEALTH_CHECK_INTERVAL", "1e-09", INTERVAL)
    ]


def test_an_unreadable_settings_file_path_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read failover settings from") as caught:
        FailoverSettings.from_env("", environ={"FAILOVER_CONFIG": "bad\x00path.toml"})
    assert not isinstance(caught.value, SettingsError)


def test_a_deeply_nested_settings_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("[failover]\nbackoff_factor = " + "[" * 5_000 + "]" * 5_000 + "\n")
    with pytest.raises(ConfigurationError, match=r"deep\.toml' is nested too deeply"):
        FailoverSettings.from_toml(path)


# --- the runtime records built in code ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"interval": 0.5, "timeout": 0.1}, "interval must be a finite number of seconds >= 1"),
        ({"interval": 86_401}, "interval must be a finite number of seconds >= 1 and <= 86400"),
        ({"interval": NAN}, "got nan"),
        ({"interval": 10**400}, "interval must be"),
        ({"timeout": 0}, "timeout must be a finite number of seconds > 0 and <= 120, got 0"),
        ({"timeout": 121}, "timeout must be a finite number of seconds > 0 and <= 120"),
        ({"interval": 10, "timeout": 10}, "timeout must be below the interval (10 seconds)"),
        ({"jitter": NAN}, "jitter must be a fraction in [0, 1]"),
    ],
)
def test_a_health_config_out_of_range_is_refused_in_code(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        HealthCheckConfig(**fields)
    assert message in str(caught.value)
    assert str(caught.value).startswith("HealthCheckConfig.")


def test_the_health_config_bounds_are_accepted_in_code() -> None:
    assert HealthCheckConfig(interval=1, timeout=0.999).interval == 1
    assert HealthCheckConfig(interval=86_400, timeout=120).timeout == 120


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_attempts": 101}, "max_attempts must be an int >= 1 and <= 100, got 101"),
        ({"max_attempts": 10**100}, "max_attempts must be an int >= 1 and <= 100"),
        ({"backoff_factor": 10.5}, "backoff_factor must be a finite number >= 1 and <= 10"),
        ({"initial_backoff": 3_601}, "initial_backoff must be a finite number > 0 and <= 3600"),
        ({"max_backoff": INF}, "max_backoff must be a finite number > 0 and <= 3600"),
        ({"request_timeout": 21_601}, "request_timeout must be a finite number > 0 and <= 21600"),
        ({"attempt_timeout": NAN}, "attempt_timeout must be a finite number > 0 and <= 21600"),
        ({"attempt_timeout": 10**400}, "attempt_timeout must be a finite number > 0"),
    ],
)
def test_a_retry_policy_out_of_range_is_refused_in_code(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy(**fields)
    assert str(caught.value).startswith(f"RetryPolicy.{message}")


def test_the_retry_policy_bounds_are_accepted_in_code() -> None:
    policy = RetryPolicy(
        max_attempts=100,
        backoff_factor=10,
        initial_backoff=3_600,
        max_backoff=3_600,
        request_timeout=21_600,
        attempt_timeout=None,
    )
    assert (policy.max_attempts, policy.request_timeout) == (100, 21_600)


def test_provider_settings_built_in_code_check_their_options() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ProviderSettings("p", "openai", options={"timeout": NAN})
    assert str(caught.value) == f"ProviderSettings.options.timeout: got nan; expected {TIMEOUT}"
