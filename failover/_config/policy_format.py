"""Policies in TOML: the ``[policy]`` table of a policy file or of a scenario.

The thresholds and durations are BreakerPolicy's fields, read and checked exactly as the
per-provider ``policy`` table of the settings (``failover.settings``); on top of those, a policy
file can give what settings leave to code: ``trip_condition``, custom ``states`` and
``transitions``, whose conditions are expressions over the built-in condition atoms::

    [policy]
    open_duration = 10
    window = { size = 50 }
    trip_condition = "consecutive_failures(5) | failure_rate(0.5, min_calls=20)"

    [[policy.states]]
    name = "throttled"
    health = "degraded"        # healthy, degraded, unhealthy or unknown; omit for none
    admits_calls = false
    duration = 5

    [[policy.transitions]]
    name = "unthrottle"
    source = "throttled"       # a state, a list of states, or "*" (any state)
    dest = "closed"
    reason = "cooldown_elapsed"
    on = "tick"                # outcome (default), tick, health_check or manual
    condition = "deadline_passed()"
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from failover._config.checks import POLICY_FIELD_KEYS, checked_policy, policy_kwargs
from failover._config.expression import CONDITION_ATOMS, EXPRESSION, condition_in
from failover._config.problems import PolicyFileError, Problems, join, read_toml
from statemachines import (
    ANY,
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    CustomState,
    FailoverReason,
    ProviderHealth,
    State,
    Stimulus,
    Transition,
)

T = TypeVar("T")

__all__ = [
    "CONDITION_ATOMS",
    "EXAMPLE_POLICIES",
    "POLICY_KEYS",
    "example_policy",
    "policy_file",
    "policy_from_mapping",
    "policy_from_toml",
]

EXAMPLE_POLICIES = ("broken", "default", "fast-recovery", "throttled")
"""The policy files shipped in the package (``failover/policies/NAME.toml``): the built-in policy,
a faster recovery, a custom THROTTLED state, and one with a defect of each kind."""


def example_policy(name: str) -> Path:
    """The path of a policy file shipped in the package, by name (one of EXAMPLE_POLICIES).

    Raises:
        ConfigurationError: ``name`` is not one of them.
    """
    stem = name.removesuffix(".toml")
    if stem not in EXAMPLE_POLICIES:
        raise ConfigurationError(
            f"no example policy named {name!r}; they are {', '.join(EXAMPLE_POLICIES)}"
        )
    return Path(str(resources.files("failover") / "policies" / f"{stem}.toml"))


def policy_file(text: str) -> Path:
    """A policy file named on a command line: the path when it exists, else the example policy
    of that name (``failover verify throttled`` works from any directory), else the path as
    given (reading it says it is missing)."""
    path = Path(text)
    if not path.exists() and text.removesuffix(".toml") in EXAMPLE_POLICIES:
        return example_policy(text)
    return path


_CODE_KEYS = ("trip_condition", "states", "transitions")
POLICY_KEYS: tuple[str, ...] = (*POLICY_FIELD_KEYS, *_CODE_KEYS)
"""The keys of a ``[policy]`` table."""

_STATE_KEYS = ("name", "health", "admits_calls", "duration")
_TRANSITION_KEYS = ("name", "source", "dest", "reason", "on", "condition")
_HEALTH = {h.value: h for h in ProviderHealth}
_REASONS = {r.value: r for r in FailoverReason}
_STIMULI = {s.value: s for s in Stimulus}


def policy_from_toml(path: str | os.PathLike[str]) -> BreakerPolicy:
    """The BreakerPolicy of the ``[policy]`` table of a TOML file.

    Raises:
        PolicyFileError: Listing every problem (unreadable file, bad TOML, unknown key, wrong
            type, impossible value), each with its key path and what would be accepted.
    """
    document = read_toml(path, PolicyFileError)
    problems = Problems()
    problems.table("", document, ("policy",))
    table = document.get("policy")
    if table is None:
        problems.missing("policy", "a [policy] table of BreakerPolicy fields (it may be empty)")
    policy = policy_in(problems, "policy", table if table is not None else {})
    if problems or policy is None:
        raise PolicyFileError(os.fspath(path), problems.found)
    return policy


def policy_from_mapping(
    data: Mapping[str, object], *, base: BreakerPolicy | None = None, source: str = "a mapping"
) -> BreakerPolicy:
    """The BreakerPolicy of a mapping shaped like a policy file's ``[policy]`` table.

    Args:
        data: The table.
        base: The policy whose fields the table changes (``BreakerPolicy()`` when None).
        source: Where the data came from, for the error.

    Raises:
        PolicyFileError: Listing every problem.
    """
    problems = Problems()
    policy = policy_in(problems, "policy", data, base)
    if problems or policy is None:
        raise PolicyFileError(source, problems.found)
    return policy


def policy_in(
    problems: Problems, path: str, value: object, base: BreakerPolicy | None = None
) -> BreakerPolicy | None:
    """Read a ``[policy]`` table at ``path``; None (with problems recorded) when it is bad."""
    table = problems.table(path, value, POLICY_KEYS)
    before = len(problems.found)
    plain = {k: v for k, v in table.items() if k not in _CODE_KEYS}
    checked = problems.check(path, plain, checked_policy) if plain else {}
    states = _states(problems, join(path, "states"), table.get("states", []))
    known: dict[str, State] = {s.value: s for s in BreakerState}
    known.update({s.value: s for s in states})
    transitions = _transitions(
        problems, join(path, "transitions"), table.get("transitions", []), known
    )
    changes: dict[str, Any] = dict(policy_kwargs(checked or {}))
    if "trip_condition" in table:
        changes["trip_condition"] = condition_in(
            problems, join(path, "trip_condition"), table["trip_condition"]
        )
    if len(problems.found) > before:
        return None
    if states:
        changes["states"] = tuple(states)
    if transitions:
        changes["transitions"] = tuple(transitions)
    try:
        return (base or BreakerPolicy()).with_changes(**changes)
    except ConfigurationError as exc:
        problems.add(path, None, f"a consistent policy: {exc}", shown=True)
        return None


def _entries(problems: Problems, path: str, value: object, what: str) -> list[Any]:
    if isinstance(value, list):
        return value
    problems.add(path, value, f"a list of {what} tables ([[{path}]] in TOML)")
    return []


def _states(problems: Problems, path: str, value: object) -> list[CustomState]:
    states = []
    for index, entry in enumerate(_entries(problems, path, value, "state")):
        where = join(path, index)
        table = problems.table(where, entry, _STATE_KEYS)
        if not isinstance(entry, Mapping):
            continue
        state = _state(problems, where, table)
        if state is not None:
            states.append(state)
    return states


def _state(problems: Problems, where: str, table: Mapping[str, Any]) -> CustomState | None:
    before = len(problems.found)
    if "name" not in table:
        problems.missing(join(where, "name"), "the state's name, a lowercase identifier")
    else:
        _try_state(problems, join(where, "name"), table["name"], name=table["name"])
    health = table.get("health")
    if health is not None and health not in _HEALTH:
        problems.add(join(where, "health"), health, f"one of {', '.join(map(repr, _HEALTH))}")
    admits = table.get("admits_calls", False)
    if not isinstance(admits, bool):
        problems.add(join(where, "admits_calls"), admits, "true or false")
    if "duration" in table:
        _try_state(problems, join(where, "duration"), table["duration"], duration=table["duration"])
    if len(problems.found) > before:
        return None
    return CustomState(
        table["name"],
        health=None if health is None else _HEALTH[health],
        admits_calls=admits,
        duration=table.get("duration"),
    )


def _try_state(problems: Problems, path: str, given: object, **fields: Any) -> None:
    """Record the problem CustomState finds with one field (the others valid)."""
    fields.setdefault("name", "probe")
    try:
        CustomState(fields.pop("name"), **fields)
    except ConfigurationError as exc:
        problems.add(path, given, _expected(exc))


def _transitions(
    problems: Problems, path: str, value: object, known: Mapping[str, State]
) -> list[Transition]:
    found = []
    for index, entry in enumerate(_entries(problems, path, value, "transition")):
        where = join(path, index)
        table = problems.table(where, entry, _TRANSITION_KEYS)
        if not isinstance(entry, Mapping):
            continue
        transition = _transition(problems, where, table, known)
        if transition is not None:
            found.append(transition)
    return found


def _transition(
    problems: Problems, where: str, table: Mapping[str, Any], known: Mapping[str, State]
) -> Transition | None:
    before = len(problems.found)
    for key in ("name", "source", "dest", "reason"):
        if key not in table:
            problems.missing(join(where, key), f"the transition's {key}")
    if len(problems.found) > before:
        return None
    states = f"a state: one of {', '.join(map(repr, known))}"
    source = _source(problems, join(where, "source"), table["source"], known, states)
    dest = known.get(table["dest"]) if isinstance(table["dest"], str) else None
    if dest is None:
        problems.add(join(where, "dest"), table["dest"], states)
    reason = _choice(problems, join(where, "reason"), table["reason"], _REASONS)
    on = _choice(problems, join(where, "on"), table.get("on", "outcome"), _STIMULI)
    condition = None
    if "condition" in table:
        condition = condition_in(problems, join(where, "condition"), table["condition"])
    elif on is not None and on is not Stimulus.MANUAL:
        problems.missing(join(where, "condition"), f"{EXPRESSION} (only on = 'manual' has none)")
    if len(problems.found) > before:
        return None
    try:
        return Transition(table["name"], source, dest, reason, on=on, condition=condition)  # type: ignore[arg-type]
    except ConfigurationError as exc:
        problems.add(join(where, "name"), table["name"], _expected(exc))
        return None


def _source(
    problems: Problems, path: str, value: object, known: Mapping[str, State], states: str
) -> Any:
    if value == ANY:
        return ANY
    names = value if isinstance(value, list) else [value]
    if names and all(isinstance(n, str) and n in known for n in names):
        return tuple(known[n] for n in names)  # type: ignore[index]
    problems.add(path, value, f"{states}; a list of them; or '*' for any state")
    return None


def _choice(problems: Problems, path: str, value: object, options: Mapping[str, T]) -> T | None:
    if isinstance(value, str) and value in options:
        return options[value]
    problems.add(path, value, f"one of {', '.join(map(repr, options))}")
    return None


def _expected(exc: ConfigurationError) -> str:
    text = str(exc)
    _, found, rest = text.partition(" must be ")
    return rest.rsplit(", got ", 1)[0] if found else text
