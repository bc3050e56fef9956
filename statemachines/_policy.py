"""BreakerPolicy: the thresholds, durations, custom states and transitions of a breaker."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from statemachines._builtin_conditions import consecutive_failures, failure_rate, slow_call_rate
from statemachines._cache import IdentityCache
from statemachines._checks import (
    MAX_POLICY_COUNT,
    check_fraction,
    check_int,
    check_number,
    check_seconds,
    instance_of,
)
from statemachines._conditions import Condition, as_condition
from statemachines._errors import ConfigurationError
from statemachines._presets import pybreaker_fields
from statemachines._states import BreakerState, CustomState, State
from statemachines._transition import ANY, Sources, Transition
from statemachines._window import CountWindow, TimeWindow

__all__ = ["ANY", "BreakerPolicy", "Sources", "Transition", "pybreaker_compatible"]


def _window(value: Any) -> CountWindow | TimeWindow:
    if isinstance(value, CountWindow | TimeWindow):
        return value
    raise ConfigurationError(
        f"BreakerPolicy.window must be CountWindow(size) or TimeWindow(seconds, buckets), "
        f"got {value!r}"
    )


def _checked(check: Callable[..., None], **kwargs: Any) -> Any:
    def validate(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        check(f"BreakerPolicy.{attribute.name}", value, **kwargs)

    return validate


_count = _checked(check_int, minimum=1, maximum=MAX_POLICY_COUNT)


def _records(value: Any, kind: type, field: str) -> tuple[Any, ...]:
    items = tuple(value) if isinstance(value, Iterable) else (value,)
    for item in items:
        if not isinstance(item, kind):
            raise ConfigurationError(
                f"BreakerPolicy.{field} must hold {kind.__name__} records, got {item!r}"
            )
    return items


def _custom_states(value: Any) -> tuple[CustomState, ...]:
    return _records(value, CustomState, "states")


def _transitions(value: Any) -> tuple[Transition, ...]:
    return _records(value, Transition, "transitions")


def _trip_condition(value: Any) -> Condition | None:
    return None if value is None else as_condition(value, field="BreakerPolicy.trip_condition")


def _check_jitter(_: object, __: attrs.Attribute[float], value: Any) -> None:
    check_number("BreakerPolicy.open_jitter", value, minimum=0)
    if value >= 1:
        raise ConfigurationError(
            f"BreakerPolicy.open_jitter must be a fraction in [0, 1), got {value!r}"
        )


def _names(value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"BreakerPolicy.removed_transitions must be a set of names, got {value!r}"
        )
    return frozenset(value)


@attrs.frozen
class BreakerPolicy:
    """Everything that decides how a breaker behaves. Frozen and validated.

    The machine's transition table is the policy's own ``transitions`` (first, in order) followed
    by the built-in ones of docs/semantics.md ("Transitions") not named in
    ``removed_transitions``; see ``transition_table()``. ``trip_condition`` replaces the
    built-in trip rule ``consecutive_failures | failure_rate | slow_call_rate`` built from the
    thresholds.
    """

    failure_rate_threshold: float = attrs.field(default=0.5, validator=_checked(check_fraction))
    minimum_calls: int = attrs.field(default=10, validator=_count)
    max_consecutive_failures: int = attrs.field(default=3, validator=_count)
    window: CountWindow | TimeWindow = attrs.field(factory=CountWindow, converter=_window)
    slow_call_duration: float = attrs.field(default=30.0, validator=_checked(check_seconds))
    slow_call_rate_threshold: float = attrs.field(default=1.0, validator=_checked(check_fraction))
    open_duration: float = attrs.field(default=30.0, validator=_checked(check_seconds))
    open_backoff: float = attrs.field(default=2.0, validator=_checked(check_number, minimum=1))
    max_open_duration: float = attrs.field(default=300.0, validator=_checked(check_seconds))
    open_jitter: float = attrs.field(default=0.1, validator=_check_jitter)
    half_open_max_calls: int = attrs.field(default=1, validator=_count)
    max_half_open_duration: float = attrs.field(default=60.0, validator=_checked(check_seconds))
    health_failures_to_trip: int = attrs.field(default=2, validator=_count)
    health_check_can_probe: bool = attrs.field(
        default=True,
        validator=instance_of(
            bool, "BreakerPolicy.health_check_can_probe", "a bool (True or False)"
        ),
    )
    trip_condition: Condition | None = attrs.field(default=None, converter=_trip_condition)
    states: tuple[CustomState, ...] = attrs.field(default=(), converter=_custom_states)
    transitions: tuple[Transition, ...] = attrs.field(default=(), converter=_transitions)
    removed_transitions: frozenset[str] = attrs.field(default=frozenset(), converter=_names)

    def __attrs_post_init__(self) -> None:
        if self.max_open_duration < self.open_duration:
            raise ConfigurationError(
                f"BreakerPolicy.max_open_duration ({self.max_open_duration!r}) must be >= "
                f"open_duration ({self.open_duration!r})"
            )
        _check_graph(self)

    def all_states(self) -> tuple[State, ...]:
        """The built-in states, then the policy's own."""
        return (*BreakerState, *self.states)

    def effective_trip_condition(self) -> Condition:
        """``trip_condition``, or the built-in rule made from the thresholds."""
        if self.trip_condition is not None:
            return self.trip_condition
        return (
            consecutive_failures(self.max_consecutive_failures)
            | failure_rate(self.failure_rate_threshold, min_calls=self.minimum_calls)
            | slow_call_rate(self.slow_call_rate_threshold, min_calls=self.minimum_calls)
        )

    def transition_table(self) -> tuple[Transition, ...]:
        """The machine's transitions in evaluation order: the policy's own, then the built-ins."""
        return _cached_table(self)

    @staticmethod
    def pybreaker_compatible(
        fail_max: int, reset_timeout: float, success_threshold: int = 1
    ) -> BreakerPolicy:
        """A policy with pybreaker's semantics; see ``statemachines.pybreaker_compatible``."""
        return pybreaker_compatible(fail_max, reset_timeout, success_threshold)

    def with_changes(self, **changes: Any) -> BreakerPolicy:
        """A copy with some fields changed (validated like a new policy)."""
        return attrs.evolve(self, **changes)


def pybreaker_compatible(
    fail_max: int, reset_timeout: float, success_threshold: int = 1
) -> BreakerPolicy:
    """A policy with the semantics of ``pybreaker.CircuitBreaker(fail_max, reset_timeout,
    success_threshold)``.

    pybreaker (read from its source, 1.x):

    * CLOSED counts consecutive failures; a success (or an excluded exception) resets the count;
      the ``fail_max``-th failure in a row opens the breaker.
    * OPEN rejects every call until ``reset_timeout`` seconds have passed since it opened
      (``now >= opened_at + reset_timeout``), checked at the next call, which moves the breaker
      to HALF_OPEN and goes through as the first trial call. No backoff, no jitter.
    * HALF_OPEN lets trial calls through; the first failure re-opens the breaker (for another
      ``reset_timeout``); ``success_threshold`` successes (necessarily in a row) close it.
      There is no time limit on HALF_OPEN.
    * ``open()``, ``half_open()`` and ``close()`` move the breaker by hand from any state.

    Here: ``trip_condition = consecutive_failures(fail_max)``; ``open_duration =
    max_open_duration = reset_timeout``, ``open_backoff = 1``, ``open_jitter = 0``;
    ``half_open_max_calls = success_threshold``; ``max_half_open_duration = reset_timeout``
    (with no HALF_OPEN timeout it only sets the ``retry_at`` of a call rejected while the probes
    are in flight); HALF_OPEN's "reopen" fires at the first failed probe and "recover" once
    ``success_threshold`` probes succeeded; manual "open" and "half_open" transitions from any
    state mirror pybreaker's methods (``reset`` is its ``close()``). The built-in transitions
    of ``PYBREAKER_REMOVED_TRANSITIONS`` are removed: signals (RATE_LIMITED, AUTH_FAILED) trip
    nothing by themselves, health checks change no state and HALF_OPEN never times out.

    Differences that remain (none shows in a sequence of calls, which the differential test
    checks step by step):

    * Concurrency: pybreaker holds its lock across the guarded call, so it runs one call at a
      time in every state. Here calls run concurrently; in HALF_OPEN up to
      ``success_threshold`` probes are admitted at once (pybreaker admits them one after the
      other), and the others are rejected rather than made to wait. A call that finishes
      after a transition it did not cause counts in the lifetime figures only (I5); pybreaker,
      one call at a time, has no such call.
    * A Retry-After carried by the failure that opens the breaker lengthens that opening here;
      pybreaker has no Retry-After.
    * ``force_open``, ``disable`` and ``reset`` (FORCED_OPEN, DISABLED) are kept: operator
      tools pybreaker lacks, fired only by hand. So is ``probe_now`` (OPEN -> HALF_OPEN), the
      part of pybreaker's ``half_open()`` that starts from OPEN, which the coordinator's
      ``all_down="probe"`` fires (the preset's own ``half_open`` works from any state).
    * Classification belongs to the runtime: pybreaker counts every ``BaseException``
      (cancellation included) as a failure and an ``exclude``-d exception as a success. Give
      ``failover.CircuitBreaker`` a classifier to match, e.g. ``success(*exclude) |
      failure(BaseException)``.

    Args:
        fail_max: pybreaker's ``fail_max``: consecutive failures that open the breaker (>= 1).
        reset_timeout: pybreaker's ``reset_timeout``: seconds the breaker stays OPEN (> 0).
        success_threshold: pybreaker's ``success_threshold``: successful trial calls that close
            it (>= 1).

    Returns:
        The policy.

    Raises:
        ConfigurationError: An argument is out of range (pybreaker's 0 values included: give 1
            for ``fail_max`` or ``success_threshold``, a small positive ``reset_timeout``).
    """
    return BreakerPolicy(**pybreaker_fields(fail_max, reset_timeout, success_threshold))


def _table(policy: BreakerPolicy) -> tuple[Transition, ...]:
    from statemachines._builtin_transitions import builtin_transitions

    kept = (t for t in builtin_transitions(policy) if t.name not in policy.removed_transitions)
    return (*policy.transitions, *kept)


_cached_table: IdentityCache[BreakerPolicy, tuple[Transition, ...]] = IdentityCache(_table)


def _unknown_state_message(t: Transition, state: State, known: set[State]) -> str:
    same_name = [s for s in known if s.value == state.value]
    if same_name:
        return (
            f"Transition {t.name!r} uses {state!r}, but the policy declares {same_name[0]!r} "
            "under that name; use the very state object listed in BreakerPolicy.states"
        )
    return (
        f"Transition {t.name!r} uses state {state.value!r}, which the policy does not declare; "
        f"add it to BreakerPolicy.states or use one of {sorted(s.value for s in known)!r}"
    )


def _check_graph(policy: BreakerPolicy) -> None:
    from statemachines._builtin_transitions import BUILTIN_NAMES

    names = [s.value for s in policy.states]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"BreakerPolicy.states declares {duplicates!r} more than once")
    unknown = sorted(policy.removed_transitions - BUILTIN_NAMES)
    if unknown:
        raise ConfigurationError(
            f"BreakerPolicy.removed_transitions names {unknown!r}, which are not built-in "
            f"transitions; the built-in ones are {sorted(BUILTIN_NAMES)!r}"
        )
    clashing = sorted(
        {t.name for t in policy.transitions} & (BUILTIN_NAMES - policy.removed_transitions)
    )
    if clashing:
        raise ConfigurationError(
            f"BreakerPolicy.transitions reuses the built-in name(s) {clashing!r}; give your "
            "transition another name, or replace the built-in by also listing it in "
            "removed_transitions"
        )
    known = set(policy.all_states())
    for t in policy.transitions:
        for state in (*(() if t.source == ANY else t.source), t.dest):
            if state not in known:
                raise ConfigurationError(_unknown_state_message(t, state, known))
