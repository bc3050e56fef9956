"""The Coordinator's argument checks: each bad argument is one ConfigurationError naming what
is wrong and what would be right."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from failover._base.numbers import in_range
from failover.health import HealthCheckConfig
from failover.provider import Provider
from failover.ratelimit import RateLimit
from statemachines import BreakerPolicy, BreakerState, ConfigurationError, Stimulus

if TYPE_CHECKING:
    from failover._coordinator.slot import Slot

__all__ = [
    "PROBE_TRIGGER",
    "check_can_probe",
    "check_fallbacks",
    "check_names",
    "check_providers",
    "check_values",
    "check_weights",
    "hedge_after_of",
    "instance",
    "unserved",
]

T = TypeVar("T")

PROBE_TRIGGER = "probe_now"
"""The built-in MANUAL transition OPEN -> HALF_OPEN that ``all_down="probe"`` fires."""


def check_providers(providers: list[Provider]) -> list[str]:
    if not providers:
        raise ConfigurationError("Coordinator needs at least one provider, got none")
    return _named(providers, [], "provider", "; each provider needs its own name")


def check_fallbacks(fallbacks: list[Provider], names: list[str]) -> list[str]:
    """The fallbacks' names: each a non-empty str, unique across ``names`` (the primaries')
    and the fallbacks."""
    where = " among the fallbacks; names are unique across providers and fallbacks"
    return _named(fallbacks, names, "fallback", where)


def _named(items: list[Provider], taken: list[str], kind: str, where: str) -> list[str]:
    """The names of ``items``, each a non-empty str and not in ``taken`` nor repeated."""
    seen = list(taken)
    for provider in items:
        name = getattr(provider, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"every {kind} needs a non-empty str name, got {provider!r} (name={name!r})"
            )
        if name in seen:
            raise ConfigurationError(f"duplicate provider name {name!r}{where} (have {seen!r})")
        seen.append(name)
    return seen[len(taken) :]


def check_can_probe(name: str, policy: BreakerPolicy) -> None:
    """all_down="probe" fires PROBE_TRIGGER: the policy must keep it as OPEN -> HALF_OPEN."""
    for t in policy.transition_table():
        if t.name == PROBE_TRIGGER and t.on is Stimulus.MANUAL and t.leaves(BreakerState.OPEN):
            if t.dest is BreakerState.HALF_OPEN:
                return
            break
    raise ConfigurationError(
        f'all_down="probe" fires the MANUAL transition {PROBE_TRIGGER!r} (OPEN -> HALF_OPEN), '
        f"but the policy of provider {name!r} has no such transition from OPEN into HALF_OPEN; "
        "keep the built-in one (leave it out of removed_transitions) or choose "
        "all_down='fail_fast' or 'wait'"
    )


def hedge_after_of(value: object) -> float | None:
    if value is None:
        return None
    if not in_range(value, 0, math.inf, strict_low=True):
        raise ConfigurationError(
            f"hedge_after must be None (no hedging) or a finite number of seconds > 0, "
            f"got {value!r}"
        )
    return float(value)


def check_names(
    arg: str, mapping: Mapping[str, object], names: list[str], fallbacks: Sequence[str] = ()
) -> None:
    """Every key of ``mapping`` names a provider or one of ``fallbacks``."""
    unknown = sorted(set(mapping) - set(names) - set(fallbacks))
    if unknown:
        also = f" and the fallbacks are {list(fallbacks)!r}" if fallbacks else ""
        raise ConfigurationError(
            f"{arg} names unknown providers {unknown!r}; the providers are {names!r}{also}"
        )


def check_weights(weights: Mapping[str, object], names: list[str], fallbacks: list[str]) -> None:
    """``weights`` names primaries only: fallbacks are never ranked, so a weight means nothing."""
    ranked = sorted(set(weights) & set(fallbacks))
    if ranked:
        raise ConfigurationError(
            f"weights names fallbacks {ranked!r}; fallbacks are never ranked by the strategy "
            f"(they serve in priority order), give weights to the providers {names!r} only"
        )
    check_names("weights", weights, names)


def check_values(
    policy: BreakerPolicy | None,
    policies: Mapping[str, object],
    rate_limits: Mapping[str, object],
    priorities: Mapping[str, object],
    weights: Mapping[str, object],
    health_checks: Mapping[str, object] | None = None,
) -> None:
    instance(policy, BreakerPolicy, "policy", "BreakerPolicy(max_consecutive_failures=3)")
    for name, value in (health_checks or {}).items():
        instance(value, HealthCheckConfig, f"health_checks[{name!r}]", "HealthCheckConfig(...)")
    for name, value in policies.items():
        instance(value, BreakerPolicy, f"policies[{name!r}]", "BreakerPolicy(...)")
    for name, value in rate_limits.items():
        instance(value, RateLimit, f"rate_limits[{name!r}]", "RateLimit(per_minute=60)")
    for arg, mapping, minimum in (("priorities", priorities, None), ("weights", weights, 0)):
        for name, value in mapping.items():
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or value != value  # NaN
                or (minimum is not None and not 0 < value < float("inf"))
            ):
                wanted = "a finite number > 0" if minimum is not None else "a number"
                raise ConfigurationError(f"{arg}[{name!r}] must be {wanted}, got {value!r}")


def instance(value: Any, kind: type[T], arg: str, example: str) -> T:
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise ConfigurationError(
            f"{arg} must be a {kind.__name__}, got {value!r}; e.g. {arg}={example}"
        )
    return value


# by kind: failover._coordinator.kinds.CALL...
_CAPABILITIES = ("call", "generate", "stream", "search")


def unserved(slots: Sequence[Slot], kind: int) -> ConfigurationError | None:
    """The error for a request of ``kind`` that no provider nor fallback serves (None if one
    does): it names the capability and what each provider serves. Called only where such a
    request already fails, so a coordinator that serves search alone is fine until asked for
    generate."""
    if any(slot.serves[kind] for slot in slots):
        return None
    wanted = _CAPABILITIES[kind]
    served = "; ".join(f"{slot.name} serves {_served_by(slot)}" for slot in slots)
    return ConfigurationError(
        f"no provider serves {wanted}: none has a callable {wanted}() method; {served}. "
        f"Ask for what they serve, or add a provider with {wanted}()"
    )


def _served_by(slot: Slot) -> str:
    """What ``slot``'s provider serves besides ``call`` (which every provider serves)."""
    what = [c for c, has in zip(_CAPABILITIES, slot.serves, strict=True) if has][1:]
    return " and ".join(what) if what else "only call (no generate, stream nor search)"
