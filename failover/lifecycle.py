"""Lifecycle: a coordinator built from settings, started, and closed with everything it owns.

::

    async with managed_failover("failover.toml") as coordinator:
        answer = await coordinator.generate("Hello")

``managed_failover`` reads the settings (FailoverSettings, a TOML file, or the environment),
builds each provider through the provider registry (``failover.registry``: the ``providers``
package registers its kinds when imported), builds the Coordinator the settings describe (the
providers with ``fallback = true`` as its fallbacks), starts
its health checks, and on exit (also on an error, in the body or while building) stops them and
closes every provider that was built.

``ProviderMixin`` gives an existing class (an agent, a service) ``await self.llm(prompt)`` and
``await self.search(query)`` through the coordinator it holds in ``self.coordinator``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager

import attrs

from failover._coordinator import Coordinator
from failover._fleet import FleetEvent
from failover._log import get_logger
from failover.clock import Clock
from failover.hooks import Hook
from failover.provider import LLMResponse, Provider, SearchResults
from failover.ratelimit import RateLimit
from failover.registry import build_provider, default_registry
from failover.settings import FailoverSettings, SettingsError, SettingsProblem
from failover.storage import Storage
from failover.tracing import CoordinatorTelemetry
from statemachines import BreakerPolicy, ConfigurationError

__all__ = ["ProviderMixin", "managed_failover"]

logger = get_logger(__name__)


@asynccontextmanager
async def managed_failover(
    settings_or_path: FailoverSettings | str | os.PathLike[str] | None = None,
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    policies: Mapping[str, BreakerPolicy] | None = None,
    storage: Storage | None = None,
    hooks: Iterable[Hook] | None = None,
    fleet_hooks: Iterable[Callable[[FleetEvent], object]] = (),
) -> AsyncIterator[Coordinator]:
    """A started Coordinator built from settings; everything is closed on exit.

    Args:
        settings_or_path: FailoverSettings; or the path of a TOML file
            (``FailoverSettings.from_toml``); or None to read the environment
            (``FailoverSettings.from_env``).
        clock: The coordinator's clock (a ManualClock in tests); the system clock when None.
        environ: Where the environment is read (settings when None is given, the API keys
            named by ``api_key_env`` and the storage's ``url_env``); ``os.environ`` when None.
        policies: Policies by provider name, in place of the settings' (for what code
            builds: a policy with your own Python conditions).
        storage: A storage in place of the settings' ``storage`` table (which is then not
            built).
        hooks: The breakers' hooks (``Coordinator(hooks=...)``); None for the defaults.
        fleet_hooks: Called at each change of the fleet state (``Coordinator(fleet_hooks=)``).

    Yields:
        The coordinator, its health checks started.

    Raises:
        SettingsError: Bad settings, an unregistered kind or a missing API key (every problem
            at once, before any provider is built).
        ConfigurationError: The settings cannot be read, or a provider's factory failed (the
            providers built before it are closed first).
    """
    settings = _settings(settings_or_path, environ)
    providers = await _build_providers(settings, environ)
    overrides = _Overrides(policies, storage, hooks, fleet_hooks)
    try:
        coordinator = _coordinator(settings, providers, clock, environ, overrides)
    except BaseException:
        await _close(providers)
        raise
    try:
        await coordinator.start()
        yield coordinator
    finally:
        await coordinator.aclose()


def _settings(
    settings_or_path: FailoverSettings | str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None,
) -> FailoverSettings:
    if settings_or_path is None:
        return FailoverSettings.from_env(environ=environ)
    if isinstance(settings_or_path, FailoverSettings):
        return settings_or_path
    if isinstance(settings_or_path, str | os.PathLike):
        return FailoverSettings.from_toml(settings_or_path)
    raise ConfigurationError(
        f"managed_failover() takes FailoverSettings, the path of a TOML file, or None (read the "
        f"environment), got {settings_or_path!r}"
    )


async def _build_providers(
    settings: FailoverSettings, environ: Mapping[str, str] | None
) -> tuple[Provider, ...]:
    """Like ``failover.registry.build_providers`` (every problem reported before any factory
    runs), but the providers built before a failing factory are closed."""
    found = [
        problem
        for index, provider in enumerate(settings.providers)
        for problem in default_registry.problems(provider, environ, at=f"providers[{index}].")
    ]
    if not settings.providers:
        found.append(
            SettingsProblem("providers", None, "at least one [[failover.providers]] table")
        )
    if found:
        raise SettingsError("building the providers", found)
    built: list[Provider] = []
    try:
        for provider_settings in settings.providers:
            built.append(build_provider(provider_settings, environ))
    except BaseException:
        await _close(built)
        raise
    return tuple(built)


@attrs.frozen
class _Overrides:
    """What ``managed_failover`` was given in code, in place of the settings'."""

    policies: Mapping[str, BreakerPolicy] | None = None
    storage: Storage | None = None
    hooks: Iterable[Hook] | None = None
    fleet_hooks: Iterable[Callable[[FleetEvent], object]] = ()


def _coordinator(
    settings: FailoverSettings,
    providers: tuple[Provider, ...],
    clock: Clock | None,
    environ: Mapping[str, str] | None = None,
    overrides: _Overrides | None = None,
) -> Coordinator:
    """The coordinator of ``settings`` over ``providers`` (built from ``settings.providers``,
    in the same order): those with ``fallback = true`` are its fallbacks."""
    given = overrides or _Overrides()
    names = [p.name for p in settings.providers]
    fallback = [s.fallback for s in settings.providers]
    policies = {name: settings.breaker_policy(name) for name in names}
    policies.update(given.policies or {})
    storage = given.storage if given.storage is not None else settings.make_storage(environ)
    return Coordinator(
        [p for p, is_fallback in zip(providers, fallback, strict=True) if not is_fallback],
        fallback=[p for p, is_fallback in zip(providers, fallback, strict=True) if is_fallback],
        policy=settings.breaker_policy(),
        policies=policies,
        strategy=settings.strategy,
        retry=settings.retry_policy(),
        rate_limits={n: limit for n in names if (limit := settings.rate_limit(n)) != RateLimit()},
        health=settings.health_config(),
        health_checks=settings.health_checks(),
        clock=clock,
        hooks=given.hooks,
        fleet_hooks=given.fleet_hooks,
        hedge_after=settings.hedge_after,
        storage=storage,
        all_down=settings.all_down,
        priorities={p.name: p.priority for p in settings.providers},
        weights={p.name: p.weight for p in settings.providers if not p.fallback},
        telemetry=CoordinatorTelemetry.from_settings(settings.telemetry),
    )


async def _close(providers: Iterable[Provider]) -> None:
    for provider in providers:
        try:
            await provider.aclose()
        except Exception:
            logger.exception("closing provider %r failed; ignored", provider.name)


class ProviderMixin:
    """Gives a class ``await self.llm(prompt)`` and ``await self.search(query)``.

    The class (or its instances) must set ``coordinator`` to a Coordinator, such as the one
    ``managed_failover`` yields::

        class Agent(ProviderMixin):
            def __init__(self, coordinator: Coordinator) -> None:
                self.coordinator = coordinator

    Attributes:
        coordinator: The Coordinator the requests go through.
    """

    coordinator: Coordinator

    async def llm(self, prompt: str | Mapping[str, object], **options: object) -> str:
        """The text ``coordinator.generate(prompt, **options)`` answered.

        Raises:
            AttributeError: ``self.coordinator`` is not set.
            AllProvidersFailed: Every attempt failed (as for ``Coordinator.generate``).
            AllProvidersUnavailable: No provider admitted the request.
        """
        result = await self._coordinator().generate(prompt, **options)
        response: LLMResponse = result.value
        return response.text

    async def search(self, query: str, **options: object) -> SearchResults:
        """The results ``coordinator.search(query, **options)`` found.

        Raises:
            AttributeError: ``self.coordinator`` is not set.
            AllProvidersFailed: Every attempt failed (as for ``Coordinator.search``).
            AllProvidersUnavailable: No provider admitted the request.
        """
        result = await self._coordinator().search(query, **options)
        results: SearchResults = result.value
        return results

    def _coordinator(self) -> Coordinator:
        coordinator: Coordinator | None = getattr(self, "coordinator", None)
        if coordinator is None:
            raise AttributeError(
                f"{type(self).__name__} uses ProviderMixin but has no coordinator: set "
                "self.coordinator to a Coordinator (e.g. the one `async with "
                "managed_failover(settings) as coordinator:` yields) before calling llm() or "
                "search()"
            )
        return coordinator
