"""``import providers`` registers the built-in kinds; their factories build from settings."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

import httpx
import pytest

import providers
from failover import ConfigurationError, Coordinator, ManualClock
from failover.registry import (
    BUILTIN_KINDS,
    ProviderRegistry,
    build_providers,
    default_registry,
    known_kinds,
)
from failover.settings import (
    RESPONSE_BYTES_RANGE,
    FailoverSettings,
    ProviderSettings,
    SettingsError,
)
from providers import (
    BraveSearchProvider,
    CallableProvider,
    GeminiProvider,
    OpenAICompatibleProvider,
    register_builtin_kinds,
)
from providers._reading import DEFAULT_MAX_RESPONSE_BYTES, check_max_response_bytes
from providers._registration import BUILTIN_FACTORIES, resolve_callable
from providers.testing._server import FakeServer, Reply
from providers.testing.openai import FakeOpenAI, completion

ENV = {"GEMINI_API_KEY": "g-key", "BRAVE_API_KEY": "b-key", "OPENAI_API_KEY": "o-key"}


def shout(prompt: object, **options: object) -> str:
    return str(prompt).upper()


class Tools:
    @staticmethod
    def find(query: str) -> list[object]:
        return []


NOT_CALLABLE = 42


def build(registry: ProviderRegistry, **fields: Any) -> Any:
    fields.setdefault("name", "p")
    return registry.build(ProviderSettings(**fields), ENV)


@pytest.fixture
def registry() -> ProviderRegistry:
    fresh = ProviderRegistry()
    register_builtin_kinds(fresh)
    return fresh


# --- registering ---------------------------------------------------------------------------------


def test_importing_providers_registers_every_builtin_kind() -> None:
    assert set(BUILTIN_KINDS) <= set(known_kinds())
    assert set(BUILTIN_FACTORIES) == set(BUILTIN_KINDS)


def test_importing_twice_does_not_fail_and_keeps_the_factories() -> None:
    before = {kind: default_registry._kinds[kind] for kind in BUILTIN_KINDS}
    importlib.reload(providers)
    assert {kind: default_registry._kinds[kind] for kind in BUILTIN_KINDS} == before
    assert register_builtin_kinds() == ()


def test_an_application_registration_is_left_alone() -> None:
    fresh = ProviderRegistry()

    def mine(settings: ProviderSettings, *, api_key: str | None) -> Any:
        return CallableProvider(shout, settings.name)

    fresh.register("openai", mine)
    assert register_builtin_kinds(fresh) == (
        "brave",
        "callable",
        "gemini",
        "gemini-genai",
        "gemini-sdk",
    )
    assert fresh._kinds["openai"].factory is mine


@pytest.mark.parametrize(
    ("kind", "needs_key"),
    [
        ("gemini", True),
        ("gemini-sdk", True),
        ("gemini-genai", False),
        ("brave", True),
        ("openai", False),
        ("callable", False),
    ],
)
def test_which_kinds_need_an_api_key(
    registry: ProviderRegistry, kind: str, needs_key: bool
) -> None:
    settings = ProviderSettings(name="p", kind=kind, model="m", options={"callable": "x:y"})
    problems = registry.problems(settings, {})
    assert [p.path for p in problems] == (["api_key_env"] if needs_key else [])


# --- the factories -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_openai_from_settings(registry: ProviderRegistry) -> None:
    p = build(
        registry,
        kind="openai",
        model="llama3",
        base_url="http://localhost:11434",
        api_key_env="OPENAI_API_KEY",
        options={"timeout": 5},
    )
    assert isinstance(p, OpenAICompatibleProvider)
    assert (p.name, p.model, p.base_url) == ("p", "llama3", "http://localhost:11434/v1")
    assert p.headers["authorization"] == "Bearer o-key"
    assert p.client.timeout == httpx.Timeout(5)
    await p.aclose()
    keyless = build(registry, kind="openai", model="m")
    assert keyless.base_url == "https://api.openai.com/v1"
    assert "authorization" not in keyless.headers
    await keyless.aclose()


def test_openai_needs_a_model(registry: ProviderRegistry) -> None:
    with pytest.raises(ConfigurationError, match="needs a model"):
        build(registry, kind="openai")


@pytest.mark.asyncio
async def test_gemini_from_settings(registry: ProviderRegistry) -> None:
    p = build(
        registry,
        name="gem",
        kind="gemini",
        model="gemini-2.0-flash",
        base_url="http://127.0.0.1:9",
        api_key_env="GEMINI_API_KEY",
        options={"timeout": 7, "api_version": "v1"},
    )
    assert isinstance(p, GeminiProvider)
    assert p.name == "gem"
    assert "gemini-2.0-flash" in repr(p)
    assert "g-key" not in repr(p)
    await p.aclose()


@pytest.mark.asyncio
async def test_brave_from_settings(registry: ProviderRegistry) -> None:
    p = build(
        registry,
        name="web",
        kind="brave",
        base_url="http://127.0.0.1:9",
        api_key_env="BRAVE_API_KEY",
        options={"timeout": 3},
    )
    assert isinstance(p, BraveSearchProvider)
    assert p.name == "web"
    await p.aclose()


def test_gemini_sdk_is_imported_only_when_built(
    registry: ProviderRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[tuple[tuple[object, ...], dict[str, object]]] = []

    class FakeSDKProvider:
        def __init__(self, *args: object, **kwargs: Any) -> None:
            built.append((args, kwargs))
            self.name = kwargs["name"]

        async def health_check(self) -> None: ...

        async def aclose(self) -> None: ...

    module = types.ModuleType("providers.gemini_sdk")
    module.GeminiSDKProvider = FakeSDKProvider  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "providers.gemini_sdk", module)
    p = build(
        registry,
        name="sdk",
        kind="gemini-sdk",
        model="gemini-1.5-pro",
        api_key_env="GEMINI_API_KEY",
        options={"timeout": 9},
    )
    assert isinstance(p, FakeSDKProvider)
    assert built == [
        ((), {"api_key": "g-key", "name": "sdk", "model": "gemini-1.5-pro", "timeout": 9})
    ]
    build(
        registry,
        name="sdk",
        kind="gemini-sdk",
        api_key_env="GEMINI_API_KEY",
        options={"max_response_bytes": 4096},
    )
    assert built[1] == ((), {"api_key": "g-key", "name": "sdk", "max_response_bytes": 4096})


def test_gemini_sdk_kind_builds_the_real_provider_with_its_model_and_a_hidden_key() -> None:
    registry = ProviderRegistry()
    register_builtin_kinds(registry)
    settings = ProviderSettings(
        name="sdk", kind="gemini-sdk", model="gemini-1.5-pro", api_key_env="GEMINI_API_KEY"
    )
    with pytest.warns(DeprecationWarning, match="gemini-genai"):
        provider = registry.build(settings, {"GEMINI_API_KEY": "g-key-SECRET-123"})
    assert provider.name == "sdk"
    assert provider.model_name == "gemini-1.5-pro"  # type: ignore[attr-defined]
    assert "g-key-SECRET-123" not in repr(provider)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"kind": "openai", "model": "m", "options": {"temprature": 1}},
            "unknown option(s) ['temprature']; kind 'openai' reads ['max_response_bytes', "
            "'timeout']",
        ),
        (
            {"kind": "openai", "model": "m", "options": {"timeout": 0}},
            "options.timeout: got 0; expected a finite number of seconds > 0 and <= 21600",
        ),
        ({"kind": "openai", "model": "m", "options": {"timeout": True}}, "got True"),
        (
            {"kind": "callable", "options": {"callable": "os:getcwd", "max_response_bytes": 2048}},
            "unknown option(s) ['max_response_bytes']; kind 'callable' reads",
        ),
        ({"kind": "callable"}, "needs options.callable"),
        (
            {"kind": "callable", "options": {"callable": "os:getcwd", "serves": "chat"}},
            "options.serves must be 'llm' or 'search', got 'chat'",
        ),
        (
            {"kind": "callable", "options": {"callable": "os:getcwd", "blocking": "yes"}},
            "options.blocking must be true or false, got 'yes'",
        ),
    ],
)
def test_bad_options_are_configuration_errors(
    registry: ProviderRegistry, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build(registry, **fields)
    assert message in str(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "gemini", "api_key_env": "GEMINI_API_KEY"},
        {"kind": "gemini-sdk", "model": "gemini-1.5-pro", "api_key_env": "GEMINI_API_KEY"},
        {"kind": "brave", "api_key_env": "BRAVE_API_KEY"},
        {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9"},
    ],
)
async def test_each_http_kind_passes_max_response_bytes_to_its_provider(
    registry: ProviderRegistry, fields: dict[str, Any]
) -> None:
    limited = build(registry, options={"max_response_bytes": 2048}, **fields)
    default = build(registry, **fields)
    try:
        assert (limited.max_response_bytes, default.max_response_bytes) == (
            2048,
            DEFAULT_MAX_RESPONSE_BYTES,
        )
    finally:
        await limited.aclose()
        await default.aclose()


@pytest.mark.parametrize("value", [1023, 1024**3 + 1, 0, -1, 2048.0, True, "2048", None, 10**400])
def test_a_bad_max_response_bytes_is_refused_when_the_settings_are_read(value: object) -> None:
    provider = {
        "name": "p",
        "kind": "openai",
        "model": "m",
        "options": {"max_response_bytes": value},
    }
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_mapping({"providers": [provider]})
    [problem] = caught.value.problems
    assert problem.path == "providers[0].options.max_response_bytes"
    assert problem.expected == "an int >= 1024 and <= 1073741824 (bytes)"


@pytest.mark.parametrize("value", [1023, 1024, 1024**3, 1024**3 + 1, 4096.0, False])
def test_settings_and_providers_accept_the_same_max_response_bytes(value: object) -> None:
    def accepted(check: Any) -> bool:
        try:
            check()
        except ConfigurationError:
            return False
        return True

    by_settings = accepted(
        lambda: ProviderSettings("p", "openai", options={"max_response_bytes": value})
    )
    by_providers = accepted(lambda: check_max_response_bytes(value, "p"))
    assert by_settings == by_providers == (type(value) is int and 1024 <= value <= 1024**3)
    assert RESPONSE_BYTES_RANGE == (1024, 1024**3)


# --- callables -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_callable_from_settings(registry: ProviderRegistry) -> None:
    here = __name__
    llm = build(
        registry, name="c", kind="callable", model="up", options={"callable": f"{here}:shout"}
    )
    assert isinstance(llm, CallableProvider)
    assert (llm.name, llm.kind, llm.blocking, llm.fn) == ("c", "llm", True, shout)
    assert (await llm.generate("hi")).text == "HI"
    search = build(
        registry,
        kind="callable",
        options={"callable": f"{here}:Tools.find", "serves": "search", "blocking": False},
    )
    assert (search.kind, search.blocking, search.fn) == ("search", False, Tools.find)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("no_such_module_xyz:f", "module 'no_such_module_xyz' cannot be imported"),
        ("os:no_such_function", "'os' has no attribute 'no_such_function'"),
        (f"{__name__}:NOT_CALLABLE", "is 42, which is not callable"),
        ("os.getcwd", "must be a 'module:attribute' string"),
        ("a:b:c", "must be a 'module:attribute' string"),
        (":f", "must be a 'module:attribute' string"),
        (3, "got 3"),
    ],
)
def test_resolve_callable_explains_what_is_wrong(reference: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_callable(reference)
    assert message in str(caught.value)


# --- end to end ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_settings_build_providers_the_coordinator_uses() -> None:
    async with FakeServer(FakeOpenAI(Reply.json(completion("from vllm")), key="o-key")) as server:
        settings = FailoverSettings.from_mapping(
            {
                "strategy": "priority",
                "providers": [
                    {
                        "name": "vllm",
                        "kind": "openai",
                        "model": "qwen",
                        "base_url": server.base_url,
                        "api_key_env": "OPENAI_API_KEY",
                        "priority": 1,
                    },
                    {
                        "name": "local",
                        "kind": "callable",
                        "options": {"callable": f"{__name__}:shout"},
                    },
                ],
            }
        )
        built = build_providers(settings, ENV)
        async with Coordinator(
            built, strategy="priority", priorities={"vllm": 1}, clock=ManualClock()
        ) as c:
            result = await c.generate("hi")
    assert (result.provider, result.value.text) == ("vllm", "from vllm")
    assert isinstance(built[0], OpenAICompatibleProvider)
    assert isinstance(built[1], CallableProvider)


def test_a_missing_key_is_reported_before_any_factory_runs() -> None:
    settings = FailoverSettings.from_mapping(
        {"providers": [{"name": "g", "kind": "gemini", "api_key_env": "GEMINI_API_KEY"}]}
    )
    with pytest.raises(SettingsError, match="GEMINI_API_KEY is not set"):
        build_providers(settings, {})
