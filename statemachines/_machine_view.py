"""MachineView: the figures a BreakerMachine keeps and shows, apart from how it moves.

The slotted base class of BreakerMachine: one slot per figure and the read-only figures derived
from them. It is what conditions read (it satisfies ``ConditionContext``), what a snapshot
copies and what an event's details record; ``_machine.py`` keeps the moving parts. Every slot
is declared here or in BreakerMachine, never in both, so that an instance has no ``__dict__``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from statemachines._states import FailoverReason, Outcome, ProviderHealth, State, Stimulus

if TYPE_CHECKING:
    from statemachines._events import DetailValue, FailoverEvent
    from statemachines._graph import Edge, Node
    from statemachines._policy import BreakerPolicy
    from statemachines._window import Window

__all__ = ["MachineView"]


class MachineView:
    """The figures of one provider's breaker; BreakerMachine sets them, others read them."""

    __slots__ = (
        "_node",
        "_tick_after",
        "_window",
        "condition_errors",
        "consecutive_failures",
        "consecutive_health_failures",
        "consecutive_successes",
        "deadline",
        "entered_at",
        "free_admission",
        "generation",
        "health_check_passed",
        "last_condition_error",
        "last_event",
        "lifetime_calls",
        "lifetime_failures",
        "lifetime_ignored",
        "lifetime_rejected",
        "lifetime_slow",
        "lifetime_stale",
        "now",
        "openings",
        "outcome",
        "policy",
        "probes_admitted",
        "probes_failed",
        "probes_succeeded",
        "provider",
        "retry_after",
        "seq",
        "signal",
        "stimulus",
    )

    _node: Node
    _tick_after: float | None
    _window: Window
    provider: str
    policy: BreakerPolicy
    generation: int
    seq: int
    openings: int
    entered_at: float
    deadline: float | None
    last_event: FailoverEvent | None
    #: True while ``admit`` would admit without changing anything (CLOSED, DISABLED, an
    #: admitting custom state with no time-driven transition). A runtime may then skip
    #: ``admit`` and use ``generation`` as read *before* this flag.
    free_admission: bool
    # the stimulus being handled: what conditions read beside the counts
    now: float
    stimulus: Stimulus
    outcome: Outcome | None
    signal: FailoverReason | None
    retry_after: float | None
    health_check_passed: bool | None
    # counts of the current state (cleared on every transition)
    consecutive_failures: int
    consecutive_successes: int
    consecutive_health_failures: int
    probes_admitted: int
    probes_succeeded: int
    probes_failed: int
    # counts since creation
    lifetime_calls: int
    lifetime_failures: int
    lifetime_slow: int
    lifetime_ignored: int
    lifetime_stale: int
    lifetime_rejected: int
    # a policy's own conditions that raised (each counted as not holding)
    condition_errors: int
    last_condition_error: str | None

    @property
    def state(self) -> State:
        """The current state."""
        return self._node.state

    @property
    def health(self) -> ProviderHealth:
        """The current state's ProviderHealth."""
        return self._node.health

    @property
    def window(self) -> Window:
        """The count or time window of the outcomes (live: read its ``calls`` and ``failures``;
        the machine alone records into it)."""
        return self._window

    @property
    def calls(self) -> int:
        """Outcomes in the current window."""
        return self._window.calls

    @property
    def failures(self) -> int:
        """Failed outcomes in the current window."""
        return self._window.failures

    @property
    def slow_calls(self) -> int:
        """Slow outcomes in the current window."""
        return self._window.slow_calls

    @property
    def failure_rate(self) -> float:
        """failures / calls in the current window (0.0 when empty)."""
        calls = self._window.calls
        return self._window.failures / calls if calls else 0.0

    @property
    def slow_call_rate(self) -> float:
        """slow_calls / calls in the current window (0.0 when empty)."""
        calls = self._window.calls
        return self._window.slow_calls / calls if calls else 0.0

    @property
    def probes_in_flight(self) -> int:
        """Probes admitted in this HALF_OPEN generation and not finished."""
        return self.probes_admitted - self.probes_succeeded - self.probes_failed

    @property
    def retry_at(self) -> float | None:
        """When a rejected call may be retried: OPEN's open_until, HALF_OPEN's decision time,
        a custom state's deadline; None when only an operator can help (FORCED_OPEN)."""
        node = self._node
        if node.admits and not node.probing:
            return None
        return self.deadline

    @property
    def tick_at(self) -> float | None:
        """The earliest time at which ``tick`` may fire a time-driven transition of the current
        state: None when the state has none, ``-inf`` when a condition cannot say (then any
        time may matter). Read without changing anything."""
        if not self._node.tick:
            return None
        after = self._tick_after
        return -math.inf if after is None else after

    @property
    def probing(self) -> bool:
        """Whether the current state admits calls as probes (HALF_OPEN), up to
        ``half_open_max_calls`` per generation."""
        return self._node.probing

    @property
    def probe_permits(self) -> int:
        """Probe admissions left in this generation (0 outside a probing state)."""
        return self.policy.half_open_max_calls - self.probes_admitted if self._node.probing else 0

    def _earliest_tick(self) -> float | None:
        """When the current state's time-driven transitions may first hold (None: any time)."""
        times = []
        for edge in self._node.tick:
            condition = edge.transition.condition
            when = None if condition is None else condition.earliest(self)
            if when is None:
                return None
            times.append(when)
        return min(times, default=None)

    def _details(self, edge: Edge) -> dict[str, DetailValue]:
        """The figures an event of ``edge`` records, read before the transition clears them."""
        return {
            "trigger": edge.transition.name,
            "calls": self.calls,
            "failures": self.failures,
            "slow_calls": self.slow_calls,
            "consecutive_failures": self.consecutive_failures,
            "probes_succeeded": self.probes_succeeded,
            "probes_failed": self.probes_failed,
            "retry_after": self.retry_after,
        }
