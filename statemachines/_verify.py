"""verify_policy: an exhaustive, bounded check of a policy's machine before it ships.

For every state and every stimulus that can reach it, each automatic transition leaving the state
on that stimulus is evaluated on a finite grid of concrete sample contexts (``_Sample``, a
``ConditionContext``). The grid is built from the boundary values of the policy's thresholds and
of the built-in conditions its transitions compose (``failure_rate(0.8, min_calls=20)`` adds 20
and 0.8), each value and the one just below it:

- window (states that record outcomes: CLOSED and admitting custom states; elsewhere empty):
  calls in {0, 1, min_calls - 1, min_calls, the window's size (1000 for a time window)};
  failures and slow calls at 0, 1, all, and either side of each rate threshold and streak;
  consecutive failures at 0, 1 and either side of each streak count;
- time: now at entry, at each timeout after entry, at the deadline and after it; the deadline
  is OPEN's open_until, HALF_OPEN's decision time, a custom state's duration (or a Retry-After:
  both None and a deadline when it has no duration), None elsewhere;
- stimulus: OUTCOME (only where outcomes are recorded) with each outcome but IGNORED, a failure
  also with RATE_LIMITED (and a Retry-After) or AUTH_FAILED; TICK; HEALTH_CHECK passed (no
  failures in a row) or failed (1, n - 1 or n in a row);
- probes (HALF_OPEN only): admitted in {0, 1, max - 1, max}, failed and succeeded at the edges.

Combinations that the machine cannot reach are left out: the newest outcomes of a window are
its current streak (a streak outgrows the window only when it is full, or in a time window), a
recorded outcome is in the window and in its streak, finished probes never exceed admitted ones
and include the one just recorded. From which transitions can hold where, the state graph is
built and checked for the defects of ``DefectKind``. MANUAL transitions have no condition: an
operator can always fire them.

Each sample is a context the machine can reach, so a transition that holds on one can really
fire. The converse is bounded: a plain-callable condition may hold only on values off the grid.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TypeVar

import attrs

from statemachines._conditions import (
    Condition,
    _AllOf,
    _AnyOf,
    _ConsecutiveFailures,
    _FailureRate,
    _HealthChecksFailed,
    _Not,
    _ProbesFailed,
    _ProbesSucceeded,
    _SlowCallRate,
    _TimedOut,
)
from statemachines._graph import Edge, Graph, Node, graph_for
from statemachines._policy import ANY, BreakerPolicy, Transition
from statemachines._states import (
    BreakerState,
    CustomState,
    FailoverReason,
    Outcome,
    State,
    Stimulus,
)
from statemachines._window import CountWindow

__all__ = ["Defect", "DefectKind", "VerificationReport", "verify_policy"]

_S, _R, _CLOSED = Stimulus, FailoverReason, BreakerState.CLOSED
_ENTERED = 1000.0  # the samples' entered_at: a clock that has been running for a while
_LARGE_WINDOW = 1000  # "many calls" in a time window, which has no fixed size


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
    grid = _Grid(policy)
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


# --- the samples ---------------------------------------------------------------------------


@attrs.frozen
class _Sample:
    """One concrete context a condition is evaluated on (a ``ConditionContext``)."""

    policy: BreakerPolicy = attrs.field(repr=False)
    state: State
    stimulus: Stimulus
    now: float
    entered_at: float
    deadline: float | None
    outcome: Outcome | None
    signal: FailoverReason | None
    retry_after: float | None
    health_check_passed: bool | None
    calls: int
    failures: int
    slow_calls: int
    consecutive_failures: int
    consecutive_successes: int
    probes_admitted: int
    probes_succeeded: int
    probes_failed: int
    consecutive_health_failures: int

    @property
    def failure_rate(self) -> float:
        """failures / calls (0.0 when empty)."""
        return self.failures / self.calls if self.calls else 0.0

    @property
    def slow_call_rate(self) -> float:
        """slow_calls / calls (0.0 when empty)."""
        return self.slow_calls / self.calls if self.calls else 0.0

    def figures(self) -> str:
        """The sample's key figures, those that are set."""
        shown = [f"{self.state.value} on {self.stimulus.name}"]
        shown.append(f"now=entered_at+{self.now - self.entered_at:g}s")
        if self.deadline is not None:
            shown.append(f"deadline=entered_at+{self.deadline - self.entered_at:g}s")
        names = ("outcome", "signal", "retry_after", "health_check_passed")
        shown += [f"{n}={_show(getattr(self, n))}" for n in names if getattr(self, n) is not None]
        shown += [f"{n}={getattr(self, n)}" for n in _COUNTS if getattr(self, n)]
        return ", ".join(shown)


_COUNTS = (
    "calls",
    "failures",
    "slow_calls",
    "consecutive_failures",
    "consecutive_successes",
    "probes_admitted",
    "probes_succeeded",
    "probes_failed",
    "consecutive_health_failures",
)


def _show(value: object) -> str:
    return value.name if isinstance(value, enum.Enum) else repr(value)


_Window = tuple[int, int, int, int, int]  # calls, failures, slow, consecutive fail / success
_Probes = tuple[int, int, int]  # admitted, succeeded, failed
_Event = tuple[Outcome | None, FailoverReason | None, float | None, bool | None]
_C = TypeVar("_C", bound=Condition)


def _leaves(condition: Condition | None) -> Iterator[Condition]:
    if isinstance(condition, _AnyOf | _AllOf):
        for part in condition.parts:
            yield from _leaves(part)
    elif isinstance(condition, _Not):
        yield from _leaves(condition.inner)
    elif condition is not None:
        yield condition


def _around(values: Iterable[int], low: int, high: int) -> list[int]:
    """Each value and the one below it, clipped to [low, high], sorted, without repeats."""
    return sorted({v for x in values for v in (x - 1, x) if low <= v <= high})


class _Grid:
    """The boundary values of one policy, and the consistent samples made from them."""

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._harvest([c for t in policy.transition_table() for c in _leaves(t.condition)])
        window = policy.window
        if isinstance(window, CountWindow):
            self.size, self.overflow = window.size, False
        else:  # no fixed size: "many calls"; outcomes leave it while streaks go on
            self.size, self.overflow = max(_LARGE_WINDOW, *self.min_calls), True
        windows, probe_counts = self._windows(), self._probes()
        outcomes: tuple[Outcome | None, ...] = (None, *Outcome)
        self.window_cache = {o: [w for w in windows if _fits(w, o)] for o in outcomes}
        self.probe_cache = {o: [c for c in probe_counts if _probe_fits(c, o)] for o in outcomes}

    def _harvest(self, leaves: list[Condition]) -> None:
        """The policy's thresholds and those of the built-in conditions in its table."""
        p = self.policy
        rates, slow = _of(leaves, _FailureRate), _of(leaves, _SlowCallRate)
        self.min_calls = {p.minimum_calls, *(c.min_calls for c in rates)}
        self.min_calls |= {c.min_calls for c in slow}
        self.rates = {p.failure_rate_threshold, *(c.threshold for c in rates)}
        self.slow_rates = {p.slow_call_rate_threshold, *(c.threshold for c in slow)}
        streaks = (c.count for c in _of(leaves, _ConsecutiveFailures))
        self.streaks = {1, p.max_consecutive_failures, *streaks}
        health = {p.health_failures_to_trip, *(c.count for c in _of(leaves, _HealthChecksFailed))}
        self.health = _around([1, *health], 0, max(health))
        self.timeouts = {p.max_half_open_duration, *(c.seconds for c in _of(leaves, _TimedOut))}
        probes: list[_ProbesFailed | _ProbesSucceeded] = _of(leaves, _ProbesFailed)
        probes += _of(leaves, _ProbesSucceeded)
        self.probe_failures = {math.ceil(c.threshold * c.max_calls) for c in probes}
        self.probe_failures.add(math.ceil(p.failure_rate_threshold * p.half_open_max_calls))

    def _windows(self) -> list[_Window]:
        out: list[_Window] = []
        limit = max(self.size, *self.streaks)
        calls_values = {0, self.size, *_around([1, *self.min_calls], 0, self.size)}
        for calls in sorted(calls_values):
            failures = _around([1, calls, *self.streaks, *_ceil(self.rates, calls)], 0, calls)
            slow = _around([1, calls, *_ceil(self.slow_rates, calls)], 0, calls)
            streaks = _around(self.streaks, 0, limit)
            for f, s, cf in itertools.product(failures, slow, streaks):
                runs = {0, 1, calls - f} if cf == 0 else {0}  # consecutive successes
                out += [(calls, f, s, cf, cs) for cs in runs if self._consistent(calls, f, cf, cs)]
        return out

    def _consistent(self, calls: int, failures: int, cf: int, cs: int) -> bool:
        if (cf and cs) or (calls and not (cf or cs)):
            return False  # the latest outcome is a failure or a success, not both or neither
        if failures < min(cf, calls) or calls - failures < min(cs, calls):
            return False  # the window's newest outcomes are the streak
        return self.overflow or calls == self.size or max(cf, cs) <= calls

    def _probes(self) -> list[_Probes]:
        most = self.policy.half_open_max_calls
        out: list[_Probes] = []
        for admitted in _around([1, most], 0, most):
            for failed in _around([1, admitted, *self.probe_failures], 0, admitted):
                rest = admitted - failed
                out += [(admitted, s, failed) for s in _around([1, rest], 0, rest)]
        return out

    def _timings(self, state: State) -> list[tuple[float | None, float]]:
        out: list[tuple[float | None, float]] = []
        for deadline in self._deadlines(state):
            nows = {_ENTERED, *(_ENTERED + t for t in self.timeouts)}
            if deadline is not None:
                nows |= {deadline, deadline + 1.0}
            out += [(deadline, now) for now in sorted(nows)]
        return out

    def _deadlines(self, state: State) -> tuple[float | None, ...]:
        p = self.policy
        if state is BreakerState.OPEN:
            return (_ENTERED + p.open_duration,)
        if state is BreakerState.HALF_OPEN:
            return (_ENTERED + p.max_half_open_duration,)
        if isinstance(state, CustomState):
            if state.duration is not None:
                return (_ENTERED + state.duration,)
            return (None, _ENTERED + p.open_duration)  # a deadline only from a Retry-After
        return (None,)

    def _events(self, stimulus: Stimulus) -> list[_Event]:
        if stimulus is _S.HEALTH_CHECK:
            return [(None, None, None, True), (None, None, None, False)]
        if stimulus is not _S.OUTCOME:
            return [(None, None, None, None)]
        retry_after = self.policy.open_duration
        out: list[_Event] = []
        for o in (Outcome.SUCCESS, Outcome.SLOW_SUCCESS, Outcome.FAILURE, Outcome.SLOW_FAILURE):
            out.append((o, None, None, None))
            if o.failed:
                out += [(o, _R.RATE_LIMITED, retry_after, None), (o, _R.AUTH_FAILED, None, None)]
        return out

    def _health_failures(self, passed: bool | None) -> list[int]:
        if passed is None:  # no health check now: the count left by earlier ones
            return [0, self.health[-1]]
        return [n for n in self.health if n] if passed is False else [0]

    def samples(self, node: Node, stimulus: Stimulus) -> Iterator[_Sample]:
        """Every sample of ``node``'s state on ``stimulus``."""
        for deadline, now in self._timings(node.state):
            head = (self.policy, node.state, stimulus, now, _ENTERED, deadline)
            for event in self._events(stimulus):
                outcome, passed = event[0], event[3]
                windows = self.window_cache[outcome] if node.records else [(0, 0, 0, 0, 0)]
                probes = self.probe_cache[outcome] if node.probing else [(0, 0, 0)]
                grid = itertools.product(windows, probes, self._health_failures(passed))
                for w, p, chf in grid:
                    yield _Sample(*(head + event + w + p + (chf,)))


def _of(leaves: list[Condition], kind: type[_C]) -> list[_C]:
    return [c for c in leaves if isinstance(c, kind)]


def _ceil(rates: Iterable[float], calls: int) -> list[int]:
    return [math.ceil(r * calls) for r in rates]


def _fits(window: _Window, outcome: Outcome | None) -> bool:
    """Whether the window can be the one just after recording ``outcome``."""
    calls, _, slow, cf, cs = window
    if outcome is None:
        return True
    streak = cf if outcome.failed else cs
    return calls > 0 and streak > 0 and (slow > 0 if outcome.slow else slow < calls)


def _probe_fits(probes: _Probes, outcome: Outcome | None) -> bool:
    _, succeeded, failed = probes
    return outcome is None or (failed if outcome.failed else succeeded) > 0


def _stimuli(node: Node) -> Iterator[tuple[Stimulus, tuple[Edge, ...]]]:
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

    def explore(self, state: State, edges: tuple[Edge, ...], samples: Iterable[_Sample]) -> None:
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

    def _overlaps(self, state: State, holding: list[Edge], sample: _Sample) -> None:
        for first, second in itertools.combinations(holding, 2):
            key = (state, first, second)
            if first.transition.dest != second.transition.dest and key not in self.ambiguous:
                self.ambiguous[key] = _ambiguous(first.transition, second.transition, sample)

    def _holds(self, edge: Edge, sample: _Sample) -> bool:
        if edge.signal is not None and edge.signal is not sample.signal:
            return False  # the machine skips it, as here, without calling it
        if edge.check is None:
            return True
        try:
            return bool(edge.check(sample))
        except Exception as exc:  # a user's callable: report it, do not crash
            self.errors.setdefault(edge, _condition_error(edge.transition, sample, exc))
            return False


def _ambiguous(first: Transition, second: Transition, sample: _Sample) -> Defect:
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


def _condition_error(transition: Transition, sample: _Sample, exc: Exception) -> Defect:
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
