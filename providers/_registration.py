"""The provider kinds ``import providers`` registers with ``failover.registry``.

==============  ===============================================  ========  ========================
kind            builds                                           API key   options
==============  ===============================================  ========  ========================
"gemini"        providers.gemini.GeminiProvider                  required  common, api_version
"gemini-sdk"    providers.gemini_sdk.GeminiSDKProvider           required  common
"gemini-genai"  providers.gemini_genai.GeminiGenAIProvider       optional  common, api_version,
                                                                           vertexai, project,
                                                                           location
"brave"         providers.brave.BraveSearchProvider              required  common
"openai"        providers.openai.OpenAICompatibleProvider        optional  common
"callable"      providers.callable.CallableProvider              unused    callable (required),
                                                                           serves, blocking
==============  ===============================================  ========  ========================

Every factory names the provider ``settings.name`` and passes ``settings.model`` and
``settings.base_url`` when set (else the provider's defaults; "openai" needs a model and
defaults to OpenAI's URL). The common options of the HTTP kinds: ``options.timeout``, the HTTP
timeout in seconds (> 0, at most 6 hours), and ``options.max_response_bytes``, the most bytes of
one answer the provider reads (1 KiB to 1 GiB; 8 MiB by default), passed to the provider as
the keyword of the same name; both are checked when the settings are read. A "callable"
provider's ``options.callable`` names its function as ``"module:attribute"`` (the attribute may
be dotted: ``"app.llm:Client.complete"``); ``options.serves`` is "llm" (default) or "search";
``options.blocking`` (default true) runs a sync function in a worker thread. An option a kind
does not read is an error, as is a bad value. Provider modules are imported inside the
factories, so an optional SDK is imported only when a "gemini-sdk" or "gemini-genai" provider is
built. A "gemini-genai" provider needs a key unless ``options.vertexai`` is true with an
``options.project`` (Vertex AI with Google Cloud credentials).

Registering is idempotent: a kind already registered (by an earlier import, or by the
application before ``import providers``) is left as it is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from failover.provider import Provider
from failover.registry import ProviderFactory, ProviderRegistry, default_registry
from failover.settings import ProviderSettings
from providers._reading import check_max_response_bytes
from statemachines import ConfigurationError

__all__ = ["BUILTIN_FACTORIES", "register_builtin_kinds", "resolve_callable"]

_COMMON: Final = frozenset({"timeout", "max_response_bytes"})
"""The options every HTTP kind reads (their values are checked by ProviderSettings)."""


def _options(settings: ProviderSettings, accepted: frozenset[str]) -> dict[str, Any]:
    """The provider's options as keyword arguments, after checking their names.

    The values of ``timeout`` and ``max_response_bytes`` were checked when the settings were
    read (ProviderSettings refuses a value out of range, however it is built).
    """
    unknown = sorted(set(settings.options) - accepted)
    if unknown:
        raise ConfigurationError(
            f"provider {settings.name!r} (kind {settings.kind!r}) has unknown option(s) "
            f"{unknown!r}; kind {settings.kind!r} reads {sorted(accepted)!r}"
        )
    options = dict(settings.options)
    if "max_response_bytes" in options:
        options["max_response_bytes"] = check_max_response_bytes(
            options["max_response_bytes"], settings.name
        )
    return options


def _located(settings: ProviderSettings, model: bool = True) -> dict[str, Any]:
    """name, and base_url / model when the settings give them."""
    found: dict[str, Any] = {"name": settings.name}
    if settings.base_url is not None:
        found["base_url"] = settings.base_url
    if model and settings.model is not None:
        found["model"] = settings.model
    return found


def _key(settings: ProviderSettings, api_key: str | None) -> str:
    if api_key is None:  # the registry checks requires_api_key before calling
        raise ConfigurationError(f"provider {settings.name!r} needs an API key (api_key_env)")
    return api_key


def build_gemini(settings: ProviderSettings, *, api_key: str | None) -> Provider:
    """Build a GeminiProvider (kind "gemini")."""
    from providers.gemini import GeminiProvider

    options = _options(settings, _COMMON | {"api_version"})
    return GeminiProvider(_key(settings, api_key), **_located(settings), **options)


def build_gemini_sdk(settings: ProviderSettings, *, api_key: str | None) -> Provider:
    """Build a GeminiSDKProvider (kind "gemini-sdk"; needs the ``gemini-sdk`` extra)."""
    # Imported by name: the module needs the optional SDK, loaded only when one is built.
    module = importlib.import_module("providers.gemini_sdk")
    options = _options(settings, _COMMON)
    # GeminiSDKProvider(model, *, api_key, ...): the model comes first, the key by keyword.
    provider: Provider = module.GeminiSDKProvider(
        api_key=_key(settings, api_key), **_located(settings), **options
    )
    return provider


_GENAI_OPTIONS: Final = frozenset({"api_version", "vertexai", "project", "location"})


def build_gemini_genai(settings: ProviderSettings, *, api_key: str | None) -> Provider:
    """Build a GeminiGenAIProvider (kind "gemini-genai"; needs the ``genai`` extra)."""
    module = importlib.import_module("providers.gemini_genai")
    options = _options(settings, _COMMON | _GENAI_OPTIONS)
    provider: Provider = module.GeminiGenAIProvider(api_key, **_located(settings), **options)
    return provider


def build_brave(settings: ProviderSettings, *, api_key: str | None) -> Provider:
    """Build a BraveSearchProvider (kind "brave")."""
    from providers.brave import BraveSearchProvider

    options = _options(settings, _COMMON)
    located = _located(settings, model=False)
    return BraveSearchProvider(_key(settings, api_key), **located, **options)


def build_openai(settings: ProviderSettings, *, api_key: str | None) -> Provider:
    """Build an OpenAICompatibleProvider (kind "openai")."""
    from providers.openai import DEFAULT_BASE_URL, OpenAICompatibleProvider

    options = _options(settings, _COMMON)
    if settings.model is None:
        raise ConfigurationError(
            f"provider {settings.name!r} (kind 'openai') needs a model, such as "
            "model = 'gpt-4o-mini' (or the model name your server serves)"
        )
    base_url = settings.base_url if settings.base_url is not None else DEFAULT_BASE_URL
    return OpenAICompatibleProvider(
        base_url, api_key, settings.model, name=settings.name, **options
    )


def resolve_callable(reference: object) -> Callable[..., Any]:
    """The callable named by ``"module:attribute"`` (the attribute may be dotted).

    Raises:
        ConfigurationError: Not such a string, a module that cannot be imported, a missing
            attribute, or an object that is not callable.
    """
    expected = "a 'module:attribute' string naming a callable, such as 'myapp.llm:complete'"
    if not isinstance(reference, str) or reference.count(":") != 1:
        raise ConfigurationError(f"options.callable must be {expected}, got {reference!r}")
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"options.callable must be {expected}, got {reference!r}")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"options.callable {reference!r}: module {module_name!r} cannot be imported "
            f"({type(exc).__name__}: {exc}); it must be {expected}"
        ) from exc
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ConfigurationError(
                f"options.callable {reference!r}: {module_name!r} has no attribute "
                f"{attribute!r}; it must be {expected}"
            )
        found = getattr(found, part)
    if not callable(found):
        raise ConfigurationError(
            f"options.callable {reference!r} is {found!r}, which is not callable; "
            f"it must be {expected}"
        )
    return found  # type: ignore[no-any-return]


def build_callable(settings: ProviderSettings, *, api_key: str | None) -> Provider:
    """Build a CallableProvider (kind "callable") from ``options.callable``."""
    from providers.callable import CallableProvider

    options = _options(settings, frozenset({"callable", "serves", "blocking"}))
    if "callable" not in options:
        raise ConfigurationError(
            f"provider {settings.name!r} (kind 'callable') needs options.callable, a "
            "'module:attribute' string naming the function, such as 'myapp.llm:complete'"
        )
    serves = options.get("serves", "llm")
    if serves not in ("llm", "search"):
        raise ConfigurationError(
            f"provider {settings.name!r}: options.serves must be 'llm' or 'search', got {serves!r}"
        )
    blocking = options.get("blocking", True)
    if not isinstance(blocking, bool):
        raise ConfigurationError(
            f"provider {settings.name!r}: options.blocking must be true or false, got {blocking!r}"
        )
    fn = resolve_callable(options["callable"])
    return CallableProvider(
        fn, settings.name, kind=serves, blocking=blocking, model=settings.model or ""
    )


BUILTIN_FACTORIES: Final[Mapping[str, tuple[ProviderFactory, bool]]] = {
    "brave": (build_brave, True),
    "callable": (build_callable, False),
    "gemini": (build_gemini, True),
    "gemini-genai": (build_gemini_genai, False),
    "gemini-sdk": (build_gemini_sdk, True),
    "openai": (build_openai, False),
}
"""kind -> (factory, requires_api_key)."""


def register_builtin_kinds(registry: ProviderRegistry | None = None) -> tuple[str, ...]:
    """Register the built-in kinds that are not registered yet.

    Args:
        registry: Where; ``failover.registry.default_registry`` when None.

    Returns:
        The kinds registered by this call (those already there are left alone).
    """
    target = default_registry if registry is None else registry
    known = set(target.known_kinds())
    added = []
    for kind, (factory, requires_api_key) in BUILTIN_FACTORIES.items():
        if kind not in known:
            target.register(kind, factory, requires_api_key=requires_api_key)
            added.append(kind)
    return tuple(added)
