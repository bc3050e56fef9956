"""to_mermaid: a policy's machine as a Mermaid ``stateDiagram-v2``.

How the diagram reads:

- ``[*] --> closed``: every breaker starts CLOSED.
- One edge per transition and source state, in the policy's table order, labelled
  ``name (REASON)``, or ``name (REASON_A, REASON_B)`` when its condition may give several
  reasons (the built-in ``trip``). Mermaid ends a label at a colon, hence the parentheses.
- Transitions from ANY (the operator's ``force_open``, ``disable`` and ``reset``, and any of the
  policy's own) are drawn once, from a dashed pseudo-state labelled "any state", instead of once
  from every state.
- Each state is coloured by its ProviderHealth (``classDef`` healthy, degraded, unhealthy,
  unknown). A policy's own states carry a description: custom, whether they admit calls, and
  "no health declared" when they name no ProviderHealth (they are drawn as unknown).

The output is deterministic: the same policy always gives the same text.
"""

from __future__ import annotations

from collections.abc import Iterator

from statemachines._builtin_conditions import (
    ConsecutiveFailures,
    DeadlinePassed,
    FailureRate,
    HealthCheckPassed,
    HealthChecksFailed,
    ProbesFailed,
    ProbesSucceeded,
    Signalled,
    SlowCallRate,
    TimedOut,
)
from statemachines._conditions import AllOf, AnyOf, Condition
from statemachines._policy import ANY, BreakerPolicy, Transition
from statemachines._states import BreakerState, CustomState, FailoverReason, ProviderHealth, State

__all__ = ["to_mermaid"]

_R = FailoverReason
_INDENT = "    "
_ANY_LABEL = "any state"
_STYLES = {
    ProviderHealth.HEALTHY: "fill:#d4edda,stroke:#2e7d32,color:#1b4d20",
    ProviderHealth.DEGRADED: "fill:#fff3cd,stroke:#b8860b,color:#5c4300",
    ProviderHealth.UNHEALTHY: "fill:#f8d7da,stroke:#c62828,color:#6b1414",
    ProviderHealth.UNKNOWN: "fill:#e2e3e5,stroke:#6c757d,color:#343a40",
}
_ANY_STYLE = "fill:#ffffff,stroke:#6c757d,stroke-dasharray:4 4"
# Words Mermaid's state-diagram lexer reads as keywords (it also reads any id that starts with
# "default" as the keyword "default"): such states get an id prefixed with "s_".
_RESERVED = frozenset(
    {"accdescr", "acctitle", "class", "classdef", "default", "direction", "end", "hide"}
    | {"note", "scale", "state", "statediagram"}
)
_FIXED: dict[type[Condition], FailoverReason] = {
    ConsecutiveFailures: _R.CONSECUTIVE_FAILURES,
    FailureRate: _R.ERROR_RATE,
    SlowCallRate: _R.SLOW_CALLS,
    HealthChecksFailed: _R.HEALTH_CHECK_FAILED,
    HealthCheckPassed: _R.HEALTH_CHECK_PASSED,
    DeadlinePassed: _R.COOLDOWN_ELAPSED,
    TimedOut: _R.PROBE_TIMEOUT,
    ProbesFailed: _R.PROBE_FAILED,
    ProbesSucceeded: _R.PROBES_SUCCEEDED,
}


def to_mermaid(policy: BreakerPolicy) -> str:
    """A Mermaid ``stateDiagram-v2`` of ``policy``'s states and transitions.

    Args:
        policy: The policy to draw.

    Returns:
        The diagram's text, ending with a newline; paste it into a ``mermaid`` code block.
    """
    ids = _ids(policy)
    table = policy.transition_table()
    lines = ["stateDiagram-v2", f"[*] --> {ids[BreakerState.CLOSED]}"]
    lines += [_declaration(s, ids[s]) for s in policy.all_states() if ids[s] != s.value]
    lines += [f"{ids[s]}: {_description(s)}" for s in policy.states]
    if any(t.source == ANY for t in table):
        lines.append(f'state "{_ANY_LABEL}" as {ids[ANY]}')
    lines += [f"{src} --> {ids[t.dest]}: {_label(t)}" for t in table for src in _ids_of(t, ids)]
    lines += [f"classDef {h.value} {style}" for h, style in _STYLES.items()]
    lines.append(f"classDef anystate {_ANY_STYLE}")
    lines += _classes(policy, ids)
    return lines[0] + "\n" + "".join(f"{_INDENT}{line}\n" for line in lines[1:])


def _ids(policy: BreakerPolicy) -> dict[State | str, str]:
    """A Mermaid id per state (its value unless Mermaid reserves it), and one for ANY."""
    used: set[str] = set()
    ids: dict[State | str, str] = {}
    for key, name in [*((s, s.value) for s in policy.all_states()), (ANY, "any_state")]:
        candidate = f"s_{name}" if name in _RESERVED or name.startswith("default") else name
        while candidate in used:
            candidate += "_"
        used.add(candidate)
        ids[key] = candidate
    return ids


def _ids_of(transition: Transition, ids: dict[State | str, str]) -> list[str]:
    if transition.source == ANY:
        return [ids[ANY]]
    return [ids[s] for s in transition.source]


def _declaration(state: State, mermaid_id: str) -> str:
    return f'state "{state.value}" as {mermaid_id}'


def _description(state: CustomState) -> str:
    admits = "admits calls" if state.admits_calls else "rejects calls"
    missing = ", no health declared" if state.declared_health is None else ""
    return f"custom state, {admits}{missing}"


def _label(transition: Transition) -> str:
    reasons = dict.fromkeys(r or transition.reason for r in _reasons(transition.condition))
    return f"{transition.name} ({', '.join(r.name for r in reasons)})"


def _reasons(condition: Condition | None) -> Iterator[FailoverReason | None]:
    """The reasons ``condition`` may give; None for "the transition's own" (True, or unknown)."""
    if isinstance(condition, AnyOf):
        for part in condition.parts:
            yield from _reasons(part)
    elif isinstance(condition, AllOf):
        yield from _first_reasons(condition.parts)
    elif isinstance(condition, Signalled):
        yield condition.reason
    else:
        yield _FIXED.get(type(condition)) if condition is not None else None


def _first_reasons(parts: tuple[Condition, ...]) -> Iterator[FailoverReason | None]:
    """``a & b`` gives a's reason, or b's when a only says True."""
    for part in parts:
        reasons = list(_reasons(part))
        yield from (r for r in reasons if r is not None)
        if None not in reasons:
            return
    yield None


def _classes(policy: BreakerPolicy, ids: dict[State | str, str]) -> Iterator[str]:
    for health in ProviderHealth:
        members = [ids[s] for s in policy.all_states() if s.health is health]
        if members:
            yield f"class {','.join(members)} {health.value}"
    if ANY in ids and any(t.source == ANY for t in policy.transition_table()):
        yield f"class {ids[ANY]} anystate"
