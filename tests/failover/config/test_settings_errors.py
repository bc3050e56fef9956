"""Bad settings: every bad key reported at once with its path, the value given and what would
be accepted, from each way in; files that cannot be read; and no error that shows a key."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.settings import FailoverSettings, ProviderSettings, SettingsError
from statemachines import ConfigurationError
from tests.failover.config.settings_support import FIXTURES, SECRET, gemini


def problems(exc: pytest.ExceptionInfo[SettingsError]) -> dict[str, tuple[str | None, str]]:
    return {p.path: (p.given, p.expected) for p in exc.value.problems}


# --- the environment -------------------------------------------------------------------------


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
        "APP_HEALTH_CHECK_INTERVAL": ("'soon'", "a finite number of seconds >= 1 and <= 86400"),
        "APP_MAX_RETRIES_PER_REQUEST": ("2.5", "an int >= 0 and <= 99"),
        "APP_BACKOFF_FACTOR": ("0.5", "a finite number >= 1 and <= 10"),
        "APP_REQUEST_TIMEOUT": ("''", "a finite number of seconds > 0 and <= 21600"),
        "APP_DAILY_REQUEST_LIMIT": ("0", "an int >= 1 and <= 1000000000, or 'unlimited'"),
    }


def test_from_env_reports_the_file_and_the_variables_together() -> None:
    env = {"FAILOVER_CONFIG": str(FIXTURES / "invalid.toml"), "REQUEST_TIMEOUT": "-1"}
    with pytest.raises(SettingsError, match=r"invalid\.toml") as exc:
        FailoverSettings.from_env("", environ=env)
    assert {"REQUEST_TIMEOUT", "providers[0].rate_limits.per_minute"} <= set(problems(exc))


def test_from_env_names_the_variable_of_an_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigurationError, match=r"nowhere\.toml.*\(named by APP_CONFIG\)"):
        FailoverSettings.from_env("APP_", {"APP_CONFIG": str(missing)})


# --- TOML and mappings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_failover_table.toml", r"outside its \[failover\] table.*'max_retries_per_request'"),
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
    interval = "a finite number of seconds >= 1 and <= 86400"
    assert found["health_check_interval"] == ("-5", interval)
    assert found["backoff_factor"] == ("'fast'", "a finite number >= 1 and <= 10")
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
        ({"max_retries_per_request": True}, "max_retries_per_request", "an int >= 0"),
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


BAD: dict[tuple[str | int, ...], list[object]] = {
    ("health_check_interval",): [0, -1, "10", True, float("nan"), float("inf"), None],
    ("health_check_timeout",): [0, [10]],
    ("max_consecutive_failures",): [0, 1.5, "3"],
    ("max_retries_per_request",): [-1, False],
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
    ("providers", 0, "policy", "states"): ["not a list"],
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


# --- API keys --------------------------------------------------------------------------------


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
