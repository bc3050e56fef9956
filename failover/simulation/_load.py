"""Reading a scenario from TOML: every problem reported at once, with its key path.

The layout (the bundled ``failover/scenarios/default.toml`` is a full example)::

    name = "my outage"
    seed = 7
    strategy = "priority"            # failover.strategies; all_down = "fail_fast" | ...
    replicas = 2                     # coordinators sharing one MemoryStorage (default 1)

    [arrivals]
    rate = 3.0                       # requests per second (Poisson)
    duration = 600                   # seconds

    [retry]                          # RetryPolicy fields
    attempt_timeout = 8

    [policy]                         # a policy file's [policy] table (failover.simulation)
    open_duration = 20

    [[providers]]
    name = "primary"
    latency = { dist = "lognormal", median = 0.3, p99 = 1.2 }   # or a number: fixed
    error_rate = 0.01
    outages = [{ start = 120, end = 300 }]                      # mode = "error" | "timeout"
    rate_limit_bursts = [{ start = 400, end = 460, retry_after = 20 }]
    quota = { per_minute = 90, per_day = 10000 }
    policy = { open_duration = 10 }                             # on top of [policy]
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import attrs

from failover._config.checks import checked_name, checked_rate_limits, choice, count
from failover._config.policy_format import policy_in
from failover._config.problems import Problems, ScenarioError, join, read_toml
from failover._coordinator.coordinator import ALL_DOWN_MODES
from failover.health import HealthCheckConfig
from failover.ratelimit import RateLimit
from failover.retry import RetryPolicy
from failover.simulation._load_values import (
    MAX_SIMULATED_REQUESTS,
    MAX_SIMULATED_SECONDS,
    arrivals_in,
    number_in,
    replicas_in,
    seed_in,
    text_in,
)
from failover.simulation._scenario import (
    Latency,
    Outage,
    ProviderScenario,
    Quota,
    RateLimitBurst,
    Scenario,
)
from failover.strategies import STRATEGIES
from statemachines import BreakerPolicy, ConfigurationError

__all__ = [
    "DEFAULT_SCENARIO",
    "MAX_SIMULATED_REQUESTS",
    "MAX_SIMULATED_SECONDS",
    "load_scenario",
    "scenario_from_mapping",
]

DEFAULT_SCENARIO = "default.toml"
"""The bundled scenario's file name, in the ``failover/scenarios`` folder."""

_TOP = ("name", "description", "seed", "strategy", "all_down", "error_latency", "replicas")
_TABLES = ("arrivals", "retry", "policy", "health", "providers")
_PROVIDER_KEYS = tuple(f.name for f in attrs.fields(ProviderScenario))
_RETRY_KEYS = tuple(f.name for f in attrs.fields(RetryPolicy))
_HEALTH_KEYS = tuple(f.name for f in attrs.fields(HealthCheckConfig))
_DISTS = {"fixed": ("median",), "lognormal": ("median", "p99"), "uniform": ("low", "high")}


def load_scenario(path: str | os.PathLike[str] | None = None) -> Scenario:
    """The scenario of a TOML file; the bundled default scenario when ``path`` is None.

    Raises:
        ScenarioError: Listing every problem: unreadable file, bad TOML, unknown key, wrong
            type, impossible value (a negative rate, an outage that ends before it starts).
    """
    if path is None:
        resource = resources.files("failover") / "scenarios" / DEFAULT_SCENARIO
        with resources.as_file(resource) as default:
            return scenario_from_mapping(read_toml(default, ScenarioError), source=str(default))
    return scenario_from_mapping(read_toml(path, ScenarioError), source=os.fspath(path))


def scenario_from_mapping(data: Mapping[str, Any], *, source: str = "a mapping") -> Scenario:
    """The scenario of a mapping shaped like a scenario file.

    Raises:
        ScenarioError: Listing every problem.
    """
    problems = Problems()
    scenario = _scenario(problems, data)
    if problems or scenario is None:
        raise ScenarioError(source, problems.found)
    return scenario


def _scenario(problems: Problems, data: object) -> Scenario | None:
    top = problems.table("", data, (*_TOP, *_TABLES))
    policy = policy_in(problems, "policy", top.get("policy", {}))
    retry = _record(problems, "retry", top.get("retry", {}), RetryPolicy, _RETRY_KEYS)
    health = None
    if "health" in top:
        health = _record(problems, "health", top["health"], HealthCheckConfig, _HEALTH_KEYS)
    arrivals = arrivals_in(problems, top.get("arrivals"))
    providers = _providers(problems, top.get("providers"), policy)
    fields: dict[str, Any] = {
        "name": text_in(problems, "name", top.get("name", "scenario")),
        "description": text_in(problems, "description", top.get("description", ""), empty=True),
        "seed": seed_in(problems, top.get("seed", 0)),
        "strategy": problems.check(
            "strategy", top.get("strategy", "success_rate"), choice(STRATEGIES)
        ),
        "all_down": problems.check(
            "all_down", top.get("all_down", "fail_fast"), choice(ALL_DOWN_MODES)
        ),
        "error_latency": number_in(problems, "error_latency", top.get("error_latency", 0.05), 0),
        "replicas": replicas_in(problems, top.get("replicas", 1)),
    }
    if isinstance(retry, RetryPolicy) and providers:
        _check_timeouts(problems, retry, providers)
    if problems or policy is None or retry is None or arrivals is None or providers is None:
        return None
    return Scenario(
        providers=providers, arrivals=arrivals, policy=policy, retry=retry, health=health, **fields
    )


def _record(
    problems: Problems, path: str, value: object, cls: Callable[..., Any], keys: tuple[str, ...]
) -> Any:
    table = problems.table(path, value, keys)
    if not isinstance(value, Mapping) or len(table) != len(value):
        return None
    try:
        return cls(**table)
    except ConfigurationError as exc:
        key = next((k for k in table if f".{k} " in str(exc)), None)
        where = path if key is None else join(path, key)
        given = value if key is None else table[key]
        problems.add(where, given, _expected(exc))
        return None


def _expected(exc: ConfigurationError) -> str:
    _, found, rest = str(exc).partition(" must be ")
    return rest.rsplit(", got ", 1)[0] if found else str(exc)


# --- providers ----------------------------------------------------------------------------------


def _providers(
    problems: Problems, value: object, policy: BreakerPolicy | None
) -> tuple[ProviderScenario, ...] | None:
    if value is None:
        problems.missing("providers", "one [[providers]] table per simulated provider")
        return None
    if not isinstance(value, list) or not value:
        problems.add("providers", value, "a non-empty list of [[providers]] tables")
        return None
    before = len(problems.found)
    found = [_provider(problems, join("providers", i), p, policy) for i, p in enumerate(value)]
    names = [p.name for p in found if p is not None]
    for index, name in enumerate(names):
        if name in names[:index]:
            problems.add(
                join(join("providers", index), "name"), name, "a name no other provider has"
            )
    if len(problems.found) > before or None in found:
        return None
    return tuple(p for p in found if p is not None)


def _provider(
    problems: Problems, path: str, value: object, policy: BreakerPolicy | None
) -> ProviderScenario | None:
    table = problems.table(path, value, _PROVIDER_KEYS)
    if not isinstance(value, Mapping):
        return None
    before = len(problems.found)
    if "name" not in table:
        problems.missing(join(path, "name"), "the provider's name")
    fields: dict[str, Any] = {
        "name": problems.check(join(path, "name"), table.get("name"), checked_name)
    }
    if "latency" in table:
        fields["latency"] = _latency(problems, join(path, "latency"), table["latency"])
    if "error_rate" in table:
        fields["error_rate"] = number_in(
            problems, join(path, "error_rate"), table["error_rate"], 0, maximum=1
        )
    for key, read in (("outages", _outage), ("rate_limit_bursts", _burst)):
        if key in table:
            fields[key] = _windows(problems, join(path, key), table[key], read)
    if "quota" in table:
        fields["quota"] = _quota(problems, join(path, "quota"), table["quota"])
    if "policy" in table:
        policy_in(problems, join(path, "policy"), table["policy"], policy or BreakerPolicy())
        fields["policy"] = dict(table["policy"]) if isinstance(table["policy"], Mapping) else {}
    if "rate_limits" in table:
        limits = problems.check(
            join(path, "rate_limits"), table["rate_limits"], checked_rate_limits
        )
        fields["rate_limits"] = (
            None if limits is None else RateLimit(**{"per_minute": None, "per_day": None, **limits})
        )
    for key, minimum, strict in (("priority", -math.inf, False), ("weight", 0, True)):
        if key in table:
            fields[key] = number_in(problems, join(path, key), table[key], minimum, strict=strict)
    if len(problems.found) > before:
        return None
    return ProviderScenario(**fields)


def _latency(problems: Problems, path: str, value: object) -> Latency | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = number_in(problems, path, value, 0)
        return None if seconds is None else Latency("fixed", seconds)
    dist = value.get("dist", "fixed") if isinstance(value, Mapping) else None
    if dist not in _DISTS:
        problems.add(
            join(path, "dist") if isinstance(value, Mapping) else path,
            dist if isinstance(value, Mapping) else value,
            "a number of seconds, or a table with dist = 'fixed' (median), "
            "'lognormal' (median, p99) or 'uniform' (low, high)",
        )
        return None
    keys = _DISTS[dist]
    table = problems.table(path, value, ("dist", *keys))
    numbers: dict[str, float | None] = {}
    for key in keys:
        if key not in table:
            problems.missing(join(path, key), f"seconds, a finite number >= 0 (dist = {dist!r})")
            numbers[key] = None
        else:
            numbers[key] = number_in(problems, join(path, key), table[key], 0)
    if None in numbers.values() or len(table) != len(value):  # type: ignore[arg-type]
        return None
    return _ordered_latency(problems, path, dist, numbers)  # type: ignore[arg-type]


def _ordered_latency(
    problems: Problems, path: str, dist: str, numbers: dict[str, float]
) -> Latency | None:
    if dist == "lognormal":
        if not 0 < numbers["median"] < numbers["p99"]:
            problems.add(
                join(path, "p99"),
                numbers["p99"],
                f"a p99 > median ({numbers['median']:g}) and a median > 0",
            )
            return None
        return Latency("lognormal", numbers["median"], numbers["p99"])
    if dist == "uniform":
        if numbers["high"] < numbers["low"]:
            problems.add(
                join(path, "high"), numbers["high"], f"a number >= low ({numbers['low']:g})"
            )
            return None
        middle = (numbers["low"] + numbers["high"]) / 2
        return Latency("uniform", middle, low=numbers["low"], high=numbers["high"])
    return Latency("fixed", numbers["median"])


def _windows(
    problems: Problems, path: str, value: object, read: Callable[..., Any]
) -> tuple[Any, ...] | None:
    if not isinstance(value, list):
        problems.add(path, value, "a list of tables such as [{ start = 120, end = 300 }]")
        return None
    found = [read(problems, join(path, i), entry) for i, entry in enumerate(value)]
    return None if None in found else tuple(found)


def _window(
    problems: Problems, path: str, value: object, extra: tuple[str, ...]
) -> dict[str, Any] | None:
    table = problems.table(path, value, ("start", "end", *extra))
    if not isinstance(value, Mapping):
        return None
    before = len(problems.found)
    for key in ("start", "end"):
        if key not in table:
            problems.missing(join(path, key), "seconds from the start, a finite number >= 0")
        else:
            table[key] = number_in(problems, join(path, key), table[key], 0)
    if len(problems.found) > before or len(table) != len(value):
        return None
    if table["end"] <= table["start"]:
        problems.add(
            join(path, "end"),
            value["end"],
            f"a time after start ({table['start']:g}): windows are [start, end)",
        )
        return None
    return table


def _outage(problems: Problems, path: str, value: object) -> Outage | None:
    table = _window(problems, path, value, ("mode",))
    if table is None:
        return None
    mode = table.get("mode", "error")
    if mode not in ("error", "timeout"):
        problems.add(join(path, "mode"), mode, "'error' (503 at once) or 'timeout' (no answer)")
        return None
    return Outage(table["start"], table["end"], mode)


def _burst(problems: Problems, path: str, value: object) -> RateLimitBurst | None:
    table = _window(problems, path, value, ("retry_after",))
    if table is None:
        return None
    retry_after = table.get("retry_after", 10.0)
    if retry_after is not None:
        retry_after = number_in(problems, join(path, "retry_after"), retry_after, 0, strict=True)
        if retry_after is None:
            return None
    return RateLimitBurst(table["start"], table["end"], retry_after)


def _quota(problems: Problems, path: str, value: object) -> Quota | None:
    table = problems.table(path, value, ("per_minute", "per_day"))
    if not isinstance(value, Mapping) or len(table) != len(value):
        return None
    limits = {k: problems.check(join(path, k), v, count) for k, v in table.items()}
    if None in limits.values():
        return None
    return Quota(**limits)


def _check_timeouts(
    problems: Problems, retry: RetryPolicy, providers: tuple[ProviderScenario, ...] | None
) -> None:
    if retry.attempt_timeout is not None or retry.request_timeout is not None:
        return
    for index, provider in enumerate(providers or ()):
        for j, outage in enumerate(provider.outages):
            if outage.mode == "timeout":
                problems.add(
                    join(join(join("providers", index), "outages"), j) + ".mode",
                    "timeout",
                    "'error', or set retry.attempt_timeout or "
                    "retry.request_timeout: a provider that never answers needs one",
                )
                return
