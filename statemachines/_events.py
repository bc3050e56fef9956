"""FailoverEvent, the record of one transition, and replay (invariant I2)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TypeAlias

import attrs

from statemachines._errors import ConfigurationError, IllegalTransitionError
from statemachines._policy import BreakerPolicy
from statemachines._states import BreakerState, FailoverReason, State

__all__ = ["DetailValue", "FailoverEvent", "replay"]

DetailValue: TypeAlias = str | int | float | bool | None


def _details(value: Mapping[str, DetailValue]) -> Mapping[str, DetailValue]:
    return MappingProxyType(dict(value))


def _wall(_: object, __: object, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(
            f"FailoverEvent.wall_at must be None or finite UTC epoch seconds, got {value!r}"
        )


@attrs.frozen
class FailoverEvent:
    """One transition of one breaker. Every transition emits exactly one.

    Attributes:
        provider: The breaker's provider name.
        seq: 1, 2, 3, ... per breaker, with no gap and no repeat.
        source: The state left.
        dest: The state entered.
        reason: Why.
        at: When, in the clock's monotonic seconds.
        generation: The generation the transition started (every transition starts one).
        details: Read-only figures behind the decision (window counts, deadline, trigger name...).
        wall_at: When, as UTC epoch seconds for people (the runtime's wall clock; None when
            unknown): events from several processes can be read and ordered by it.
    """

    provider: str
    seq: int
    source: State
    dest: State
    reason: FailoverReason
    at: float
    generation: int
    details: Mapping[str, DetailValue] = attrs.field(factory=dict, converter=_details, hash=False)
    wall_at: float | None = attrs.field(default=None, validator=_wall)

    @property
    def trigger(self) -> str | None:
        """The name of the transition that fired, when the details record it."""
        name = self.details.get("trigger")
        return name if isinstance(name, str) else None


def replay(
    events: Iterable[FailoverEvent],
    policy: BreakerPolicy | None = None,
    *,
    initial: State = BreakerState.CLOSED,
) -> State:
    """The state that ``events`` lead to from ``initial`` (invariant I2).

    Raises:
        IllegalTransitionError: An event's seq is not the next one, its source is not the state
            reached so far, or no transition of the policy leads from source to dest.
    """
    table = (policy or BreakerPolicy()).transition_table()
    state, seq = initial, 0
    for event in events:
        if event.seq != seq + 1 or event.source != state:
            raise IllegalTransitionError(
                f"event seq {event.seq} (expected seq {seq + 1} from {state.value!r})",
                event.source.value,
                event.dest.value,
            )
        if not any(t.leaves(state) and t.dest == event.dest for t in table):
            raise IllegalTransitionError(event.reason.value, state.value, event.dest.value)
        state, seq = event.dest, event.seq
    return state
