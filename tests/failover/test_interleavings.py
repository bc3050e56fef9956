"""Interleavings: many asyncio tasks on one CircuitBreaker, hypothesis choosing the schedule.

Every in-flight call is a task blocked inside the provider function on a future that the test
resolves, so hypothesis decides which call finishes next and how (success, failure, slow, a 429
with a Retry-After, a bad request), which caller cancels, when a new call starts, when time
(a ManualClock) advances and when an operator or a health check steps in. After every step the
invariants of DESIGN.md hold: I1 (gapless events, declared transitions only), I2 (replay gives
the state), I3 (probes inside the provider never exceed half_open_max_calls), I4 (no call
reaches the provider while OPEN or FORCED_OPEN), I5 (a call admitted before a transition never
changes the window after it) and I6 (each call ends with the provider's own result or
exception, CallNotPermitted, or CancelledError for a cancelled caller, which records nothing).
"""

from __future__ import annotations

import asyncio
import itertools

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from failover import (
    BadRequest,
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
    FailoverEvent,
    ManualClock,
    RateLimited,
    Unavailable,
)
from statemachines import MachineSnapshot, State, replay
from tests import strategies as sts

S = BreakerState
BLOCKING = (S.OPEN, S.FORCED_OPEN)
KINDS = ("success", "failure", "slow_success", "slow_failure", "rate_limited", "bad_request")
OPERATIONS = ("tick", "tick", "health_passed", "health_failed", "force_open", "reset", "disable")
WINDOW = (
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
    """The figures a stale or cancelled call must not change."""
    return {name: getattr(snapshot, name) for name in WINDOW}


@attrs.define(eq=False)
class Call:
    """One call through the breaker, seen from the provider's side."""

    number: int
    future: asyncio.Future[str]
    task: asyncio.Task[object] | None = None
    entered_state: State | None = None
    generation: int = -1
    started: float = 0.0
    result: object = attrs.field(factory=object)
    error: BaseException | None = None


class Interleavings(RuleBasedStateMachine):
    """One breaker, one ManualClock, one event loop, many calls in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock()
        self.numbers = itertools.count()
        self.in_flight: list[Call] = []
        self.inside: set[Call] = set()
        self.entry_states: list[State] = []
        self.delivered: list[FailoverEvent] = []
        self.checked = 0  # events already checked by I1

    @initialize(policy=sts.runtime_policies())
    def build(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self.table = policy.transition_table()
        self.breaker = CircuitBreaker(
            "p", policy, clock=self.clock, hooks=[self.delivered.append], history=100_000
        )

    def teardown(self) -> None:
        for call in self.in_flight:
            assert call.task is not None
            call.task.cancel()
        self._settle()
        self.loop.close()

    # --- the provider and the loop ------------------------------------------------------------

    async def _provider(self, call: Call) -> object:
        snapshot = self._figures()
        call.entered_state, call.generation = snapshot.state, snapshot.generation
        call.started = self.clock.monotonic()
        self.entry_states.append(snapshot.state)
        self.inside.add(call)
        try:
            kind = await call.future
        finally:
            self.inside.discard(call)
        if kind.startswith("slow"):
            self.clock.advance(self.policy.slow_call_duration)
        if call.error is not None:
            raise call.error
        return call.result

    def _settle(self) -> None:
        """Run the loop for a few iterations: woken tasks run to their next await or end."""
        for _ in range(3):
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()

    def _pick(self, pick: int) -> Call:
        return self.in_flight.pop(pick % len(self.in_flight))

    # --- rules --------------------------------------------------------------------------------

    @rule(count=st.integers(1, 5))
    def start_calls(self, count: int) -> None:
        """``count`` callers arrive at once (their tasks first run in the same loop turn)."""
        before = self._figures()
        calls = [Call(next(self.numbers), self.loop.create_future()) for _ in range(count)]
        for call in calls:
            call.task = self.loop.create_task(self.breaker.acall(self._provider, call))
        self._settle()
        for call in calls:
            assert call.task is not None
            if not call.task.done():
                assert call in self.inside
                self.in_flight.append(call)
                continue
            exc = call.task.exception()
            assert isinstance(exc, CallNotPermitted), exc  # I6: a rejection, nothing else
            assert call.entered_state is None  # I4: the provider was not reached
            self._check_rejection(exc, before)

    def _check_rejection(self, exc: CallNotPermitted, before: MachineSnapshot) -> None:
        state, now = self.breaker.state, self.clock.monotonic()
        assert (exc.provider, exc.state) == ("p", state)
        assert before.state not in (S.CLOSED, S.DISABLED)
        if state is S.HALF_OPEN:  # every permit is taken
            assert self._figures().probes_admitted == self.policy.half_open_max_calls
        elif state is S.OPEN:  # the cooldown has not passed (else it would have probed)
            assert exc.retry_at is not None
            assert exc.retry_at > now
        else:
            assert state is S.FORCED_OPEN
            assert exc.retry_at is None

    @precondition(lambda self: self.in_flight)
    @rule(
        pick=st.integers(0, 31),
        kind=st.sampled_from(KINDS),
        retry_after=st.sampled_from([None, 1.0, 120.0]),
    )
    def finish_call(self, pick: int, kind: str, retry_after: float | None) -> None:
        call = self._pick(pick)
        if kind.endswith("failure"):
            call.error = Unavailable("503", provider="p")
        elif kind == "rate_limited":
            call.error = RateLimited("429", provider="p", retry_after=retry_after)
        elif kind == "bad_request":
            call.error = BadRequest("400", provider="p")
        before = self._figures()
        call.future.set_result(kind)
        self._settle()
        assert call.task is not None
        assert call.task.done()
        if call.error is None:  # I6: the provider's own result or exception, unchanged
            assert call.task.result() is call.result
        else:
            assert call.task.exception() is call.error
        self._check_recorded(call, before, self._figures())

    def _figures(self) -> MachineSnapshot:
        """The machine's figures as recorded, without aging a time window to the clock's now:
        a slow call moves the clock, and aging is not what these checks are about."""
        return self.breaker._machine.snapshot()

    def _check_recorded(self, call: Call, before: MachineSnapshot, after: MachineSnapshot) -> None:
        stale = call.generation != before.generation
        event(f"finished a call of {'an earlier' if stale else 'the current'} generation")
        if stale:  # I5: a call admitted before a transition leaves the window after it alone
            assert window_of(after) == window_of(before)
        if isinstance(call.error, BadRequest):
            self._check_ignored(call, before, after)
            return
        slow = self.clock.monotonic() - call.started >= self.policy.slow_call_duration
        assert after.lifetime_calls == before.lifetime_calls + 1
        assert after.lifetime_failures == before.lifetime_failures + (call.error is not None)
        assert after.lifetime_slow == before.lifetime_slow + slow
        assert after.lifetime_stale == before.lifetime_stale + stale

    def _check_ignored(self, call: Call, before: MachineSnapshot, after: MachineSnapshot) -> None:
        """An IGNORED call records nothing; a probe of this HALF_OPEN gives its permit back."""
        assert after.lifetime_calls == before.lifetime_calls
        assert after.lifetime_ignored == before.lifetime_ignored + 1
        probe = before.state is S.HALF_OPEN and call.generation == before.generation
        expected = attrs.evolve(before, probes_admitted=before.probes_admitted - probe)
        assert window_of(after) == window_of(expected)

    @precondition(lambda self: self.in_flight)
    @rule(pick=st.integers(0, 31))
    def cancel_call(self, pick: int) -> None:
        call = self._pick(pick)
        before = self._figures()
        assert call.task is not None
        call.task.cancel()
        self._settle()
        assert call.task.cancelled()  # I6: the caller sees its CancelledError
        self._check_ignored(call, before, self._figures())

    @rule(seconds=st.sampled_from([0.5, 1.0, 5.0, 30.0, 300.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def advance_to_retry_at(self) -> None:
        """Move time exactly to the moment a rejected call may be retried (a boundary)."""
        retry_at, now = self.breaker.retry_at, self.clock.monotonic()
        if retry_at is not None and retry_at > now:
            self.clock.advance(retry_at - now)

    @rule(operation=st.sampled_from(OPERATIONS))
    def operate(self, operation: str) -> None:
        if operation == "tick":
            self.breaker.tick()
        elif operation.startswith("health"):
            self.breaker.record_health_check(operation == "health_passed")
        else:
            event = getattr(self.breaker, operation)()
            assert event == self.breaker.events[-1]

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def events_are_declared_and_gapless(self) -> None:  # I1
        events = self.breaker.events
        assert list(events) == self.delivered  # hooks saw each event once, in seq order
        for e in events[self.checked :]:
            assert e.seq == self.checked + 1, e
            assert any(
                t.name == e.trigger and t.leaves(e.source) and t.dest == e.dest for t in self.table
            ), e
            self.checked += 1

    @invariant()
    def replay_gives_the_state(self) -> None:  # I2
        assert replay(self.breaker.events, self.policy) == self.breaker.state

    @invariant()
    def probes_stay_within_the_limit(self) -> None:  # I3, counted from the provider's side
        snapshot = self._figures()
        assert snapshot.probes_in_flight >= 0
        if snapshot.state is not S.HALF_OPEN:
            return
        probes = [
            c
            for c in self.inside
            if c.entered_state is S.HALF_OPEN and c.generation == snapshot.generation
        ]
        assert len(probes) <= self.policy.half_open_max_calls
        event(f"{len(probes)} of {self.policy.half_open_max_calls} probes in flight")
        assert len(probes) == snapshot.probes_in_flight

    @invariant()
    def nothing_reaches_the_provider_while_open(self) -> None:  # I4
        assert not any(state in BLOCKING for state in self.entry_states)


TestInterleavings = Interleavings.TestCase
TestInterleavings.settings = settings(stateful_step_count=30)
# About 25 s of CPU under the ci profile: marked slow, and still run by `make test` (which
# selects no marker) and by `pytest -m slow`.
TestInterleavings.pytestmark = [pytest.mark.slow]
