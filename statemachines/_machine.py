"""BreakerMachine: the explicit, pure state machine behind one provider.

No I/O and no clock reads: every operation takes ``now``. Not thread-safe by itself: the runtime
serialises calls into one machine (it holds a lock around each call, never across an await).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable

from statemachines._errors import ConfigurationError, IllegalTransitionError
from statemachines._events import FailoverEvent
from statemachines._graph import Edge, graph_for
from statemachines._moves import MachineMoves, Model
from statemachines._policy import BreakerPolicy
from statemachines._snapshot import MachineSnapshot
from statemachines._states import (
    BreakerState,
    FailoverReason,
    Outcome,
    Stimulus,
    retry_after_of,
)
from statemachines._window import CountRing

__all__ = ["BreakerMachine", "ConditionErrorListener", "EventListener"]

EventListener = Callable[[FailoverEvent], object]
ConditionErrorListener = Callable[[str, Exception], object]

_OUTCOME, _TICK, _HEALTH, _MANUAL = (
    Stimulus.OUTCOME,
    Stimulus.TICK,
    Stimulus.HEALTH_CHECK,
    (Stimulus.MANUAL),
)
_IGNORED, _SUCCESS = Outcome.IGNORED, Outcome.SUCCESS
_CLOSED, _OPEN, _HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


class BreakerMachine(MachineMoves):
    """One provider's breaker: admission, outcome recording, transitions and their events.

    Args:
        provider: The provider's name, carried by every event.
        policy: The policy; ``BreakerPolicy()`` by default.
        now: The clock's time at creation (the initial state's ``entered_at``).
        rng: The random source for open-duration jitter. Default: seeded from the provider's name,
            so that a run is reproducible (I8); give each replica its own for real spreading.
        on_event: Called with each FailoverEvent as the transition happens, in seq order.
        on_condition_error: Called with the transition's name and the exception when a
            condition raises (the condition then counts as not holding; see docs/semantics.md,
            "A condition that raises").
        on_change: Called with no argument after every change of state (a transition, after
            its ``on_event``, or an ``adopt``): a runtime re-reads ``tick_at`` and ``probing``.

    ``wall_offset`` (None until a runtime sets it: the machine reads no clock) is the wall
    clock's UTC epoch seconds minus the monotonic clock's; each event's ``wall_at`` is its
    ``at`` plus it.
    """

    # the figures' slots are MachineView's, the moving parts' MachineMoves'
    __slots__ = ("_max_probes",)

    def __init__(
        self,
        provider: str,
        policy: BreakerPolicy | None = None,
        *,
        now: float = 0.0,
        rng: random.Random | None = None,
        on_event: EventListener | None = None,
        on_condition_error: ConditionErrorListener | None = None,
        on_change: Callable[[], object] | None = None,
    ) -> None:
        if not isinstance(provider, str) or not provider:
            raise ConfigurationError(f"provider must be a non-empty str, got {provider!r}")
        if policy is None:
            policy = BreakerPolicy()
        elif not isinstance(policy, BreakerPolicy):
            raise ConfigurationError(
                f"policy must be a BreakerPolicy, got {policy!r}; "
                "build one with BreakerPolicy(failure_rate_threshold=..., ...)"
            )
        self.provider = provider
        self.policy = policy
        self._graph = graph_for(policy)
        self._rng = rng if rng is not None else random.Random(zlib.crc32(provider.encode()))
        self._on_event = on_event
        self._on_condition_error = on_condition_error
        self._on_change = on_change
        self.wall_offset: float | None = None  # wall - monotonic, set by the runtime
        self.condition_errors = 0
        self.last_condition_error = None
        self._evaluating = ""
        self._window = policy.window.create()
        self._max_probes = policy.half_open_max_calls
        self._node = node = self._graph.nodes[_CLOSED]
        self.free_admission = node.admits and not node.probing and not node.tick
        self._model = Model()
        self._machine = self._graph.build_machine(self._model, _CLOSED, self._enter)
        self.generation = 0
        self.seq = 0
        self.openings = 0
        self.entered_at = now
        self.deadline = None
        self.last_event = None
        self._clear_context(now)
        self._clear_counts()
        self._tick_after = self._earliest_tick()
        self.lifetime_calls = self.lifetime_failures = self.lifetime_slow = 0
        self.lifetime_ignored = self.lifetime_stale = self.lifetime_rejected = 0

    # --- stimuli --------------------------------------------------------------------------------

    def admit(self, now: float) -> int | None:
        """Ask to make a call at ``now``: its generation if admitted, None if rejected.

        Time-driven transitions of the current state (OPEN -> HALF_OPEN once open_until has
        passed, HALF_OPEN -> OPEN on probe timeout) are checked first. In HALF_OPEN at most
        ``half_open_max_calls`` probes are admitted per generation. Pass the generation back to
        ``record``.
        """
        node = self._node
        if node.tick and (self._tick_after is None or now >= self._tick_after):
            self._evaluate_tick(now)
            node = self._node
        if node.admits:
            if node.probing:
                if self.probes_admitted >= self._max_probes:
                    self.lifetime_rejected += 1
                    return None
                self.probes_admitted += 1
            return self.generation
        self.lifetime_rejected += 1
        return None

    def record(
        self,
        generation: int,
        outcome: Outcome,
        now: float,
        signal: FailoverReason | None = None,
        retry_after: float | None = None,
    ) -> bool:
        """Record the outcome of a call admitted in ``generation``; True if the current generation
        counted it (in the window, or as a probe).

        ``signal`` is what the provider said beside failing (RATE_LIMITED, AUTH_FAILED) and
        ``retry_after`` its Retry-After in seconds. An outcome of an earlier generation counts in
        the lifetime figures only (I5); IGNORED releases a probe permit and records nothing.
        """
        if generation != self.generation or outcome is _IGNORED:
            return self._record_aside(generation, outcome)
        node = self._node
        failed = outcome.failed
        self.lifetime_calls += 1
        if failed:
            self.lifetime_failures += 1
        if outcome.slow:
            self.lifetime_slow += 1
        if node.records:
            window = self._window
            window.record(failed, outcome.slow, now)
            if failed:
                self.consecutive_failures += 1
                self.consecutive_successes = 0
            else:
                self.consecutive_successes += 1
                self.consecutive_failures = 0
                quiet = node.quiet_success
                if (
                    outcome is _SUCCESS
                    and signal is None
                    and quiet is not None
                    and not window.expired
                    and window.calls not in quiet
                ):
                    return True  # no rule can newly hold: see Condition.success_boundaries
        elif node.probing:
            if failed:
                self.probes_failed += 1
            else:
                self.probes_succeeded += 1
        else:
            return False
        if node.outcome:
            self._after_outcome(node.outcome, outcome, now, signal, retry_after)
        return True

    def record_success(self, generation: int, now: float) -> bool:
        """``record(generation, Outcome.SUCCESS, now)``, faster: the runtime's common case."""
        node = self._node
        quiet = node.quiet_success
        if generation != self.generation or quiet is None or not node.records:
            return self.record(generation, _SUCCESS, now)
        self.lifetime_calls += 1
        window = self._window
        window.record_success(now)
        self.consecutive_successes += 1
        self.consecutive_failures = 0
        if window.expired or window.calls in quiet:
            self._after_outcome(node.outcome, _SUCCESS, now, None, None)
        return True

    def record_successes(self, generation: int, count: int, now: float) -> None:
        """``record_success(generation, now)`` ``count`` times, at once: for a runtime that
        counted plain successes without a lock while ``quiet_successes`` held (none of them
        can make a rule hold, so none is evaluated). A stale generation's are set aside."""
        if generation != self.generation:
            self.lifetime_stale += count
            self.lifetime_calls += count
            return
        if not self.quiet_successes:  # not expected: evaluated one by one, as they came
            for _ in range(count):
                self.record_success(generation, now)
            return
        self._window.record_successes(count, now)
        self.lifetime_calls += count
        self.consecutive_successes += count
        self.consecutive_failures = 0 if count else self.consecutive_failures

    @property
    def quiet_successes(self) -> bool:
        """Whether no plain success of this generation can make a rule hold from now on: the
        state records into a count window, admits freely, and every window size at which a
        success is evaluated (``Node.quiet_success``) is behind the window's count (which
        only grows within a generation)."""
        node, window = self._node, self._window
        quiet = node.quiet_success
        return (
            quiet is not None
            and node.records
            and self.free_admission
            and window.calls > max(quiet, default=-1)
            and isinstance(window, CountRing)
        )

    def _after_outcome(
        self,
        edges: tuple[Edge, ...],
        outcome: Outcome,
        now: float,
        signal: FailoverReason | None,
        retry_after: float | None,
    ) -> None:
        if retry_after is not None:  # from the wire or a caller: never inf, NaN or a str
            retry_after = retry_after_of(retry_after)
        self.now, self.stimulus, self.outcome = now, _OUTCOME, outcome
        self.signal, self.retry_after, self.health_check_passed = signal, retry_after, None
        self._window.expired = False
        self._first(edges, now)

    def _record_aside(self, generation: int, outcome: Outcome) -> bool:
        if outcome is _IGNORED:
            self.lifetime_ignored += 1
            if generation == self.generation and self._node.probing and self.probes_in_flight:
                self.probes_admitted -= 1
        else:
            self.lifetime_stale += 1
            self.lifetime_calls += 1
            self.lifetime_failures += outcome.failed
            self.lifetime_slow += outcome.slow
        return False

    def tick(self, now: float) -> FailoverEvent | None:
        """Check the time-driven transitions at ``now``; the event if one fired."""
        if not self._node.tick or (self._tick_after is not None and now < self._tick_after):
            return None
        return self._evaluate_tick(now)

    def _evaluate_tick(self, now: float) -> FailoverEvent | None:
        self._window.advance(now)
        self._clear_context(now)
        return self._first(self._node.tick, now)

    def health_check(self, passed: bool, now: float) -> FailoverEvent | None:
        """Record an active health check's result; the event if it caused a transition."""
        self.consecutive_health_failures = 0 if passed else self.consecutive_health_failures + 1
        self._clear_context(now)
        self.stimulus, self.health_check_passed = _HEALTH, passed
        return self._first(self._node.health_checks, now)

    def fire(self, name: str, now: float) -> FailoverEvent:
        """Fire the MANUAL transition ``name`` (force_open, disable, reset, or a policy's own)."""
        edge = self._node.manual.get(name)
        if edge is None:
            raise IllegalTransitionError(name, self.state.value)
        self._clear_context(now)
        self.stimulus = _MANUAL
        return self._fire(edge, edge.transition.reason, now)

    def force_open(self, now: float) -> FailoverEvent:
        """Operator: reject every call until a reset (FORCED_OPEN)."""
        return self.fire("force_open", now)

    def disable(self, now: float) -> FailoverEvent:
        """Operator: admit every call and record nothing (DISABLED)."""
        return self.fire("disable", now)

    def reset(self, now: float) -> FailoverEvent:
        """Operator: back to CLOSED with an empty window."""
        return self.fire("reset", now)

    def snapshot(self, now: float | None = None) -> MachineSnapshot:
        """A frozen copy of everything the machine knows (statistics); with ``now``, a time
        window first drops what has aged out by then."""
        if now is not None:
            self._window.advance(now)
        return MachineSnapshot.of(self)

    def __repr__(self) -> str:
        return (
            f"<BreakerMachine {self.provider!r} {self.state.value} generation={self.generation} "
            f"seq={self.seq}>"
        )
