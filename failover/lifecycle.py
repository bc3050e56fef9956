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
from typing import Literal, TypeAlias

import attrs

from failover._base.log import get_logger
from failover._coordinator.coordinator import Coordinator
from failover._coordinator.fleet import FleetEvent
from failover.clock import Clock
from failover.hooks import Hook
from failover.provider import LLMResponse, Provider, SearchResults
from failover.ratelimit import RateLimit
from failover.registry import default_registry
from failover.secrets import redact
from failover.settings import FailoverSettings, ProviderSettings, SettingsError, SettingsProblem
from failover.storage import Storage
from failover.tracing import CoordinatorTelemetry
from statemachines import BreakerPolicy, ConfigurationError

__all__ = ["ON_BUILD_ERROR", "OnBuildError", "ProviderMixin", "managed_failover"]

OnBuildError: TypeAlias = Literal["raise", "degrade"]
ON_BUILD_ERROR: tuple[OnBuildError, ...] = ("raise", "degrade")
"""What ``managed_failover`` does with a provider that cannot be built."""

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
    on_build_error: OnBuildError = "raise",
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
        on_build_error: "raise" (the default): a provider that cannot be built (unknown kind,
            missing key, failing factory) stops the start, every such problem reported at once.
            "degrade": start with the providers that could be built; each other one is in
            ``status().not_built`` with why, in a FleetEvent (``change="not_built"``) and a
            WARNING log line. With no primary built, it raises either way.

    Yields:
        The coordinator, its health checks started.

    Raises:
        SettingsError: Bad settings, an unregistered kind or a missing API key (every problem
            at once, before any provider is built), or factories that failed (every one, each
            at its path, such as ``providers[2]``; the providers built are closed first).
        ConfigurationError: The settings cannot be read, or ``on_build_error`` is neither.
    """
    if on_build_error not in ON_BUILD_ERROR:
        raise ConfigurationError(
            f"on_build_error must be one of {list(ON_BUILD_ERROR)!r}, got {on_build_error!r}"
        )
    settings = _settings(settings_or_path, environ)
    built, not_built = await _build_providers(settings, environ, on_build_error)
    overrides = _Overrides(policies, storage, hooks, fleet_hooks)
    try:
        coordinator = _coordinator(settings, built, clock, environ, overrides)
    except BaseException:
        await _close(p for _, p in built)
        raise
    _report_not_built(coordinator, not_built)
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


_Built = list[tuple[ProviderSettings, Provider]]


async def _build_providers(
    settings: FailoverSettings, environ: Mapping[str, str] | None, on_build_error: str
) -> tuple[_Built, dict[str, str]]:
    """Each provider of ``settings`` built, with its settings; and each one that could not be,
    with why (with "raise", none: every problem is raised at once, and the providers built are
    closed). An unknown kind or a missing key is found before any factory runs."""
    if not settings.providers:
        missing = SettingsProblem("providers", None, "at least one [[failover.providers]] table")
        raise SettingsError("building the providers", [missing])
    if on_build_error == "raise":
        found = [
            problem
            for index, provider in enumerate(settings.providers)
            for problem in default_registry.problems(provider, environ, at=f"providers[{index}].")
        ]
        if found:
            raise SettingsError("building the providers", found)
    built: _Built = []
    failed: list[tuple[ProviderSettings, SettingsProblem]] = []
    try:
        for index, each in enumerate(settings.providers):
            outcome = default_registry.build_problem(each, environ, at=f"providers[{index}]")
            if isinstance(outcome, SettingsProblem):
                failed.append((each, outcome))
            else:
                built.append((each, outcome))
    except BaseException:
        await _close(p for _, p in built)
        raise
    if failed and (on_build_error == "raise" or all(s.fallback for s, _ in built)):
        await _close(p for _, p in built)
        raise SettingsError("building the providers", [problem for _, problem in failed])
    return built, {s.name: redact(str(problem)) for s, problem in failed}


def _report_not_built(coordinator: Coordinator, not_built: Mapping[str, str]) -> None:
    """Say which providers could not be built: in status, a FleetEvent and a log line each."""
    for name, why in not_built.items():
        logger.warning("provider %r could not be built; starting without it: %s", name, why)
        coordinator.report_not_built(name, why)


@attrs.frozen
class _Overrides:
    """What ``managed_failover`` was given in code, in place of the settings'."""

    policies: Mapping[str, BreakerPolicy] | None = None
    storage: Storage | None = None
    hooks: Iterable[Hook] | None = None
    fleet_hooks: Iterable[Callable[[FleetEvent], object]] = ()


def _coordinator(
    settings: FailoverSettings,
    built: _Built,
    clock: Clock | None,
    environ: Mapping[str, str] | None = None,
    overrides: _Overrides | None = None,
) -> Coordinator:
    """The coordinator of ``settings`` over the providers ``built`` (each with its settings,
    in the settings' order): those with ``fallback = true`` are its fallbacks."""
    given = overrides or _Overrides()
    names = [s.name for s, _ in built]
    providers = [p for _, p in built]
    fallback = [s.fallback for s, _ in built]
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
        health_checks={n: c for n, c in settings.health_checks().items() if n in names},
        clock=clock,
        hooks=given.hooks,
        fleet_hooks=given.fleet_hooks,
        hedge_after=settings.hedge_after,
        storage=storage,
        all_down=settings.all_down,
        priorities={s.name: s.priority for s, _ in built},
        weights={s.name: s.weight for s, _ in built if not s.fallback},
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
