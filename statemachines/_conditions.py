"""Transition conditions: small composable objects over one read-only context.

A condition is any callable ``(ConditionContext) -> FailoverReason | bool | None``. A
FailoverReason means "holds, for this reason"; ``True`` means "holds, for the transition's own
reason"; ``False``/``None`` means "does not hold". Conditions compose with ``|`` (the first that
holds), ``&`` (both hold; the first reason wins) and ``~``; plain callables join in through
``as_condition``. The built-in atomic conditions and their factories live in
``_builtin_conditions``.

The context is the machine itself seen through the read-only ``ConditionContext`` protocol:
building a frozen copy on every recorded outcome would allocate on the hot path. A condition
must not keep the context; copy the values it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import attrs

from statemachines._errors import ConfigurationError
from statemachines._states import FailoverReason, Outcome, State, Stimulus

if TYPE_CHECKING:
    from statemachines._window import CountWindow, TimeWindow

__all__ = [
    "Condition",
    "ConditionContext",
    "ConditionFn",
    "PolicyView",
    "Verdict",
    "as_condition",
]

Verdict: TypeAlias = FailoverReason | bool | None


class PolicyView(Protocol):
    """What a condition (and the built-in table) may read of the machine's policy: its
    thresholds and durations. At run time it is the BreakerPolicy itself; typed this way, the
    conditions stay below the policy that holds them (docs/explanation/architecture.md)."""

    @property
    def failure_rate_threshold(self) -> float: ...
    @property
    def minimum_calls(self) -> int: ...
    @property
    def max_consecutive_failures(self) -> int: ...
    @property
    def window(self) -> CountWindow | TimeWindow: ...
    @property
    def slow_call_duration(self) -> float: ...
    @property
    def slow_call_rate_threshold(self) -> float: ...
    @property
    def open_duration(self) -> float: ...
    @property
    def open_backoff(self) -> float: ...
    @property
    def max_open_duration(self) -> float: ...
    @property
    def open_jitter(self) -> float: ...
    @property
    def half_open_max_calls(self) -> int: ...
    @property
    def max_half_open_duration(self) -> float: ...
    @property
    def health_failures_to_trip(self) -> int: ...
    @property
    def health_check_can_probe(self) -> bool: ...
    @property
    def trip_condition(self) -> Condition | None: ...
    def effective_trip_condition(self) -> Condition: ...


class ConditionContext(Protocol):
    """What a condition may read: the machine at the moment of the stimulus."""

    @property
    def policy(self) -> PolicyView: ...
    @property
    def state(self) -> State: ...
    @property
    def stimulus(self) -> Stimulus: ...
    @property
    def now(self) -> float: ...
    @property
    def entered_at(self) -> float: ...
    @property
    def deadline(self) -> float | None: ...
    @property
    def calls(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def slow_calls(self) -> int: ...
    @property
    def failure_rate(self) -> float: ...
    @property
    def slow_call_rate(self) -> float: ...
    @property
    def consecutive_failures(self) -> int: ...
    @property
    def consecutive_successes(self) -> int: ...
    @property
    def outcome(self) -> Outcome | None: ...
    @property
    def signal(self) -> FailoverReason | None: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def probes_admitted(self) -> int: ...
    @property
    def probes_succeeded(self) -> int: ...
    @property
    def probes_failed(self) -> int: ...
    @property
    def health_check_passed(self) -> bool | None: ...
    @property
    def consecutive_health_failures(self) -> int: ...


ConditionFn: TypeAlias = Callable[[ConditionContext], Verdict]


def as_condition(fn: ConditionFn, *, field: str = "condition") -> Condition:
    """Wrap a plain callable so that it composes; Conditions pass through."""
    if isinstance(fn, Condition):
        return fn
    if not callable(fn):
        raise ConfigurationError(
            f"{field} must be a callable taking the condition context, such as "
            f"consecutive_failures(3) or `lambda ctx: ctx.calls > 5`; got {fn!r}"
        )
    return _Callable(fn)


class Condition:
    """Base of the composable conditions."""

    __slots__ = ()

    def __call__(self, ctx: ConditionContext) -> Verdict:
        raise NotImplementedError

    def required_signal(self) -> FailoverReason | None:
        """A signal without which this condition cannot hold, if there is one."""
        return None

    def success_boundaries(self) -> frozenset[int] | None:
        """The window sizes at which a plain success could make this condition newly hold.

        A plain success (not slow, no signal) lowers every failure or slow rate and resets the
        consecutive-failure count, so a rate rule that was false stays false except when the
        window just reached its ``min_calls``, or when old outcomes aged out since the last
        evaluation. The machine skips evaluating after such a success otherwise. None means
        "unknown: evaluate after every outcome" (the default, and for plain callables).
        """
        return None

    def earliest(self, ctx: ConditionContext) -> float | None:
        """The earliest time at which this condition may hold, given the current state's entry
        time and deadline (fixed while the state lasts); None when it may hold at any time.

        The machine skips evaluating time-driven transitions before then: a call rejected while
        OPEN costs no condition evaluation.
        """
        return None

    def inline(self) -> tuple[str, FailoverReason] | None:
        """A Python expression over ``ctx`` that is true exactly when this holds, and the reason
        it then gives; None when the condition cannot be written so (plain callables)."""
        return None

    def compiled(self) -> ConditionFn:
        """The fastest callable equivalent to this condition (used by the machine)."""
        return self.__call__

    def __or__(self, other: ConditionFn) -> Condition:
        return AnyOf((*_parts(self, AnyOf), *_parts(as_condition(other), AnyOf)))

    def __ror__(self, other: ConditionFn) -> Condition:
        return as_condition(other) | self

    def __and__(self, other: ConditionFn) -> Condition:
        return AllOf((*_parts(self, AllOf), *_parts(as_condition(other), AllOf)))

    def __rand__(self, other: ConditionFn) -> Condition:
        return as_condition(other) & self

    def __invert__(self) -> Condition:
        return Not(self)


def _union_boundaries(parts: tuple[Condition, ...]) -> frozenset[int] | None:
    found: set[int] = set()
    for part in parts:
        boundaries = part.success_boundaries()
        if boundaries is None:
            return None
        found |= boundaries
    return frozenset(found)


def _parts(cond: Condition, kind: type[AnyOf] | type[AllOf]) -> tuple[Condition, ...]:
    return cond.parts if isinstance(cond, kind) else (cond,)


@attrs.frozen(repr=False)
class _Callable(Condition):
    fn: ConditionFn

    def __call__(self, ctx: ConditionContext) -> Verdict:
        return self.fn(ctx)

    def __repr__(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


@attrs.frozen(repr=False)
class AnyOf(Condition):
    parts: tuple[Condition, ...]

    def __call__(self, ctx: ConditionContext) -> Verdict:
        for part in self.parts:
            try:
                verdict = part(ctx)
            except Exception as exc:  # this part does not hold; the others still may
                report = getattr(ctx, "condition_failed", None)
                if report is None:
                    raise
                report(exc, repr(part))
                continue
            if verdict:
                return verdict
        return None

    def __repr__(self) -> str:
        return " | ".join(map(repr, self.parts))

    def success_boundaries(self) -> frozenset[int] | None:
        return _union_boundaries(self.parts)

    def earliest(self, ctx: ConditionContext) -> float | None:
        times = [p.earliest(ctx) for p in self.parts]
        return None if None in times else min(t for t in times if t is not None)

    def compiled(self) -> ConditionFn:
        """One generated function testing every part in order, when every part inlines:
        a composed trip rule costs one call instead of one per part."""
        inlined = [p.inline() for p in self.parts]
        if any(i is None for i in inlined):
            return self.__call__
        lines = ["def compiled(ctx):"]
        for expr, reason in filter(None, inlined):
            lines.append(f"    if {expr}: return R.{reason.name}")
        lines.append("    return None")
        namespace: dict[str, Any] = {"R": FailoverReason}
        exec("\n".join(lines), namespace)
        fn: ConditionFn = namespace["compiled"]
        return fn


@attrs.frozen(repr=False)
class AllOf(Condition):
    parts: tuple[Condition, ...]

    def __call__(self, ctx: ConditionContext) -> Verdict:
        first: Verdict = True
        for part in self.parts:
            verdict = part(ctx)
            if not verdict:
                return None
            if first is True:
                first = verdict
        return first

    def required_signal(self) -> FailoverReason | None:
        return next(filter(None, (p.required_signal() for p in self.parts)), None)

    def earliest(self, ctx: ConditionContext) -> float | None:
        # every part must hold: not before the latest of those whose time is known
        known = [t for t in (p.earliest(ctx) for p in self.parts) if t is not None]
        return max(known) if known else None

    def success_boundaries(self) -> frozenset[int] | None:
        # all parts false before a success -> the conjunction can newly hold only when a part
        # newly holds; a part already true is covered by the others' boundaries
        return _union_boundaries(self.parts)

    def __repr__(self) -> str:
        return " & ".join(f"({p!r})" if isinstance(p, AnyOf) else repr(p) for p in self.parts)


@attrs.frozen(repr=False)
class Not(Condition):
    inner: Condition

    def __call__(self, ctx: ConditionContext) -> Verdict:
        return not self.inner(ctx)

    def __repr__(self) -> str:
        return f"~{self.inner!r}"
