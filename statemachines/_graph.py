"""A policy compiled for the machine: per state, what it admits and which transitions to try.

The tables are built once per policy; the ``transitions`` library is configured from them with
enum states and a callable (no callback names, no wall-clock Timeout state).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

import transitions

from statemachines._cache import IdentityCache
from statemachines._conditions import ConditionFn
from statemachines._policy import ANY, BreakerPolicy, Transition
from statemachines._states import BreakerState, State, Stimulus

__all__ = ["Edge", "Graph", "Node", "graph_for"]

# `transitions` logs each transition at INFO ("Finished processing state ..."), several lines
# apiece; each of ours is already one FailoverEvent. Quiet it unless the application set that
# logger's level itself.
_TRANSITIONS_LOGGER = logging.getLogger("transitions.core")
if _TRANSITIONS_LOGGER.level == logging.NOTSET:
    _TRANSITIONS_LOGGER.setLevel(logging.WARNING)


class Edge:
    """A transition with its condition unpacked and its trigger id in the transitions machine."""

    __slots__ = ("check", "signal", "transition", "trigger")

    def __init__(self, transition: Transition, trigger: str) -> None:
        self.transition = transition
        self.trigger = trigger
        condition = transition.condition
        # compiled(): one call per evaluation on the hot path, not one per composed part.
        self.check: ConditionFn | None = None if condition is None else condition.compiled()
        # A condition that can only hold when the outcome carries this signal is skipped
        # without a call when it does not.
        self.signal = None if condition is None else condition.required_signal()


class Node:
    """What the machine needs to know, per state, on the hot path."""

    __slots__ = (
        "admits",
        "graph_state",
        "health",
        "health_checks",
        "manual",
        "outcome",
        "probing",
        "quiet_success",
        "records",
        "state",
        "tick",
    )

    def __init__(self, state: State, graph_state: enum.Enum, edges: list[Edge]) -> None:
        self.state = state
        self.graph_state = graph_state
        self.health = state.health
        self.admits = state.admits_calls
        self.probing = state is BreakerState.HALF_OPEN
        self.records = self.admits and state not in (BreakerState.DISABLED, BreakerState.HALF_OPEN)
        self.outcome = _on(edges, state, Stimulus.OUTCOME)
        # window sizes at which a plain success must be evaluated; None: after every outcome
        self.quiet_success = _success_boundaries(self.outcome)
        self.tick = _on(edges, state, Stimulus.TICK)
        self.health_checks = _on(edges, state, Stimulus.HEALTH_CHECK)
        self.manual = {e.transition.name: e for e in reversed(_on(edges, state, Stimulus.MANUAL))}


def _on(edges: list[Edge], state: State, stimulus: Stimulus) -> tuple[Edge, ...]:
    return tuple(e for e in edges if e.transition.on is stimulus and e.transition.leaves(state))


def _success_boundaries(edges: tuple[Edge, ...]) -> frozenset[int] | None:
    found: set[int] = set()
    for edge in edges:
        condition = edge.transition.condition
        boundaries = None if condition is None else condition.success_boundaries()
        if boundaries is None:
            return None
        found |= boundaries
    return frozenset(found)


class Graph:
    """A policy's states and transitions, compiled."""

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self.states = policy.all_states()
        self.enum = enum.Enum(  # type: ignore[misc]
            "BreakerGraph", [(s.value.upper(), s.value) for s in self.states]
        )
        self.edges = [Edge(t, f"t{i}_{t.name}") for i, t in enumerate(policy.transition_table())]
        self.nodes = {s: Node(s, self.enum(s.value), self.edges) for s in self.states}
        self.by_value = {s.value: s for s in self.states}

    def build_machine(
        self, model: object, initial: State, after: Callable[[transitions.EventData], None]
    ) -> transitions.Machine:
        """A ``transitions`` machine over ``model`` declaring every state and transition."""
        declared = [
            {
                "trigger": e.trigger,
                "source": "*"
                if e.transition.source == ANY
                else [self.nodes[s].graph_state for s in e.transition.source],
                "dest": self.nodes[e.transition.dest].graph_state,
                "after": after,
            }
            for e in self.edges
        ]
        return transitions.Machine(
            model=model,
            states=list(self.enum),
            initial=self.nodes[initial].graph_state,
            transitions=declared,
            auto_transitions=False,
            send_event=True,
        )


graph_for: IdentityCache[BreakerPolicy, Graph] = IdentityCache(Graph)
"""The compiled graph of a policy, built once per policy object."""
