"""The provider registry: from a ProviderSettings' ``kind`` to the factory that builds it.

``failover`` knows no provider implementation (the layers point downward): the ``providers``
package registers its kinds (BUILTIN_KINDS) when it is imported, and an application registers
its own the same way::

    def build_echo(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        return EchoProvider(settings.name, model=settings.model)

    register_provider("echo", build_echo)
    provider = build_provider(settings.provider("echo-1"))

A factory receives the provider's settings and its API key, read from the environment variable
named by ``api_key_env`` at build time (None when none is named). A kind registered with
``requires_api_key=True`` is never built without a key. Errors name the variable to set, never
a key's value; a factory's own error that shows the key is reported with the key masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Protocol

import attrs

from failover.provider import Provider
from failover.secrets import MIN_MASKED_LENGTH
from failover.settings import FailoverSettings, ProviderSettings, SettingsError, SettingsProblem
from statemachines import ConfigurationError

__all__ = [
    "BUILTIN_KINDS",
    "ProviderFactory",
    "ProviderRegistry",
    "build_provider",
    "build_providers",
    "default_registry",
    "known_kinds",
    "register_provider",
]

BUILTIN_KINDS: Final = ("brave", "callable", "gemini", "gemini-genai", "gemini-sdk", "openai")
"""The kinds the ``providers`` package registers when it is imported."""


class ProviderFactory(Protocol):
    """Builds one provider from its settings; ``api_key`` comes from the environment."""

    def __call__(self, settings: ProviderSettings, *, api_key: str | None) -> Provider:
        """Return the provider (named ``settings.name``); make no network call here."""
        ...


@attrs.frozen
class _Registration:
    factory: ProviderFactory
    requires_api_key: bool


class ProviderRegistry:
    """Kinds of provider and their factories. ``default_registry`` is the one the
    module-level functions (and the ``providers`` package) use; tests may make their own."""

    def __init__(self) -> None:
        self._kinds: dict[str, _Registration] = {}

    def register(
        self,
        kind: str,
        factory: ProviderFactory,
        *,
        requires_api_key: bool = False,
        replace: bool = False,
    ) -> None:
        """Make ``kind`` buildable by ``factory``.

        Args:
            kind: The name settings use in ``kind`` ("gemini", ...).
            factory: ``factory(settings, *, api_key) -> Provider``.
            requires_api_key: Refuse to build the kind without an API key.
            replace: Allow replacing a factory already registered for ``kind``.

        Raises:
            ConfigurationError: A bad kind or factory, or ``kind`` is taken and not ``replace``.
        """
        if not isinstance(kind, str) or not kind or kind != kind.strip():
            raise ConfigurationError(
                f"a provider kind must be a non-empty string such as 'gemini', got {kind!r}"
            )
        if not callable(factory):
            raise ConfigurationError(
                f"the factory for kind {kind!r} must be callable as "
                f"factory(settings, *, api_key) -> Provider, got {factory!r}"
            )
        if kind in self._kinds and not replace:
            raise ConfigurationError(
                f"provider kind {kind!r} is already registered (to "
                f"{_named(self._kinds[kind].factory)}); pass replace=True to replace it"
            )
        self._kinds[kind] = _Registration(factory, requires_api_key)

    def unregister(self, kind: str) -> None:
        """Forget ``kind`` (nothing happens if it is not registered)."""
        self._kinds.pop(kind, None)

    def known_kinds(self) -> tuple[str, ...]:
        """The registered kinds, sorted."""
        return tuple(sorted(self._kinds))

    def problems(
        self, settings: ProviderSettings, environ: Mapping[str, str] | None = None, *, at: str = ""
    ) -> list[SettingsProblem]:
        """What keeps ``settings`` from being built now: an unknown kind, a missing key.

        Args:
            settings: The provider's settings.
            environ: Where API keys are read; ``os.environ`` when None.
            at: Put before each problem's path (such as "providers[1].").
        """
        registration = self._kinds.get(settings.kind)
        if registration is None:
            return [SettingsProblem(f"{at}kind", repr(settings.kind), self._kinds_expected())]
        variable = settings.api_key_env
        if variable is not None and settings.api_key(environ) is None:
            expected = (
                f"an environment variable that is set: {variable} is not set (or empty); "
                f"set it to the API key of provider {settings.name!r}"
            )
            return [SettingsProblem(f"{at}api_key_env", repr(variable), expected)]
        if variable is None and registration.requires_api_key:
            suggestion = settings.kind.upper().replace("-", "_") + "_API_KEY"
            expected = (
                f"the name of the environment variable that holds the API key (kind "
                f"{settings.kind!r} needs one), such as {suggestion!r}; then set that variable"
            )
            return [SettingsProblem(f"{at}api_key_env", None, f"missing; {expected}")]
        return []

    def build(
        self, settings: ProviderSettings, environ: Mapping[str, str] | None = None
    ) -> Provider:
        """Build one provider.

        Args:
            settings: The provider's settings.
            environ: Where its API key is read; ``os.environ`` when None.

        Raises:
            SettingsError: Its kind is not registered, or its API key is missing.
            ConfigurationError: The factory failed, or returned something that is not a
                Provider named ``settings.name``.
        """
        found = self.problems(settings, environ)
        if found:
            raise SettingsError(f"provider {settings.name!r}", found)
        return self._build(settings, settings.api_key(environ))

    def build_all(
        self, settings: FailoverSettings, environ: Mapping[str, str] | None = None
    ) -> tuple[Provider, ...]:
        """Build every provider of ``settings``, in order, once all of them can be built.

        Every unknown kind and missing key is reported at once, before any factory runs. A
        factory that fails later stops the build; the providers built before it are not
        closed (closing is asynchronous: the caller that owns them closes them).

        Raises:
            SettingsError: Listing every provider that cannot be built, by path.
            ConfigurationError: A factory failed or returned a wrong provider.
        """
        found = [
            problem
            for index, provider in enumerate(settings.providers)
            for problem in self.problems(provider, environ, at=f"providers[{index}].")
        ]
        if found:
            raise SettingsError("building the providers", found)
        return tuple(self._build(p, p.api_key(environ)) for p in settings.providers)

    def _kinds_expected(self) -> str:
        known = ", ".join(map(repr, self.known_kinds())) or "none yet"
        return (
            f"a registered provider kind (registered: {known}); the `providers` package "
            f"registers {', '.join(map(repr, BUILTIN_KINDS))} when imported (`import providers`), "
            "and failover.registry.register_provider() adds your own"
        )

    def build_problem(
        self, settings: ProviderSettings, environ: Mapping[str, str] | None = None, *, at: str = ""
    ) -> Provider | SettingsProblem:
        """Build one provider, or say why it cannot be built: its unknown kind, its missing
        key, or its factory's failure, as a SettingsProblem at ``at`` (such as
        "providers[2]"; never an exception, so a caller can report every provider at once)."""
        found = self.problems(settings, environ, at=f"{at}." if at else "")
        if found:
            return found[0]
        try:
            return self._build(settings, settings.api_key(environ))
        except ConfigurationError as exc:
            path = at or settings.name
            # A factory that names the option it refused ("options.callable ...") is placed
            # at that option: providers[2].options.callable.
            option = _OPTION.search(str(exc).partition(" failed: ")[2])
            if option is not None:
                path = f"{path}.options.{option.group(1)}"
            return SettingsProblem(path, None, f"a provider that builds: {exc}")

    def _build(self, settings: ProviderSettings, api_key: str | None) -> Provider:
        factory = self._kinds[settings.kind].factory
        what = (
            f"the factory {_named(factory)} for provider {settings.name!r} (kind {settings.kind!r})"
        )
        try:
            provider = factory(settings, api_key=api_key)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if (
                api_key  # a shorter key would mask that text in every word (secrets.redact)
                and len(api_key) >= MIN_MASKED_LENGTH
                and (api_key in message or api_key in repr(exc.args))
            ):
                # Chaining would print the key with the original error: mask it, drop it.
                raise ConfigurationError(
                    f"{what} failed: {message.replace(api_key, '***')}"
                ) from None
            raise ConfigurationError(f"{what} failed: {message}") from exc
        if not isinstance(provider, Provider):
            raise ConfigurationError(
                f"{what} returned {provider!r}, which is not a Provider (it needs name, "
                "health_check() and aclose())"
            )
        if provider.name != settings.name:
            raise ConfigurationError(
                f"{what} returned a provider named {provider.name!r}; it must be named "
                f"{settings.name!r}, as in its settings"
            )
        return provider


_OPTION: Final = re.compile(r"\boptions\.([A-Za-z_][A-Za-z0-9_]*)")


def _named(factory: object) -> str:
    """A factory as people read it, ``module:qualified_name`` (never a memory address)."""
    module = getattr(factory, "__module__", None)
    name = getattr(factory, "__qualname__", None) or getattr(factory, "__name__", None)
    if isinstance(module, str) and isinstance(name, str):
        return f"{module}:{name}"
    return type(factory).__qualname__


default_registry: Final = ProviderRegistry()
"""The registry the functions below use, filled by the ``providers`` package on import."""


def register_provider(
    kind: str, factory: ProviderFactory, *, requires_api_key: bool = False, replace: bool = False
) -> None:
    """Register ``factory`` for ``kind`` in the default registry (see ProviderRegistry.register)."""
    default_registry.register(kind, factory, requires_api_key=requires_api_key, replace=replace)


def build_provider(
    settings: ProviderSettings, environ: Mapping[str, str] | None = None
) -> Provider:
    """Build one provider with the default registry (see ProviderRegistry.build)."""
    return default_registry.build(settings, environ)


def build_providers(
    settings: FailoverSettings, environ: Mapping[str, str] | None = None
) -> tuple[Provider, ...]:
    """Build every provider of ``settings`` with the default registry (see
    ProviderRegistry.build_all)."""
    return default_registry.build_all(settings, environ)


def known_kinds() -> tuple[str, ...]:
    """The kinds registered in the default registry, sorted."""
    return default_registry.known_kinds()
