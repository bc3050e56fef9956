"""Settings from the environment under a prefix (FAILOVER_ by default): every name, the strategy
and storage too, and a misspelt name is an error with what was meant (issue 15, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.settings import (
    ENV_NAMES,
    PREFIXED_ENV_NAMES,
    FailoverSettings,
    SettingsError,
)

SECRET = "hunter2-redis-password"


def test_the_default_prefix_reads_every_setting() -> None:
    env = {
        "FAILOVER_REQUEST_TIMEOUT": "15",
        "FAILOVER_MAX_RETRIES_PER_REQUEST": "4",
        "FAILOVER_STRATEGY": "priority",
        "FAILOVER_ALL_DOWN": "wait",
        "FAILOVER_HEDGE_AFTER": "0.25",
        "FAILOVER_STORAGE_URL": "redis://localhost:6390/2",
        "FAILOVER_STORAGE_PREFIX": "svc",
    }
    settings = FailoverSettings.from_env(environ=env)
    assert (settings.request_timeout, settings.max_retries_per_request) == (15, 4)
    assert (settings.strategy, settings.all_down, settings.hedge_after) == (
        "priority",
        "wait",
        0.25,
    )
    assert dict(settings.storage) == {"url": "redis://localhost:6390/2", "prefix": "svc"}


def test_bare_names_are_not_read_under_the_default_prefix() -> None:
    env = {"REQUEST_TIMEOUT": "1", "STRATEGY": "p2c", "MAX_RETRIES_PER_REQUEST": "9"}
    assert FailoverSettings.from_env(environ=env) == FailoverSettings()


def test_the_empty_prefix_reads_the_seeds_eight_names_only() -> None:
    env = dict.fromkeys(ENV_NAMES.values(), "7") | {"STRATEGY": "p2c", "HEDGE_AFTER": "x"}
    env |= {"HEALTH_CHECK_INTERVAL": "60", "HEALTH_CHECK_TIMEOUT": "5", "BACKOFF_FACTOR": "2"}
    settings = FailoverSettings.from_env("", environ=env)
    assert (settings.request_timeout, settings.max_retries_per_request) == (7, 7)
    assert (settings.strategy, settings.hedge_after) == ("success_rate", None)


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("FAILOVER_REQEST_TIMEOUT", "FAILOVER_REQUEST_TIMEOUT"),
        ("FAILOVER_STRATEGIE", "FAILOVER_STRATEGY"),
        ("FAILOVER_STORAGE_ULR", "FAILOVER_STORAGE_URL"),
        ("FAILOVER_CONFG", "FAILOVER_CONFIG"),
    ],
)
def test_a_misspelt_prefixed_name_is_an_error_saying_what_was_meant(name: str, meant: str) -> None:
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_env(environ={name: "5"})
    [problem] = caught.value.problems
    assert (problem.path, problem.given) == (name, None)
    assert problem.expected == f"not a variable failover reads; did you mean {meant}?"


def test_an_unknown_prefixed_name_far_from_all_lists_them() -> None:
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_env(environ={"FAILOVER_ZZZ": "1", "FAILOVER_REQUEST_TIMEOUT": "-1"})
    paths = [p.path for p in caught.value.problems]
    assert paths == ["FAILOVER_ZZZ", "FAILOVER_REQUEST_TIMEOUT"]  # every problem at once
    assert "FAILOVER_HEDGE_AFTER" in caught.value.problems[0].expected


def test_another_prefix_reads_its_own_names(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[failover]\nstrategy = "priority"\nrequest_timeout = 9\n', encoding="utf-8")
    env = {"APP_CONFIG": str(path), "APP_STRATEGY": "p2c", "FAILOVER_NOT_MINE": "1"}
    settings = FailoverSettings.from_env("APP_", env)
    assert (settings.strategy, settings.request_timeout) == ("p2c", 9)  # the variable wins


def test_the_storage_url_variable_replaces_the_files_url_env(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[failover]\nstorage = { url_env = "REDIS_URL", prefix = "a" }\n', "utf-8")
    url = f"redis://:{SECRET}@localhost:6390/0"
    env = {"FAILOVER_CONFIG": str(path), "FAILOVER_STORAGE_URL": url}
    settings = FailoverSettings.from_env(environ=env)
    assert dict(settings.storage) == {"url": url, "prefix": "a"}
    assert SECRET not in repr(settings)


def test_a_bad_storage_url_is_one_problem_that_never_shows_it() -> None:
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_env(environ={"FAILOVER_STORAGE_URL": f"http://:{SECRET}@x"})
    [problem] = caught.value.problems
    assert problem.path == "FAILOVER_STORAGE_URL"
    assert SECRET not in str(caught.value)
    assert "redis://" in problem.expected


@given(
    st.dictionaries(
        st.sampled_from(sorted({*ENV_NAMES.values(), *PREFIXED_ENV_NAMES.values()})).map(
            lambda name: "FAILOVER_" + name
        )
        | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12).map(
            lambda rest: "FAILOVER_" + rest
        ),
        st.text(max_size=8),
        max_size=4,
    )
)
def test_any_prefixed_environment_reads_or_names_each_bad_variable(env: dict[str, str]) -> None:
    known = {"FAILOVER_" + n for n in (*ENV_NAMES.values(), *PREFIXED_ENV_NAMES.values())}
    known.add("FAILOVER_CONFIG")
    try:
        FailoverSettings.from_env(environ={k: v for k, v in env.items() if k != "FAILOVER_CONFIG"})
    except SettingsError as error:
        unknown = {p.path for p in error.problems if p.expected.startswith("not a variable")}
        assert unknown == {name for name in env if name not in known}
    else:
        assert all(name in known for name in env)
