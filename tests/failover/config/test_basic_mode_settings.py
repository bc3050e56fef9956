"""Fallback providers declared in settings (``fallback = true``) and built by managed_failover."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failover import ConfigurationError, FleetState, ManualClock, Unavailable
from failover.lifecycle import managed_failover
from failover.provider import Provider
from failover.registry import default_registry, register_provider
from failover.settings import FailoverSettings, ProviderSettings, SettingsError
from failover.testing import ScriptedProvider, ScriptedRequest

KIND = "basic-mode-test"

TOML = f"""
[failover]
max_consecutive_failures = 1

[[failover.providers]]
name = "primary"
kind = "{KIND}"
weight = 3

[[failover.providers]]
name = "canned"
kind = "{KIND}"
fallback = true
priority = 2
weight = 5
policy = {{ open_duration = 5 }}
"""


@pytest.fixture
def kind() -> Iterator[None]:
    """Registers KIND: "primary" always fails, anything else answers with its name."""

    def handler(request: ScriptedRequest) -> object:
        if request.kind == "health_check":
            return True
        if request.provider == "primary":
            raise Unavailable("503", provider="primary")
        return request.provider

    def build(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        return ScriptedProvider(settings.name, handler)

    register_provider(KIND, build)
    yield
    default_registry.unregister(KIND)


def settings_from(tmp_path: Path, text: str = TOML) -> FailoverSettings:
    path = tmp_path / "failover.toml"
    path.write_text(text, encoding="utf-8")
    return FailoverSettings.from_toml(path)


def test_a_provider_table_declares_a_fallback(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)
    assert [(p.name, p.fallback) for p in settings.providers] == [
        ("primary", False),
        ("canned", True),
    ]
    assert FailoverSettings.from_mapping(settings.to_mapping()) == settings
    environ = {"FAILOVER_CONFIG": str(tmp_path / "failover.toml")}
    assert FailoverSettings.from_env("", environ=environ).providers == settings.providers


@pytest.mark.asyncio
@pytest.mark.usefixtures("kind")
async def test_managed_failover_builds_the_fallbacks(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)
    async with managed_failover(settings, clock=ManualClock()) as coordinator:
        assert [p.name for p in coordinator.providers] == ["primary"]
        assert [p.name for p in coordinator.fallbacks] == ["canned"]
        assert coordinator.breaker("canned").policy.open_duration == 5
        result = await coordinator.generate("hi")
        assert (result.provider, [a.provider for a in result.attempts]) == (
            "canned",
            ["primary", "canned"],
        )
        status = coordinator.status()
        assert status.fleet is FleetState.BASIC
        assert status.provider("canned").priority == 2


@pytest.mark.parametrize(
    ("fallback", "problem"),
    [
        (True, ("providers", None, "at least one provider without fallback = true")),
        ("yes", ("providers[0].fallback", "'yes'", "true or false")),
    ],
)
def test_bad_fallback_settings_are_problems(
    fallback: object, problem: tuple[str, str | None, str]
) -> None:
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_mapping(
            {"providers": [{"name": "a", "kind": "k", "fallback": fallback}]}
        )
    ((path, given, expected),) = [(p.path, p.given, p.expected) for p in caught.value.problems]
    assert (path, given) == problem[:2]
    assert expected.startswith(problem[2])


def test_settings_built_directly_need_a_provider_that_is_no_fallback() -> None:
    only = ProviderSettings("a", "k", fallback=True)
    with pytest.raises(ConfigurationError, match="at least one provider without fallback = true"):
        FailoverSettings(providers=(only,))
    assert FailoverSettings(providers=(ProviderSettings("b", "k"), only)).providers[1].fallback
