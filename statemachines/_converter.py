"""The project's one cattrs Converter, and JSON for FailoverEvents.

States are written as their values ("half_open"); a policy's own states are read back through
the policy that declares them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, get_origin

import cattrs

from statemachines._errors import ConfigurationError
from statemachines._events import FailoverEvent
from statemachines._policy import BreakerPolicy
from statemachines._states import BreakerState, CustomState, State

__all__ = [
    "converter",
    "event_from_json",
    "event_to_json",
    "events_from_jsonl",
    "events_to_jsonl",
    "make_converter",
]


def make_converter(policy: BreakerPolicy | None = None) -> cattrs.Converter:
    """A converter that knows the states of ``policy`` (the built-in ones when None)."""
    conv = cattrs.Converter()
    states = {s.value: s for s in (policy or BreakerPolicy()).all_states()}

    def structure_state(value: Any, _: Any) -> State:
        try:
            return states[value]
        except (KeyError, TypeError):
            raise ConfigurationError(
                f"unknown state {value!r}; this policy declares {sorted(states)!r} "
                "(pass the policy that declares custom states)"
            ) from None

    for kind in (BreakerState, CustomState):
        conv.register_unstructure_hook(kind, lambda s: s.value)
    conv.register_structure_hook_func(
        lambda t: t in (State, BreakerState, CustomState), structure_state
    )
    conv.register_structure_hook_func(
        _is_mapping,
        lambda v, _: dict(v) if isinstance(v, Mapping) else _bad_details(v),
    )
    return conv


def _is_mapping(t: Any) -> bool:
    return bool(get_origin(t) is Mapping)


def _bad_details(value: object) -> dict[str, Any]:
    raise ConfigurationError(f"FailoverEvent.details must be a JSON object, got {value!r}")


converter = make_converter()
"""The converter for everything that uses only built-in states."""


def event_to_json(event: FailoverEvent) -> str:
    """One event as a compact, strict JSON object (a detail that is not a finite number is
    written as null: JSON has no NaN nor Infinity)."""
    data = converter.unstructure(event)
    data["details"] = {k: _finite(v) for k, v in data["details"].items()}
    return json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def event_from_json(text: str, policy: BreakerPolicy | None = None) -> FailoverEvent:
    """Read back an event written by ``event_to_json``; ``policy`` resolves custom states."""
    conv = converter if policy is None else make_converter(policy)
    try:
        return conv.structure(json.loads(text), FailoverEvent)
    except cattrs.BaseValidationError as exc:
        causes = "; ".join(str(e) for e in _leaves(exc))
        raise ConfigurationError(f"not a FailoverEvent in JSON: {text[:200]!r}: {causes}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"not a FailoverEvent in JSON: {text[:200]!r} ({exc})") from exc


def _leaves(exc: BaseException) -> list[BaseException]:
    """The innermost errors of a (nested) cattrs exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def events_to_jsonl(events: Iterable[FailoverEvent]) -> str:
    """Events as JSON lines, one per event."""
    return "".join(event_to_json(e) + "\n" for e in events)


def events_from_jsonl(text: str, policy: BreakerPolicy | None = None) -> list[FailoverEvent]:
    """Read back ``events_to_jsonl`` output."""
    return [event_from_json(line, policy) for line in text.splitlines() if line.strip()]
