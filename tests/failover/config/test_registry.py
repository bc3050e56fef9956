"""The provider registry: kinds and factories, API keys from the environment (never shown), and
every reason a provider cannot be built reported before any is built."""

from __future__ import annotations

import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import failover.registry
from failover.provider import Provider
from failover.registry import (
    BUILTIN_KINDS,
    ProviderRegistry,
    build_provider,
    build_providers,
    known_kinds,
    register_provider,
)
from failover.settings import FailoverSettings, ProviderSettings, SettingsError
from failover.testing import ScriptedProvider
from statemachines import ConfigurationError

ROOT = Path(__file__).resolve().parents[3]
SECRET = "sk-TEST-0b5e-never-print-me"
ENV = {"GEMINI_API_KEY": SECRET}

Built = tuple[ProviderSettings, str | None]


class Factory:
    """A dummy factory: a ScriptedProvider per call, each call remembered."""

    def __init__(self) -> None:
        self.calls: list[Built] = []

    def __call__(self, settings: ProviderSettings, *, api_key: str | None) -> Provider:
        self.calls.append((settings, api_key))
        return ScriptedProvider(settings.name, lambda request: "ok")


@pytest.fixture
def factory() -> Factory:
    return Factory()


@pytest.fixture
def registry(factory: Factory) -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.register("gemini", factory, requires_api_key=True)
    registry.register("callable", factory)
    return registry


def gemini(name: str = "g", **changes: Any) -> ProviderSettings:
    return ProviderSettings(name, "gemini", api_key_env="GEMINI_API_KEY", **changes)


def test_build_gives_the_factory_the_settings_and_the_key(
    registry: ProviderRegistry, factory: Factory
) -> None:
    settings = gemini(model="gemini-2.0-flash")
    provider = registry.build(settings, {"GEMINI_API_KEY": f"{SECRET}\n", "OTHER": "x"})
    assert isinstance(provider, ScriptedProvider)
    assert provider.name == "g"
    assert factory.calls == [(settings, SECRET)]


def test_a_kind_that_needs_no_key_is_built_with_none(
    registry: ProviderRegistry, factory: Factory
) -> None:
    registry.build(ProviderSettings("c", "callable"), ENV)
    assert factory.calls == [(ProviderSettings("c", "callable"), None)]


def test_build_reads_os_environ_by_default(
    registry: ProviderRegistry, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    registry.build(gemini())
    assert factory.calls[0][1] == SECRET


def test_known_kinds_are_the_registered_ones_sorted(registry: ProviderRegistry) -> None:
    assert registry.known_kinds() == ("callable", "gemini")
    registry.unregister("gemini")
    registry.unregister("never-registered")
    assert registry.known_kinds() == ("callable",)


def test_an_unknown_kind_names_the_known_kinds_and_the_providers_package(
    registry: ProviderRegistry,
) -> None:
    with pytest.raises(SettingsError, match=r"kind: got 'brave'") as exc:
        registry.build(ProviderSettings("b", "brave"), ENV)
    message = str(exc.value)
    assert "registered: 'callable', 'gemini'" in message
    assert "`providers` package registers" in message
    assert all(repr(kind) in message for kind in BUILTIN_KINDS)
    with pytest.raises(SettingsError, match="registered: none yet"):
        ProviderRegistry().build(ProviderSettings("b", "brave"), ENV)


def test_settings_may_name_a_kind_before_it_is_registered(factory: Factory) -> None:
    registry = ProviderRegistry()
    settings = FailoverSettings.from_mapping({"providers": [{"name": "m", "kind": "mine"}]})
    with pytest.raises(SettingsError):
        registry.build_all(settings, {})
    registry.register("mine", factory)
    assert [p.name for p in registry.build_all(settings, {})] == ["m"]


def test_a_kind_is_registered_once_unless_replaced(registry: ProviderRegistry) -> None:
    other = Factory()
    with pytest.raises(ConfigurationError, match=r"'gemini' is already registered.*replace=True"):
        registry.register("gemini", other)
    registry.register("gemini", other, replace=True)
    registry.build(gemini(), ENV)
    assert len(other.calls) == 1


@pytest.mark.parametrize(
    ("kind", "factory", "message"),
    [
        ("", Factory(), "a non-empty string"),
        (" gemini", Factory(), "a non-empty string"),
        (3, Factory(), "got 3"),
        ("x", "not callable", "must be callable as factory"),
    ],
)
def test_register_refuses_a_bad_kind_or_factory(
    kind: object, factory: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ProviderRegistry().register(kind, factory)  # type: ignore[arg-type]


# --- API keys --------------------------------------------------------------------------------


@pytest.mark.parametrize("env", [{}, {"GEMINI_API_KEY": ""}, {"GEMINI_API_KEY": " \n"}])
def test_a_missing_key_names_the_variable_to_set(
    registry: ProviderRegistry, factory: Factory, env: dict[str, str]
) -> None:
    with pytest.raises(SettingsError, match="GEMINI_API_KEY is not set") as exc:
        registry.build(gemini(), env)
    assert [p.path for p in exc.value.problems] == ["api_key_env"]
    assert factory.calls == []


def test_a_named_variable_must_be_set_even_for_a_kind_that_needs_no_key(
    registry: ProviderRegistry,
) -> None:
    with pytest.raises(SettingsError, match="LOCAL_KEY is not set"):
        registry.build(ProviderSettings("c", "callable", api_key_env="LOCAL_KEY"), ENV)


def test_a_kind_that_needs_a_key_needs_api_key_env(registry: ProviderRegistry) -> None:
    settings = ProviderSettings("g", "gemini")
    with pytest.raises(SettingsError, match=r"api_key_env: missing.*such as 'GEMINI_API_KEY'"):
        registry.build(settings, ENV)


def _failing(message: str) -> Factory:
    class Failing(Factory):
        def __call__(self, settings: ProviderSettings, *, api_key: str | None) -> Provider:
            raise ValueError(message.format(key=api_key))

    return Failing()


def test_a_factory_error_is_reported_with_the_key_masked(registry: ProviderRegistry) -> None:
    registry.register("gemini", _failing("bad header value 'Bearer {key}'"), replace=True)
    with pytest.raises(ConfigurationError, match=r"failed: ValueError: .*Bearer \*\*\*") as exc:
        registry.build(gemini(), ENV)
    assert exc.value.__cause__ is None
    assert SECRET not in "".join(traceback.format_exception(exc.value))


def test_a_factory_error_without_the_key_keeps_its_cause(registry: ProviderRegistry) -> None:
    registry.register("gemini", _failing("no such model"), replace=True)
    with pytest.raises(ConfigurationError, match=r"provider 'g' \(kind 'gemini'\) failed") as exc:
        registry.build(gemini(), ENV)
    assert isinstance(exc.value.__cause__, ValueError)


def test_no_registry_error_shows_the_key(registry: ProviderRegistry) -> None:
    settings = FailoverSettings(providers=[gemini("a"), ProviderSettings("b", "brave")])
    texts = []
    for attempt in (
        lambda: registry.build_all(settings, ENV),
        lambda: registry.build(gemini(), {"OTHER": SECRET}),
        lambda: registry.register("gemini", Factory()),
    ):
        with pytest.raises(ConfigurationError) as exc:
            attempt()
        texts.append("".join(traceback.format_exception(exc.value)))
    assert not [text for text in texts if SECRET in text]


# --- what a factory returns ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (object(), "which is not a Provider"),
        (ScriptedProvider("other", lambda request: "ok"), "named 'other'; it must be named 'g'"),
    ],
)
def test_a_factory_must_return_a_provider_named_as_its_settings(
    registry: ProviderRegistry, returned: object, message: str
) -> None:
    def wrong(settings: ProviderSettings, *, api_key: str | None) -> Any:
        return returned

    registry.register("gemini", wrong, replace=True)
    with pytest.raises(ConfigurationError, match=message):
        registry.build(gemini(), ENV)


# --- every provider of the settings ----------------------------------------------------------


def test_build_all_reports_every_problem_before_building_any(
    registry: ProviderRegistry, factory: Factory
) -> None:
    settings = FailoverSettings(
        providers=[
            ProviderSettings("ok", "callable"),
            ProviderSettings("b", "brave"),
            gemini("g1"),
            ProviderSettings("g2", "gemini"),
        ]
    )
    with pytest.raises(SettingsError, match=r"\(building the providers\): 3 problems") as exc:
        registry.build_all(settings, {})
    assert [p.path for p in exc.value.problems] == [
        "providers[1].kind",
        "providers[2].api_key_env",
        "providers[3].api_key_env",
    ]
    assert factory.calls == []


def test_build_all_builds_in_order(registry: ProviderRegistry) -> None:
    settings = FailoverSettings(providers=[gemini("g1"), ProviderSettings("c", "callable")])
    assert [p.name for p in registry.build_all(settings, ENV)] == ["g1", "c"]


# --- the default registry --------------------------------------------------------------------


@pytest.fixture
def test_kind(factory: Factory) -> Iterator[str]:
    kind = "test-registry-kind"
    register_provider(kind, factory, requires_api_key=True)
    yield kind
    failover.registry.default_registry.unregister(kind)


def test_the_module_functions_use_the_default_registry(test_kind: str, factory: Factory) -> None:
    assert test_kind in known_kinds()
    settings = ProviderSettings("t", test_kind, api_key_env="TEST_REGISTRY_KEY")
    env = {"TEST_REGISTRY_KEY": SECRET}
    assert build_provider(settings, env).name == "t"
    assert [p.name for p in build_providers(FailoverSettings(providers=[settings]), env)] == ["t"]
    assert [key for _, key in factory.calls] == [SECRET, SECRET]
    with pytest.raises(ConfigurationError, match="already registered"):
        register_provider(test_kind, factory)


def test_failover_itself_registers_no_kind() -> None:
    code = "import failover, failover.registry as r; print(r.known_kinds())"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert run.stdout.strip() == "()"
