"""``failover check``: build the configured providers, health-check each once, print a table.

Providers are built from settings (``failover.settings``: ``--config FILE``, else the
environment, whose FAILOVER_CONFIG may name the file) through the provider registry
(``failover.registry``). Kinds are registered by importing the modules that define them: the
``providers`` package (Gemini, Brave, OpenAI-compatible, callable) when it is installed, and
every ``--import MODULE`` given. Without an API key, nothing is built: the variables to set are
named, and the exit code is 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
from pathlib import Path

from failover._coordinator.coordinator import Coordinator
from failover.cli._errors import EXIT_BAD_INPUT, EXIT_DEFECTS, EXIT_OK, CommandError
from failover.cli._render import Output, Table, fmt_seconds
from failover.health import HealthCheckConfig
from failover.provider import HealthCheckResult
from failover.registry import build_providers, default_registry
from failover.settings import FailoverSettings, SettingsProblem
from failover.status import CoordinatorStatus

__all__ = ["PLUGIN_MODULES", "add_parser", "check"]

PLUGIN_MODULES = ("providers",)
"""Imported (when installed) before building: they register the built-in provider kinds."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``check`` subcommand's arguments."""
    parser = commands.add_parser(
        "check",
        help="health-check the configured providers once and print their status",
        description="Build the providers of the settings (API keys from the environment), "
        "health-check each once, and print a status table. Exit code 0: all healthy; 1: some "
        "unhealthy; 2: the settings are bad or API keys are missing (the variables to set are "
        "named).",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="a settings TOML file ([failover] table); default: the "
        "environment (FAILOVER_CONFIG names the file)",
    )
    parser.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (it registers its own provider kinds); repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def check(args: argparse.Namespace, out: Output) -> int:
    """Run the checks; 0 all healthy, 1 some unhealthy, 2 cannot check."""
    _import_plugins(args.modules)
    settings = (
        FailoverSettings.from_toml(args.config) if args.config else FailoverSettings.from_env()
    )
    if not settings.providers:
        raise CommandError(
            "no providers configured: give --config FILE with [[failover.providers]] tables, "
            "or set FAILOVER_CONFIG to such a file"
        )
    _require_keys(settings)
    results, status = asyncio.run(_check(settings))
    healthy = all(r.healthy for r in results.values()) and len(results) == len(settings.providers)
    if args.json:
        out.json(_as_json(settings, results, status))
    else:
        out.table(_table(settings, results, status))
    return EXIT_OK if healthy else EXIT_DEFECTS


def _import_plugins(modules: list[str]) -> None:
    for name in PLUGIN_MODULES:
        with contextlib.suppress(ImportError):  # not installed: only the kinds known otherwise
            importlib.import_module(name)
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise CommandError(f"--import {name}: cannot import it ({exc})") from None


def _require_keys(settings: FailoverSettings) -> None:
    found: list[SettingsProblem] = []
    for index, provider in enumerate(settings.providers):
        found += default_registry.problems(provider, at=f"providers[{index}].")
    if not found:
        return
    variables = sorted(
        {p.api_key_env for p in settings.providers if p.api_key_env}
        - {p.api_key_env for p in settings.providers if p.api_key()}
    )
    lines = [f"  - {problem}" for problem in found]
    head = "cannot check the providers:"
    if variables:
        head = f"cannot check the providers: set {', '.join(variables)} (API keys) first;"
    raise CommandError([head, *lines], EXIT_BAD_INPUT)


async def _check(
    settings: FailoverSettings,
) -> tuple[dict[str, HealthCheckResult], CoordinatorStatus]:
    providers = build_providers(settings)
    health = HealthCheckConfig(timeout=settings.health_check_timeout, enabled=False)
    coordinator = Coordinator(
        providers,
        policies={p.name: settings.breaker_policy(p.name) for p in settings.providers},
        health=health,
        hooks=(),
    )
    try:
        results = dict(await coordinator.check_health(force=True))
        return results, coordinator.status()
    finally:
        await coordinator.aclose()


def _table(
    settings: FailoverSettings, results: dict[str, HealthCheckResult], status: CoordinatorStatus
) -> Table:
    states = {p.name: p.state.value for p in status.providers}
    rows = []
    for provider in settings.providers:
        result = results.get(provider.name)
        rows.append(
            (
                provider.name,
                provider.kind,
                provider.model or "-",
                "-" if result is None else ("healthy" if result.healthy else "UNHEALTHY"),
                fmt_seconds(None if result is None else result.latency),
                states.get(provider.name, "-"),
                "" if result is None or result.error is None else result.error,
            )
        )
    headers = ("provider", "kind", "model", "check", "latency", "breaker", "error")
    return Table("Provider health", headers, tuple(rows), frozenset({4}))


def _as_json(
    settings: FailoverSettings, results: dict[str, HealthCheckResult], status: CoordinatorStatus
) -> dict[str, object]:
    states = {p.name: p.state.value for p in status.providers}
    return {
        "healthy": all(r.healthy for r in results.values()),
        "providers": [
            {
                "name": p.name,
                "kind": p.kind,
                "model": p.model,
                "healthy": None if (r := results.get(p.name)) is None else r.healthy,
                "latency": None if r is None else r.latency,
                "error": None if r is None else r.error,
                "breaker": states.get(p.name),
            }
            for p in settings.providers
        ],
    }
