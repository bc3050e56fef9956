"""How a BreakerMachine moves (the base class of ``statemachines._machine.BreakerMachine``):
evaluating a state's transitions in order and firing the first that holds (its event, emitted
as the state changes: no state change without its event), entering a state (a new generation,
empty counts, the state's deadline), and adopting a state decided elsewhere (no event)."""

from __future__ import annotations

import random
from collections.abc import Callable

import transitions

from statemachines._durations import deadline_of, open_duration
from statemachines._errors import ConfigurationError, IllegalTransitionError
from statemachines._events import DetailValue, FailoverEvent
from statemachines._graph import Edge, Graph, Node
from statemachines._machine_view import MachineView
from statemachines._states import FailoverReason, State, Stimulus

__all__ = ["MachineMoves", "Model"]


class Model:
    """The object the ``transitions`` library moves between states."""

    state: object


class MachineMoves(MachineView):
    """Transitions, firing and adopting over the figures of MachineView (see the module
    docstring); the stimuli and the constructor are BreakerMachine's."""

    __slots__ = (
        "_evaluating",
        "_graph",
        "_machine",
        "_model",
        "_on_change",
        "_on_condition_error",
        "_on_event",
        "_rng",
        "wall_offset",
    )
    _graph: Graph
    _machine: transitions.Machine
    _model: Model
    _rng: random.Random
    _evaluating: str
    _on_event: Callable[[FailoverEvent], object] | None
    _on_condition_error: Callable[[str, Exception], object] | None
    _on_change: Callable[[], object] | None
    wall_offset: float | None

    def _clear_context(self, now: float) -> None:
        self.now = now
        self.stimulus = Stimulus.TICK
        self.outcome = None
        self.signal = None
        self.retry_after = None
        self.health_check_passed = None

    def _clear_counts(self) -> None:
        self._window.clear()
        self._window.expired = False
        self.consecutive_failures = self.consecutive_successes = 0
        self.consecutive_health_failures = 0
        self.probes_admitted = self.probes_succeeded = self.probes_failed = 0

    def adopt(
        self,
        state: State,
        now: float,
        *,
        deadline: float | None = None,
        openings: int | None = None,
        seq: int | None = None,
    ) -> int:
        """Take on a state decided elsewhere (another process's transition, read from shared
        storage): no transition of the table fires and no event is emitted.

        A new generation starts, as after any transition, so that outcomes of calls admitted
        before count in the lifetime figures only (I5); the window and the state's counts are
        cleared. ``deadline`` is the state's deadline in this machine's time (OPEN's
        open_until); ``openings`` and ``seq`` replace the machine's when given. Returns the
        new generation.

        Raises:
            ConfigurationError: ``state`` is not one of the policy's states.
        """
        node = self._graph.nodes.get(state)
        if node is None:
            raise ConfigurationError(
                f"cannot adopt state {state!r}: the policy declares "
                f"{[s.value for s in self._graph.states]!r}"
            )
        self._machine.set_state(node.graph_state, model=self._model)
        self._clear_context(now)
        seq = self.seq if seq is None else seq
        openings = self.openings if openings is None else openings
        self._move(node, now, seq, openings, deadline)
        if self._on_change is not None:
            self._on_change()
        return self.generation

    # --- transitions ----------------------------------------------------------------------------

    def _first(self, edges: tuple[Edge, ...], now: float) -> FailoverEvent | None:
        signal = self.signal
        for edge in edges:
            if edge.signal is not None and edge.signal is not signal:
                continue
            self._evaluating = edge.transition.name
            try:
                verdict = edge.check(self) if edge.check is not None else True
            except Exception as exc:  # a policy's own condition: it does not hold, and is told
                self.condition_failed(exc, None, edge.transition.name)
                continue
            if verdict:
                reason = verdict if isinstance(verdict, FailoverReason) else edge.transition.reason
                return self._fire(edge, reason, now)
        return None

    def condition_failed(
        self, exc: Exception, part: str | None = None, transition: str | None = None
    ) -> None:
        """A condition being evaluated raised ``exc``: count it, keep it for ``snapshot()``
        and tell ``on_condition_error``. Called by the machine, and by a composite condition
        (``a | b``) for the ``part`` that raised, which then counts as not holding while the
        other parts are still evaluated."""
        where = transition or self._evaluating
        if part is not None:
            where = f"{where} ({part})"
        self.condition_errors += 1
        self.last_condition_error = f"{where}: {type(exc).__name__}: {exc}"[:500]
        if self._on_condition_error is not None:
            self._on_condition_error(where, exc)

    def _fire(self, edge: Edge, reason: FailoverReason, now: float) -> FailoverEvent:
        # Everything that can fail is worked out before the state moves: no state change
        # without its event.
        details = self._details(edge)
        openings, deadline = deadline_of(self, edge.transition.dest, now, self._rng)
        try:
            self._machine.events[edge.trigger].trigger(
                self._model,
                edge=edge,
                reason=reason,
                now=now,
                details=details,
                openings=openings,
                deadline=deadline,
            )
        except transitions.MachineError as exc:  # the tables and the machine disagree: a bug
            raise IllegalTransitionError(
                edge.transition.name, self.state.value, edge.transition.dest.value
            ) from exc
        assert self.last_event is not None
        return self.last_event

    def _enter(self, event: transitions.EventData) -> None:
        kwargs = event.kwargs
        edge: Edge = kwargs["edge"]
        now: float = kwargs["now"]
        details: dict[str, DetailValue] = kwargs["details"]
        source, dest = self._node.state, edge.transition.dest
        details["deadline"] = kwargs["deadline"]
        self._move(
            self._graph.nodes[dest], now, self.seq + 1, kwargs["openings"], kwargs["deadline"]
        )
        offset = self.wall_offset
        self.last_event = FailoverEvent(
            self.provider,
            self.seq,
            source,
            dest,
            kwargs["reason"],
            now,
            self.generation,
            details,
            None if offset is None else now + offset,
        )
        if self._on_event is not None:
            self._on_event(self.last_event)
        if self._on_change is not None:
            self._on_change()

    def _move(
        self, node: Node, now: float, seq: int, openings: int, deadline: float | None
    ) -> None:
        """Enter ``node`` at ``now``: a new generation, empty counts, the state's deadline.
        Order matters to lock-free readers (see free_admission): the flag drops before the
        generation moves and rises again only once the new state is in place."""
        self.free_admission = False
        self.generation += 1
        self.seq, self.openings = seq, openings
        self._node = node
        self.entered_at, self.deadline = now, deadline
        self._clear_counts()
        self._tick_after = self._earliest_tick()
        self.free_admission = node.admits and not node.probing and not node.tick

    def open_duration_for(self, k: int, retry_after: float | None = None) -> float:
        """How long the k-th consecutive opening lasts: backoff, cap, jitter, then Retry-After.

        ``open_duration * open_backoff ** (k - 1)`` capped at ``max_open_duration``, then lowered
        by up to ``open_jitter`` of itself (so the cap holds), then raised to any Retry-After.
        Draws from the machine's random source when jitter is on.
        """
        return open_duration(self.policy, k, retry_after, self._rng)
