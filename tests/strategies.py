"""Shared Hypothesis strategies (and the small fakes they build) for the test suite.

Import as ``from tests import strategies as sts`` or ``from tests.strategies import ...``.
Keep each strategy small and documented; group new ones under a heading like those below.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st

from statemachines import (
    BreakerPolicy,
    BreakerState,
    Condition,
    CountWindow,
    FailoverEvent,
    FailoverReason,
    Outcome,
    Stimulus,
    TimeWindow,
    consecutive_failures,
    deadline_passed,
    failure_rate,
    health_check_passed,
    health_checks_failed,
    probes_failed,
    probes_succeeded,
    signalled,
    slow_call_rate,
    timed_out,
)

__all__ = [
    "FakeContext",
    "builtin_conditions",
    "composite_conditions",
    "condition_contexts",
    "default_table_policies",
    "detail_values",
    "events",
    "fractions",
    "outcomes",
    "recorded_outcomes",
    "runtime_policies",
    "small_windows",
    "trip_conditions",
    "verifiable_policies",
]

# --- vocabulary -------------------------------------------------------------------------------

outcomes = st.sampled_from(Outcome)
"""Any Outcome, IGNORED included."""

recorded_outcomes = st.sampled_from([o for o in Outcome if o is not Outcome.IGNORED])
"""The outcomes that count: SUCCESS, FAILURE, SLOW_SUCCESS, SLOW_FAILURE."""


def fractions(*, allow_zero: bool = False) -> st.SearchStrategy[float]:
    """Thresholds as a person writes them: 0.01, 0.02, ..., 1.0 (0.0 too with allow_zero)."""
    return st.integers(0 if allow_zero else 1, 100).map(lambda i: i / 100)


# --- policies ---------------------------------------------------------------------------------


small_windows: st.SearchStrategy[CountWindow | TimeWindow] = st.one_of(
    st.builds(CountWindow, st.integers(1, 8)),
    st.builds(TimeWindow, st.sampled_from([1.0, 5.0, 10.0, 30.0]), st.integers(1, 5)),
)
"""Windows that a few dozen calls fill and a few time steps roll over."""


@st.composite
def default_table_policies(draw: st.DrawFn, *, open_jitter: float = 0.0) -> BreakerPolicy:
    """Policies with the default transition table and small thresholds, so that a few dozen
    random steps reach every state: small windows, minimum_calls 1..6, up to 5 probes."""
    open_duration = draw(st.sampled_from([0.5, 1.0, 5.0, 30.0]))
    return BreakerPolicy(
        failure_rate_threshold=draw(fractions()),
        minimum_calls=draw(st.integers(1, 6)),
        max_consecutive_failures=draw(st.integers(1, 4)),
        window=draw(small_windows),
        slow_call_rate_threshold=draw(fractions()),
        open_duration=open_duration,
        open_backoff=draw(st.sampled_from([1.0, 1.5, 2.0, 3.0])),
        max_open_duration=open_duration * draw(st.sampled_from([1, 2, 10])),
        open_jitter=open_jitter,
        half_open_max_calls=draw(st.integers(1, 5)),
        max_half_open_duration=draw(st.sampled_from([1.0, 10.0, 60.0])),
        health_failures_to_trip=draw(st.integers(1, 3)),
        health_check_can_probe=draw(st.booleans()),
    )


# --- events -----------------------------------------------------------------------------------

detail_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
"""Values a FailoverEvent's details may hold (JSON scalars; finite floats)."""


@st.composite
def events(draw: st.DrawFn) -> FailoverEvent:
    """Any well-formed FailoverEvent over the built-in states (not necessarily a legal one)."""
    return FailoverEvent(
        provider=draw(st.text(min_size=1, max_size=20)),
        seq=draw(st.integers(1, 10**9)),
        source=draw(st.sampled_from(BreakerState)),
        dest=draw(st.sampled_from(BreakerState)),
        reason=draw(st.sampled_from(FailoverReason)),
        at=draw(st.floats(allow_nan=False, allow_infinity=False)),
        generation=draw(st.integers(0, 10**9)),
        details=draw(st.dictionaries(st.text(max_size=10), detail_values, max_size=5)),
    )


# --- conditions -------------------------------------------------------------------------------


@attrs.frozen
class FakeContext:
    """A frozen stand-in for what a condition reads (statemachines.ConditionContext).

    The figures need not be consistent with one another: conditions must not care.
    """

    policy: BreakerPolicy = attrs.field(factory=BreakerPolicy)
    state: BreakerState = BreakerState.CLOSED
    stimulus: Stimulus = Stimulus.OUTCOME
    now: float = 0.0
    entered_at: float = 0.0
    deadline: float | None = None
    calls: int = 0
    failures: int = 0
    slow_calls: int = 0
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    outcome: Outcome | None = None
    signal: FailoverReason | None = None
    retry_after: float | None = None
    probes_admitted: int = 0
    probes_succeeded: int = 0
    probes_failed: int = 0
    health_check_passed: bool | None = None
    consecutive_health_failures: int = 0

    @property
    def failure_rate(self) -> float:
        """failures / calls (0.0 when there are no calls)."""
        return self.failures / self.calls if self.calls else 0.0

    @property
    def slow_call_rate(self) -> float:
        """slow_calls / calls (0.0 when there are no calls)."""
        return self.slow_calls / self.calls if self.calls else 0.0


_small = st.integers(0, 12)
_times = st.sampled_from([0.0, 1.0, 5.0, 10.0, 30.0, 60.0, 100.0])


@st.composite
def condition_contexts(draw: st.DrawFn) -> FakeContext:
    """Random (possibly inconsistent) contexts with small counts, so boundaries get hit."""
    kwargs: dict[str, Any] = {
        name: draw(_small)
        for name in (
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
    }
    return FakeContext(
        now=draw(_times),
        entered_at=draw(_times),
        deadline=draw(st.none() | _times),
        outcome=draw(st.none() | outcomes),
        signal=draw(st.none() | st.sampled_from(FailoverReason)),
        retry_after=draw(st.none() | _times),
        health_check_passed=draw(st.none() | st.booleans()),
        **kwargs,
    )


_counts = st.integers(1, 6)
trip_conditions: st.SearchStrategy[Condition] = st.one_of(
    _counts.map(consecutive_failures),
    st.builds(failure_rate, fractions(), min_calls=_counts),
    st.builds(slow_call_rate, fractions(), min_calls=_counts),
)
"""The built-in conditions over the window (those ``compiled()`` writes inline)."""

builtin_conditions: st.SearchStrategy[Condition] = st.one_of(
    trip_conditions,
    st.sampled_from(FailoverReason).map(signalled),
    _counts.map(health_checks_failed),
    st.just(health_check_passed()),
    st.just(deadline_passed()),
    st.sampled_from([1.0, 10.0, 60.0]).map(timed_out),
    st.builds(probes_failed, fractions(), max_calls=_counts),
    st.builds(probes_succeeded, fractions(), max_calls=_counts),
)
"""One condition made by each built-in factory, with small arguments."""


def _combine(children: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
    return st.one_of(
        st.tuples(children, children).map(lambda p: p[0] | p[1]),
        st.tuples(children, children).map(lambda p: p[0] & p[1]),
        children.map(lambda c: ~c),
    )


composite_conditions: st.SearchStrategy[Condition] = st.recursive(
    builtin_conditions, _combine, max_leaves=6
)
"""Composites of built-in conditions with ``|``, ``&`` and ``~``."""


# --- runtime breakers -------------------------------------------------------------------------


@st.composite
def runtime_policies(draw: st.DrawFn, *, max_probes: int = 4) -> BreakerPolicy:
    """Policies for a runtime CircuitBreaker on a ManualClock: those of
    ``default_table_policies`` with 1..``max_probes`` probes, a slow_call_duration of 1, 5 or
    10 s, and open_jitter off or 0.1 (seeded by the breaker, so runs stay reproducible)."""
    policy = draw(default_table_policies(open_jitter=draw(st.sampled_from([0.0, 0.1]))))
    return policy.with_changes(
        half_open_max_calls=draw(st.integers(1, max_probes)),
        slow_call_duration=draw(st.sampled_from([1.0, 5.0, 10.0])),
    )


# --- policies to verify -----------------------------------------------------------------------


@st.composite
def verifiable_policies(draw: st.DrawFn) -> BreakerPolicy:
    """Valid policies with the built-in table, every threshold and count drawn over a wide range
    (count windows of 1..500 or time windows, tiny and extreme thresholds), for properties of
    ``verify_policy`` and ``to_mermaid``."""
    from statemachines import TimeWindow

    thresholds = fractions() | st.floats(0.0, 1.0, exclude_min=True)
    open_duration = draw(st.floats(0.001, 3600.0))
    window = st.integers(1, 500).map(CountWindow) | st.builds(
        TimeWindow, st.floats(0.1, 3600.0), st.integers(1, 100)
    )
    return BreakerPolicy(
        failure_rate_threshold=draw(thresholds),
        minimum_calls=draw(st.integers(1, 1000)),
        max_consecutive_failures=draw(st.integers(1, 1000)),
        window=draw(window),
        slow_call_rate_threshold=draw(thresholds),
        open_duration=open_duration,
        max_open_duration=open_duration * draw(st.floats(1.0, 100.0)),
        half_open_max_calls=draw(st.integers(1, 50)),
        max_half_open_duration=draw(st.floats(0.001, 3600.0)),
        health_failures_to_trip=draw(st.integers(1, 20)),
        health_check_can_probe=draw(st.booleans()),
    )
