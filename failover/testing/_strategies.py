"""Hypothesis strategies of the test kit: call outcomes, fault schedules and policies.

Imported by ``failover.testing`` on first use (it needs hypothesis, a test dependency: the extra
``failover[testing]``), never by ``import failover``.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from typing import Literal, TypeAlias

import attrs
from hypothesis import strategies as st

from failover.clock import Clock
from failover.errors import BadRequest, ProviderError, RateLimited, Unauthorized, Unavailable
from failover.testing._scripted import Handler, ScriptedRequest
from statemachines import (
    BreakerPolicy,
    CountWindow,
    FailoverReason,
    Outcome,
    TimeWindow,
)

__all__ = [
    "CALL_KINDS",
    "CallKind",
    "CallOutcome",
    "Fault",
    "FaultSchedule",
    "fault_schedules",
    "outcomes",
    "policies",
]

CallKind: TypeAlias = Literal["success", "failure", "rate_limited", "auth_failed", "bad_request"]
CALL_KINDS: tuple[CallKind, ...] = (
    "success",
    "failure",
    "rate_limited",
    "auth_failed",
    "bad_request",
)
"""Every kind of call outcome, in the order ``outcomes()`` shrinks towards (success first)."""

_SIGNALS: dict[CallKind, FailoverReason] = {
    "rate_limited": FailoverReason.RATE_LIMITED,
    "auth_failed": FailoverReason.AUTH_FAILED,
}


@attrs.frozen
class CallOutcome:
    """How one call to a provider ends, as a provider would end it.

    Attributes:
        kind: "success" (an answer), "failure" (``Unavailable``, a 5xx), "rate_limited"
            (``RateLimited``, a 429), "auth_failed" (``Unauthorized``, a 401) or "bad_request"
            (``BadRequest``, the caller's fault: never recorded).
        slow: Whether the call lasts at least the policy's ``slow_call_duration``.
        retry_after: The Retry-After of a 429, in seconds (None: none given).
    """

    kind: CallKind = "success"
    slow: bool = False
    retry_after: float | None = None

    def error(self, provider: str) -> ProviderError | None:
        """The exception the provider raises (a new one each time); None for a success."""
        if self.kind == "failure":
            return Unavailable("503 Service Unavailable (scripted)", provider=provider, status=503)
        if self.kind == "rate_limited":
            return RateLimited(
                "429 Too Many Requests (scripted)",
                provider=provider,
                retry_after=self.retry_after,
                status=429,
            )
        if self.kind == "auth_failed":
            return Unauthorized("401 Unauthorized (scripted)", provider=provider, status=401)
        if self.kind == "bad_request":
            return BadRequest("400 Bad Request (scripted)", provider=provider, status=400)
        return None

    @property
    def outcome(self) -> Outcome:
        """What the default classifier makes of it (IGNORED for a bad request)."""
        if self.kind == "bad_request":
            return Outcome.IGNORED
        return Outcome.of(failed=self.kind != "success", slow=self.slow)

    @property
    def signal(self) -> FailoverReason | None:
        """The signal the breaker records beside the failure (RATE_LIMITED, AUTH_FAILED)."""
        return _SIGNALS.get(self.kind)


def outcomes(
    *,
    kinds: Sequence[CallKind] = CALL_KINDS,
    slow: bool = True,
    retry_afters: Sequence[float | None] = (None, 1.0, 120.0),
) -> st.SearchStrategy[CallOutcome]:
    """Call outcomes of the given kinds.

    Args:
        kinds: The kinds to draw from (all by default).
        slow: Whether outcomes may be slow.
        retry_afters: The Retry-After values a 429 may carry (None: none given).

    Returns:
        A strategy of CallOutcome; it shrinks towards a fast success.
    """
    if not kinds or any(kind not in CALL_KINDS for kind in kinds):
        raise ValueError(f"outcomes(kinds=...) takes some of {CALL_KINDS!r}, got {kinds!r}")
    return st.builds(
        _outcome,
        st.sampled_from(tuple(kinds)),
        st.booleans() if slow else st.just(False),
        st.sampled_from(tuple(retry_afters)) if retry_afters else st.none(),
    )


def _outcome(kind: CallKind, slow: bool, retry_after: float | None) -> CallOutcome:
    return CallOutcome(kind, slow, retry_after if kind == "rate_limited" else None)


# --- fault schedules ---------------------------------------------------------------------------


@attrs.frozen
class Fault:
    """Every call that starts in ``[start, end)`` ends as ``outcome``.

    Attributes:
        start: When the fault begins, in the clock's seconds.
        end: When it ends (after ``start``).
        outcome: How the calls end meanwhile.
    """

    start: float
    end: float
    outcome: CallOutcome

    def __attrs_post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError(
                f"Fault(start, end, outcome) needs end > start, got start={self.start!r}, "
                f"end={self.end!r}"
            )


def _sorted_faults(faults: Sequence[Fault]) -> tuple[Fault, ...]:
    ordered = tuple(sorted(faults, key=lambda f: f.start))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"FaultSchedule faults overlap: {before!r} and {after!r}")
    return ordered


@attrs.frozen
class FaultSchedule:
    """A provider's faults over time; outside them every call succeeds.

    Attributes:
        faults: Non-overlapping faults, sorted by start (given in any order).
    """

    faults: tuple[Fault, ...] = attrs.field(default=(), converter=_sorted_faults)

    def outcome_at(self, now: float) -> CallOutcome:
        """How a call that starts at ``now`` ends."""
        index = bisect.bisect_right([f.start for f in self.faults], now) - 1
        if index >= 0 and now < self.faults[index].end:
            return self.faults[index].outcome
        return CallOutcome()

    def handler(self, clock: Clock, answer: object = "ok") -> Handler:
        """A ScriptedProvider handler that follows this schedule on ``clock``.

        A slow call first sleeps 30 s on the clock (the default ``slow_call_duration``); then a
        failing call raises the outcome's error, and a successful one answers ``answer`` (True
        to a health check).
        """
        return _ScheduledHandler(self, clock, answer)


@attrs.frozen
class _ScheduledHandler:
    schedule: FaultSchedule
    clock: Clock
    answer: object
    slow_for: float = 30.0

    async def __call__(self, request: ScriptedRequest) -> object:
        outcome = self.schedule.outcome_at(self.clock.monotonic())
        if outcome.slow:
            await self.clock.sleep(self.slow_for)
        error = outcome.error(request.provider)
        if error is not None:
            raise error
        return True if request.kind == "health_check" else self.answer


@st.composite
def fault_schedules(
    draw: st.DrawFn,
    *,
    horizon: float = 600.0,
    max_faults: int = 4,
    outcome: st.SearchStrategy[CallOutcome] | None = None,
) -> FaultSchedule:
    """Schedules of up to ``max_faults`` faults within ``[0, horizon)``.

    Args:
        horizon: The faults start and end within ``[0, horizon)`` seconds.
        max_faults: At most this many faults.
        outcome: How faulty calls end (default: failures, 429s and 401s, maybe slow).

    Returns:
        A strategy of FaultSchedule; it shrinks towards no fault at all.
    """
    if outcome is None:
        outcome = outcomes(kinds=("failure", "rate_limited", "auth_failed"))
    count = draw(st.integers(0, max_faults))
    bounds = draw(
        st.lists(
            st.integers(0, int(horizon * 10)), min_size=2 * count, max_size=2 * count, unique=True
        )
    )
    edges = sorted(bound / 10 for bound in bounds)
    return FaultSchedule(
        tuple(Fault(edges[i], edges[i + 1], draw(outcome)) for i in range(0, len(edges), 2))
    )


# --- policies ------------------------------------------------------------------------------------


def _fractions() -> st.SearchStrategy[float]:
    return st.integers(1, 100).map(lambda i: i / 100)


@st.composite
def policies(
    draw: st.DrawFn,
    base: BreakerPolicy | None = None,
    *,
    max_probes: int = 4,
    open_jitter: bool = True,
) -> BreakerPolicy:
    """``base`` (the default policy when None) with small, random thresholds and durations.

    The states, transitions, removed transitions and trip condition of ``base`` are kept; the
    numbers change so that a few dozen random steps reach every state: windows of 1..8 calls or
    a few seconds, minimum_calls 1..6, 1..``max_probes`` probes, durations of 0.5..60 s.

    Args:
        base: The policy whose structure is kept.
        max_probes: The largest ``half_open_max_calls`` drawn.
        open_jitter: Whether ``open_jitter`` may be 0.1 (else 0).

    Returns:
        A strategy of BreakerPolicy.
    """
    base = base if base is not None else BreakerPolicy()
    open_duration = draw(st.sampled_from([0.5, 1.0, 5.0, 30.0]))
    window = draw(
        st.one_of(
            st.builds(CountWindow, st.integers(1, 8)),
            st.builds(TimeWindow, st.sampled_from([1.0, 5.0, 10.0, 30.0]), st.integers(1, 5)),
        )
    )
    return base.with_changes(
        failure_rate_threshold=draw(_fractions()),
        minimum_calls=draw(st.integers(1, 6)),
        max_consecutive_failures=draw(st.integers(1, 4)),
        window=window,
        slow_call_duration=draw(st.sampled_from([1.0, 5.0, 10.0])),
        slow_call_rate_threshold=draw(_fractions()),
        open_duration=open_duration,
        open_backoff=draw(st.sampled_from([1.0, 1.5, 2.0, 3.0])),
        max_open_duration=open_duration * draw(st.sampled_from([1, 2, 10])),
        open_jitter=draw(st.sampled_from([0.0, 0.1])) if open_jitter else 0.0,
        half_open_max_calls=draw(st.integers(1, max_probes)),
        max_half_open_duration=draw(st.sampled_from([1.0, 10.0, 60.0])),
        health_failures_to_trip=draw(st.integers(1, 3)),
        health_check_can_probe=draw(st.booleans()),
    )
