"""verify_policy: an exhaustive, bounded check of a policy's machine before it ships.

For every state and every stimulus that can reach it, each automatic transition leaving the state
on that stimulus is evaluated on a finite grid of concrete sample contexts, built from the
boundary values of the policy's thresholds and of the built-in conditions its transitions compose
(see ``statemachines/_verify_grid.py`` for the grid and the combinations it leaves out). From which
transitions can hold where, the state graph is built and checked for the defects of
``DefectKind``. MANUAL transitions have no condition: an operator can always fire them.

Each sample is a context the machine can reach, so a transition that holds on one can really
fire. The converse is bounded: a plain-callable condition may hold only on values off the grid.
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from collections.abc import Iterable, Iterator

import attrs

from statemachines._graph import Edge, Graph, Node, graph_for
from statemachines._policy import ANY, BreakerPolicy, Transition
from statemachines._states import BreakerState, CustomState, State, Stimulus
from statemachines._verify_grid import Grid, Sample

__all__ = ["Defect", "DefectKind", "VerificationReport", "verify_policy"]

_S, _CLOSED = Stimulus, BreakerState.CLOSED


class DefectKind(enum.Enum):
    """What ``verify_policy`` can find wrong with a policy."""

    UNREACHABLE_STATE = "unreachable_state"
    NO_WAY_BACK = "no_way_back"
    AMBIGUOUS = "ambiguous"
    MISSING_HEALTH = "missing_health"
    NEVER_FIRES = "never_fires"
    CONDITION_ERROR = "condition_error"


@attrs.frozen
class Defect:
    """One thing wrong with a policy.

    Attributes:
        kind: Which kind of defect.
        message: What is wrong, naming the states and transitions, and what to do about it.
        states: The values of the states involved.
        transitions: The names of the transitions involved.
    """

    kind: DefectKind
    message: str
    states: tuple[str, ...] = ()
    transitions: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.kind.name}: {self.message}"


@attrs.frozen
class VerificationReport:
    """What ``verify_policy`` found.

    Attributes:
        policy: The policy verified.
        defects: Every defect found, grouped by kind in ``DefectKind`` order.
        samples: How many sample contexts were explored.
        reachable: The states that some transitions, automatic or manual, reach from CLOSED.
    """

    policy: BreakerPolicy = attrs.field(repr=False)
    defects: tuple[Defect, ...]
    samples: int
    reachable: tuple[State, ...]

    @property
    def ok(self) -> bool:
        """True when no defect was found."""
        return not self.defects

    def of_kind(self, kind: DefectKind) -> tuple[Defect, ...]:
        """The defects of one kind."""
        return tuple(d for d in self.defects if d.kind is kind)

    def __str__(self) -> str:
        if self.ok:
            return f"policy verified: {self.samples} samples, no defect"
        return "\n".join(map(str, self.defects))


def verify_policy(policy: BreakerPolicy) -> VerificationReport:
    """Explore ``policy``'s machine exhaustively (bounded) and report its defects.

    Args:
        policy: The policy to verify.

    Returns:
        The report; ``report.ok`` when no defect was found, ``str(report)`` one line per defect.
    """
    graph = graph_for(policy)
    explored = _Exploration()
    grid = Grid(policy)
    for state in graph.states:
        node = graph.nodes[state]
        for stimulus, edges in _stimuli(node):
            explored.explore(state, edges, grid.samples(node, stimulus))
    auto, manual = _adjacency(graph, explored)
    reachable = _paths(_CLOSED, _merge(auto, manual))
    defects = [
        *_unreachable(graph, reachable),
        *_no_way_back(graph, auto),
        *explored.ambiguous.values(),
        *_missing_health(policy),
        *_never_fires(graph, explored),
        *explored.errors.values(),
    ]
    return VerificationReport(
        policy=policy,
        defects=tuple(defects),
        samples=explored.samples,
        reachable=tuple(s for s in graph.states if s in reachable),
    )


def _stimuli(node: Node) -> Iterator[tuple[Stimulus, tuple[Edge, ...]]]:
    """The stimuli ``node``'s state reacts to, each with the transitions it evaluates there."""
    if node.outcome and (node.records or node.probing):  # elsewhere outcomes are not recorded
        yield _S.OUTCOME, node.outcome
    if node.tick:
        yield _S.TICK, node.tick
    if node.health_checks:
        yield _S.HEALTH_CHECK, node.health_checks


# --- the exploration -----------------------------------------------------------------------


class _Exploration:
    """What the samples showed: where each transition holds, overlaps, errors."""

    def __init__(self) -> None:
        self.samples = 0
        self.tried: dict[Edge, int] = {}
        self.held: dict[Edge, set[State]] = {}
        self.ambiguous: dict[tuple[State, Edge, Edge], Defect] = {}
        self.errors: dict[Edge, Defect] = {}

    def explore(self, state: State, edges: tuple[Edge, ...], samples: Iterable[Sample]) -> None:
        """Evaluate every transition of ``edges`` (leaving ``state``) on every sample."""
        held: set[Edge] = set()
        count = 0
        for sample in samples:
            count += 1
            holding = [edge for edge in edges if self._holds(edge, sample)]
            if holding:
                held.update(holding)
                if len(holding) > 1:
                    self._overlaps(state, holding, sample)
        self.samples += count
        for edge in edges:
            self.tried[edge] = self.tried.get(edge, 0) + count
        for edge in held:
            self.held.setdefault(edge, set()).add(state)

    def _overlaps(self, state: State, holding: list[Edge], sample: Sample) -> None:
        for first, second in itertools.combinations(holding, 2):
            key = (state, first, second)
            if first.transition.dest != second.transition.dest and key not in self.ambiguous:
                self.ambiguous[key] = _ambiguous(first.transition, second.transition, sample)

    def _holds(self, edge: Edge, sample: Sample) -> bool:
        if edge.signal is not None and edge.signal is not sample.signal:
            return False  # the machine skips it, as here, without calling it
        if edge.check is None:
            return True
        try:
            return bool(edge.check(sample))
        except Exception as exc:  # a user's callable: report it, do not crash
            self.errors.setdefault(edge, _condition_error(edge.transition, sample, exc))
            return False


def _ambiguous(first: Transition, second: Transition, sample: Sample) -> Defect:
    state = sample.state
    return Defect(
        DefectKind.AMBIGUOUS,
        f"transitions {first.name!r} ({state.value} -> {first.dest.value}) and {second.name!r} "
        f"({state.value} -> {second.dest.value}) both hold on {first.on.name} in "
        f"{state.value!r}, e.g. with {sample.figures()}; only {first.name!r}, the first in "
        "table order, would fire: make their conditions exclusive (add `& ~other` to one) "
        "or give them the same destination",
        states=_values(state, first.dest, second.dest),
        transitions=(first.name, second.name),
    )


def _condition_error(transition: Transition, sample: Sample, exc: Exception) -> Defect:
    return Defect(
        DefectKind.CONDITION_ERROR,
        f"the condition of transition {transition.name!r} ({transition.condition!r}) raised "
        f"{exc!r} with {sample.figures()}; a condition must return a FailoverReason, True, "
        "False or None for every context, reading only the fields of ConditionContext",
        states=(sample.state.value,),
        transitions=(transition.name,),
    )


# --- the graph -----------------------------------------------------------------------------

_Adjacency = dict[State, list[tuple[Transition, State]]]


def _adjacency(graph: Graph, explored: _Exploration) -> tuple[_Adjacency, _Adjacency]:
    """The automatic transitions that can fire, and the manual ones, per source state."""
    auto: _Adjacency = {s: [] for s in graph.states}
    manual: _Adjacency = {s: [] for s in graph.states}
    for edge in graph.edges:
        t = edge.transition
        for state in graph.states:
            if t.on is _S.MANUAL and t.leaves(state):
                manual[state].append((t, t.dest))
            elif state in explored.held.get(edge, ()):
                auto[state].append((t, t.dest))
    return auto, manual


def _merge(first: _Adjacency, second: _Adjacency) -> _Adjacency:
    return {state: first[state] + second[state] for state in first}


def _reversed(adjacency: _Adjacency) -> _Adjacency:
    out: _Adjacency = {state: [] for state in adjacency}
    for state, edges in adjacency.items():
        for transition, dest in edges:
            out[dest].append((transition, state))
    return out


def _paths(start: State, adjacency: _Adjacency) -> dict[State, tuple[Transition, ...]]:
    """Every state reachable from ``start``, with the transitions of a shortest path to it."""
    paths: dict[State, tuple[Transition, ...]] = {start: ()}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for transition, dest in adjacency[state]:
            if dest not in paths:
                paths[dest] = (*paths[state], transition)
                queue.append(dest)
    return paths


def _unreachable(graph: Graph, reachable: Iterable[State]) -> Iterator[Defect]:
    reached = set(reachable)
    for state in (s for s in graph.states if s not in reached):
        entering = tuple(e.transition.name for e in graph.edges if e.transition.dest == state)
        declared = f" (declared: {', '.join(entering)})" if entering else ""
        remedy = (
            "remove it from BreakerPolicy.states"
            if isinstance(state, CustomState)
            else "keep the built-in transitions into it (BreakerPolicy.removed_transitions)"
        )
        yield Defect(
            DefectKind.UNREACHABLE_STATE,
            f"state {state.value!r} cannot be reached from 'closed': no transition that can "
            f"fire leads into it from a reachable state{declared}; add a transition into it, "
            f"or {remedy}",
            states=(state.value,),
            transitions=entering,
        )


def _no_way_back(graph: Graph, auto: _Adjacency) -> Iterator[Defect]:
    entered = _paths(_CLOSED, auto)
    back = _paths(_CLOSED, _reversed(auto))
    for state in (s for s in graph.states if s in entered and s not in back):
        path = entered[state]
        steps = "".join(f" -> {t.dest.value} ({t.name})" for t in path)
        yield Defect(
            DefectKind.NO_WAY_BACK,
            f"state {state.value!r} is entered automatically (closed{steps}) but no automatic "
            "transition leads from it back to 'closed': "
            "only an operator can get the breaker out; add a transition out of it, e.g. on "
            "Stimulus.TICK with deadline_passed() (and a CustomState duration)",
            states=(state.value,),
            transitions=tuple(t.name for t in path),
        )


def _missing_health(policy: BreakerPolicy) -> Iterator[Defect]:
    for state in (s for s in policy.states if s.declared_health is None):
        yield Defect(
            DefectKind.MISSING_HEALTH,
            f"custom state {state.value!r} declares no ProviderHealth (it reports UNKNOWN at run "
            f"time); declare one: CustomState({state.value!r}, health=ProviderHealth.DEGRADED, "
            "...) or HEALTHY, UNHEALTHY, UNKNOWN",
            states=(state.value,),
        )


def _never_fires(graph: Graph, explored: _Exploration) -> Iterator[Defect]:
    for edge in graph.edges:
        t = edge.transition
        if t.on is _S.MANUAL or edge in explored.held or edge in explored.errors:
            continue
        sources = tuple(s for s in graph.states if t.leaves(s))
        tried = explored.tried.get(edge, 0)
        why = (
            f"its condition {t.condition!r} holds on none of the {tried} samples explored; "
            "check it against the policy's thresholds, or remove the transition"
            if tried
            else f"no outcome is ever recorded in {', '.join(_values(*sources))} (no call is "
            "admitted there, or nothing is recorded), so it is never evaluated; use "
            "on=Stimulus.TICK or Stimulus.HEALTH_CHECK"
        )
        yield Defect(
            DefectKind.NEVER_FIRES,
            f"transition {t.name!r} ({_route(t)} on {t.on.name}) can never fire: {why}",
            states=_values(*sources),
            transitions=(t.name,),
        )


def _route(transition: Transition) -> str:
    source = transition.source
    origin = "any state" if source == ANY else ", ".join(_values(*source))
    return f"{origin} -> {transition.dest.value}"


def _values(*states: State) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.value for s in states))
