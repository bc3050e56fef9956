"""Transition: one declared transition of a breaker's machine (and ``ANY``, every source).

Its own module, below ``BreakerPolicy``: the built-in table
(``statemachines._builtin_transitions``) and the presets make transitions without importing the
policy that holds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal, TypeAlias

import attrs

from statemachines._checks import instance_of
from statemachines._conditions import Condition, as_condition
from statemachines._errors import ConfigurationError
from statemachines._states import BreakerState, CustomState, FailoverReason, State, Stimulus

__all__ = ["ANY", "Sources", "Transition"]

ANY: Final = "*"
"""A transition source meaning "from every state"."""

Sources: TypeAlias = tuple[State, ...] | Literal["*"]


def _sources(value: Any) -> tuple[State, ...] | Literal["*"]:
    if value == ANY:
        return ANY
    if isinstance(value, BreakerState | CustomState):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, str):
        items = tuple(value)
        if items and all(isinstance(s, BreakerState | CustomState) for s in items):
            return items
    raise ConfigurationError(
        f"Transition.source must be a state, a non-empty sequence of states or ANY ('*'), "
        f"got {value!r}"
    )


def _check_dest(_: object, __: attrs.Attribute[State], value: object) -> None:
    if not isinstance(value, BreakerState | CustomState):
        raise ConfigurationError(
            f"Transition.dest must be a BreakerState or a CustomState, got {value!r}"
        )


def _check_name(_: object, __: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.isidentifier():
        raise ConfigurationError(
            f"Transition.name must be an identifier such as 'trip', got {value!r}"
        )


def _optional_condition(value: Any) -> Condition | None:
    return None if value is None else as_condition(value, field="Transition.condition")


@attrs.frozen
class Transition:
    """One declared transition of the machine.

    Args:
        name: The trigger's name ("trip", "probe", ...). MANUAL transitions are fired by it.
        source: The state(s) it leaves, or ``ANY``.
        dest: The state it enters.
        reason: The FailoverReason its event carries, unless the condition names one.
        on: The stimulus at which its condition is evaluated.
        condition: When it fires (see ``statemachines.conditions``); required unless ``on`` is
            MANUAL. Among the transitions from one state on one stimulus, the first (in the
            policy's table order) whose condition holds fires.
    """

    name: str = attrs.field(validator=_check_name)
    source: tuple[State, ...] | Literal["*"] = attrs.field(converter=_sources)
    dest: State = attrs.field(validator=_check_dest)
    reason: FailoverReason = attrs.field(
        validator=instance_of(
            FailoverReason, "Transition.reason", "a FailoverReason such as FailoverReason.MANUAL"
        )
    )
    on: Stimulus = attrs.field(
        default=Stimulus.OUTCOME,
        validator=instance_of(Stimulus, "Transition.on", "a Stimulus such as Stimulus.TICK"),
    )
    condition: Condition | None = attrs.field(default=None, converter=_optional_condition)

    def __attrs_post_init__(self) -> None:
        if self.on is not Stimulus.MANUAL and self.condition is None:
            raise ConfigurationError(
                f"Transition {self.name!r} on {self.on.name} needs a condition (it would fire at "
                "every stimulus); give condition=..., or on=Stimulus.MANUAL for an operator trigger"
            )

    def leaves(self, state: State) -> bool:
        """Whether this transition may fire from ``state``."""
        return self.source == ANY or state in self.source
