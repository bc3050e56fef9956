"""One call through the breaker as PolicyInterleavings drives it (``Call``), and what the end
of a call must have done to the breaker's figures: a rejection (I3, I4), a recorded outcome
(I5, I6), an ignored one (I6). Each check is an ``assert`` naming the invariant it breaks."""

from __future__ import annotations

import asyncio

import attrs
from hypothesis import event as _note

from failover._breaker.breaker import CircuitBreaker
from failover.errors import CallNotPermitted
from failover.testing._strategies import CallOutcome
from statemachines import BreakerState, MachineSnapshot, State

__all__ = ["Call", "check_ignored", "check_recorded", "check_rejection", "window_of"]

_S = BreakerState
_WINDOW = (
    "state",
    "generation",
    "seq",
    "calls",
    "failures",
    "slow_calls",
    "consecutive_failures",
    "consecutive_successes",
    "probes_admitted",
    "probes_succeeded",
    "probes_failed",
)


def window_of(snapshot: MachineSnapshot) -> dict[str, object]:
    """The figures that a stale or cancelled call must not change."""
    return {name: getattr(snapshot, name) for name in _WINDOW}


@attrs.define(eq=False)
class Call:
    """One call through the breaker, seen from the provider's side."""

    number: int
    future: asyncio.Future[CallOutcome]
    task: asyncio.Task[object] | None = None
    entered_state: State | None = None
    entered_seq: int = -1
    generation: int = -1
    started: float = 0.0
    result: object = attrs.field(factory=object)
    error: BaseException | None = None


def check_rejection(
    exc: CallNotPermitted, breaker: CircuitBreaker, before: MachineSnapshot, now: float
) -> None:
    """A rejection names the breaker and its state; in HALF_OPEN every probe permit is taken
    (I3); in OPEN it says when to retry, later than ``now``, and in FORCED_OPEN never (I4)."""
    state = breaker.state
    assert (exc.provider, exc.state) == (breaker.name, state), (
        f"I4: CallNotPermitted names {exc.provider!r} in {exc.state!r}, "
        f"not {breaker.name!r} in {state!r}"
    )
    if state is _S.HALF_OPEN:
        taken = breaker.link().recorded().probes_admitted
        limit = breaker.policy.half_open_max_calls
        assert taken == limit, f"I3: rejected in HALF_OPEN with {taken} of {limit} probes"
    elif state.admits_calls:
        raise AssertionError(f"I4: a call was rejected in {state.value}, which admits calls")
    elif state is _S.OPEN:
        assert exc.retry_at is not None, "I4: a rejection in OPEN without retry_at"
        assert exc.retry_at > now, f"I4: OPEN rejects with retry_at {exc.retry_at} <= {now}"
    elif state is _S.FORCED_OPEN:
        assert exc.retry_at is None, f"I4: FORCED_OPEN rejects with retry_at {exc.retry_at}"
    _note(f"rejected in {state.value} (was {before.state.value})")


def check_recorded(
    call: Call,
    outcome: CallOutcome,
    before: MachineSnapshot,
    after: MachineSnapshot,
    slow: bool,
) -> None:
    """A finished call changed no figure of a later generation (I5) and counted once, as what
    it was (I6); a bad request is ignored (``check_ignored``). ``slow``: it took at least the
    policy's slow_call_duration."""
    stale = call.generation != before.generation
    _note(f"finished a call of {'an earlier' if stale else 'the current'} generation")
    if stale:
        assert window_of(after) == window_of(before), (
            f"I5: call #{call.number}, admitted in generation {call.generation}, changed "
            f"generation {before.generation}: {window_of(before)} -> {window_of(after)}"
        )
    if outcome.kind == "bad_request":
        check_ignored(call, before, after)
        return
    expected = (
        before.lifetime_calls + 1,
        before.lifetime_failures + (call.error is not None),
        before.lifetime_slow + slow,
        before.lifetime_stale + stale,
    )
    recorded = (after.lifetime_calls, after.lifetime_failures, after.lifetime_slow)
    assert (*recorded, after.lifetime_stale) == expected, (
        f"I6: call #{call.number} was recorded as {recorded}, expected {expected}"
    )


def check_ignored(call: Call, before: MachineSnapshot, after: MachineSnapshot) -> None:
    """An ignored call records nothing; a probe of this HALF_OPEN gives its permit back."""
    assert (after.lifetime_calls, after.lifetime_ignored) == (
        before.lifetime_calls,
        before.lifetime_ignored + 1,
    ), f"I6: ignored call #{call.number} was recorded"
    probe = before.state is _S.HALF_OPEN and call.generation == before.generation
    expected = attrs.evolve(before, probes_admitted=before.probes_admitted - probe)
    assert window_of(after) == window_of(expected), (
        f"I6: ignored call #{call.number} changed the window: "
        f"{window_of(before)} -> {window_of(after)}"
    )
