"""PolicyInterleavings: a Hypothesis state machine that checks a policy against the invariants
of docs/semantics.md, on a real CircuitBreaker, under any interleaving of calls, time and operators.

Imported by ``failover.testing`` on first use (it needs hypothesis, a test dependency: the extra
``failover[testing]``), never by ``import failover``.

Every call in flight is an asyncio task blocked inside the provider function on a future that a
rule resolves, so Hypothesis decides which call finishes next and how (``CallOutcome``), which
caller cancels, when new calls arrive, when a ManualClock moves and when a health check or an
operator steps in. The checks:

- I1: every event comes from a declared transition; ``seq`` runs 1, 2, 3, ...; the hooks see each
  event once, in order.
- I2: replaying the events through the policy gives the breaker's state.
- I3: while the breaker stays in HALF_OPEN, the probes inside the provider never exceed
  ``half_open_max_calls`` (a transition from HALF_OPEN to itself does not reset the count).
- I4: no call reaches the provider in a state that rejects calls (OPEN, FORCED_OPEN, or a
  policy's own state that does not admit calls); a rejection says which provider, which state
  and, for OPEN, a ``retry_at`` in the future (None for FORCED_OPEN).
- I5: the outcome of a call admitted before a transition never changes the window after it.
- I6: every call ends with the provider's own result or exception, or CallNotPermitted; a
  cancelled call ends cancelled and records nothing (its probe permit is given back).

I7 and I8 are about the coordinator and about whole runs; the kit does not check them.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import ClassVar

from hypothesis import event as _note
from hypothesis import strategies as st
from hypothesis import target
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from failover._breaker.breaker import CircuitBreaker
from failover.clock import ManualClock
from failover.errors import CallNotPermitted
from failover.testing._calls import Call, check_ignored, check_recorded, check_rejection
from failover.testing._strategies import CallOutcome, outcomes
from statemachines import (
    BreakerPolicy,
    BreakerState,
    FailoverEvent,
    FailoverReason,
    MachineSnapshot,
    Stimulus,
    replay,
)

__all__ = ["PolicyInterleavings"]

_S = BreakerState
_STEPS = ("tick", "health_check_passed", "health_check_failed", "operator")


def _outcomes_of(machine: PolicyInterleavings) -> st.SearchStrategy[CallOutcome]:
    return machine.call_outcomes


class PolicyInterleavings(RuleBasedStateMachine):
    """Subclass it, set ``policy``, and run ``TestCase`` under pytest or unittest.

    Class attributes:
        policy: The BreakerPolicy to check, or a Hypothesis strategy of policies (such as
            ``failover.testing.policies(my_policy)``: your states and transitions with small
            thresholds, which reach every state in a few steps).
        max_concurrency: At most this many calls in flight at once (default 12).
        call_outcomes: How calls end (default ``outcomes()``: every kind, maybe slow).
        provider: The breaker's name in events and errors.

    After ``setup``, a rule or invariant of your own may read ``self.breaker`` (the
    CircuitBreaker), ``self.clock`` (its ManualClock) and ``self.delivered`` (the events its
    hook received).
    """

    policy: ClassVar[BreakerPolicy | st.SearchStrategy[BreakerPolicy] | None] = None
    max_concurrency: ClassVar[int] = 12
    call_outcomes: ClassVar[st.SearchStrategy[CallOutcome]] = outcomes()
    provider: ClassVar[str] = "provider"

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock()
        self.delivered: list[FailoverEvent] = []
        self._numbers = itertools.count()
        self._in_flight: list[Call] = []
        self._inside: set[Call] = set()
        self._reached_while_rejecting: list[str] = []
        self._checked = 0  # events already checked by I1
        self._most_probes = 0  # the most probes seen in the provider in one HALF_OPEN

    @initialize(data=st.data())
    def setup(self, data: st.DataObject) -> None:
        """Build the breaker over the policy (drawn, if ``policy`` is a strategy)."""
        policy = type(self).policy
        if isinstance(policy, st.SearchStrategy):
            policy = data.draw(policy, label="policy")
        if not isinstance(policy, BreakerPolicy):
            raise TypeError(
                f"{type(self).__name__}.policy must be a BreakerPolicy or a strategy of them, "
                f"got {policy!r}; e.g. class MyInterleavings(PolicyInterleavings): "
                "policy = BreakerPolicy(max_consecutive_failures=5)"
            )
        self.breaker = CircuitBreaker(
            self.provider, policy, clock=self.clock, hooks=[self.delivered.append], history=10**6
        )

    def teardown(self) -> None:
        """Cancel the calls still in flight and close the event loop."""
        # Steer the search towards runs that crowd HALF_OPEN, where I3 can break.
        target(self._most_probes, label="most probes in one HALF_OPEN")
        for call in self._in_flight:
            if call.task is not None:
                call.task.cancel()
        self._settle()
        self.loop.close()

    # --- the provider and the loop ----------------------------------------------------------

    async def _provider(self, call: Call) -> object:
        machine = self._figures()
        call.entered_state, call.generation = machine.state, machine.generation
        call.entered_seq, call.started = machine.seq, self.clock.monotonic()
        if not machine.state.admits_calls:
            self._reached_while_rejecting.append(f"call #{call.number} in {machine.state.value}")
        self._inside.add(call)
        try:
            outcome = await call.future
        finally:
            self._inside.discard(call)
        if outcome.slow:
            self.clock.advance(self.breaker.policy.slow_call_duration)
        if call.error is not None:
            raise call.error
        return call.result

    def _settle(self) -> None:
        """Run the loop a few turns: woken tasks run to their next await or to their end."""
        for _ in range(3):
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()

    def _figures(self) -> MachineSnapshot:
        """The figures as recorded, without aging a time window to the clock's now (the
        successes the fast path counted folded in first)."""
        return self.breaker.link().recorded()

    def _pick(self, pick: int) -> Call:
        return self._in_flight.pop(pick % len(self._in_flight))

    # --- calls ------------------------------------------------------------------------------

    @precondition(lambda self: len(self._in_flight) < self.max_concurrency)
    @rule(count=st.integers(1, 5))
    def start_calls(self, count: int) -> None:
        """``count`` callers arrive at once; those rejected must be rejected properly (I4)."""
        before = self._figures()
        count = min(count, self.max_concurrency - len(self._in_flight))
        calls = [Call(next(self._numbers), self.loop.create_future()) for _ in range(count)]
        for call in calls:
            call.task = self.loop.create_task(self.breaker.acall(self._provider, call))
        self._settle()
        # every rejection's exception is read first: none is left "never retrieved"
        ended = {c: c.task.exception() for c in calls if c.task is not None and c.task.done()}
        for call in calls:
            assert call.task is not None
            if call not in ended:
                assert call in self._inside, f"I6: call #{call.number} is stuck before the provider"
                self._in_flight.append(call)
                continue
            exc = ended[call]
            assert isinstance(exc, CallNotPermitted), (
                f"I6: call #{call.number} ended with {exc!r} before reaching the provider; "
                "only CallNotPermitted may"
            )
            check_rejection(exc, self.breaker, before, self.clock.monotonic())

    @precondition(lambda self: self._in_flight)
    @rule(pick=st.integers(0, 31), outcome=st.runner().flatmap(_outcomes_of))
    def finish_call(self, pick: int, outcome: CallOutcome) -> None:
        """A call in flight ends as ``outcome``; its caller gets exactly that (I6, I5)."""
        call = self._pick(pick)
        call.error = outcome.error(self.provider)
        before = self._figures()
        call.future.set_result(outcome)
        self._settle()
        assert call.task is not None
        assert call.task.done(), f"I6: call #{call.number} did not end once the provider answered"
        got = call.task.exception()
        if call.error is None:
            assert got is None, f"I6: call #{call.number} ended with {got!r}, not its result"
            assert call.task.result() is call.result, f"I6: call #{call.number}'s result changed"
        else:
            assert got is call.error, (
                f"I6: call #{call.number} ended with {got!r}, not the provider's {call.error!r}"
            )
        slow = self.clock.monotonic() - call.started >= self.breaker.policy.slow_call_duration
        check_recorded(call, outcome, before, self._figures(), slow)

    @precondition(lambda self: self._in_flight)
    @rule(pick=st.integers(0, 31))
    def cancel_call(self, pick: int) -> None:
        """A caller gives up: it sees CancelledError, and nothing is recorded (I6)."""
        call = self._pick(pick)
        before = self._figures()
        assert call.task is not None
        call.task.cancel()
        self._settle()
        assert call.task.cancelled(), f"I6: cancelled call #{call.number} was not cancelled"
        check_ignored(call, before, self._figures())

    # --- time, health checks, operators ---------------------------------------------------------

    @rule(seconds=st.sampled_from([0.5, 1.0, 5.0, 30.0, 300.0]))
    def advance(self, seconds: float) -> None:
        """Time passes."""
        self.clock.advance(seconds)

    @rule()
    def advance_to_deadline(self) -> None:
        """Time moves exactly to the current state's deadline (a boundary), if ahead."""
        deadline, now = self._figures().deadline, self.clock.monotonic()
        if deadline is not None and deadline > now:
            self.clock.advance(deadline - now)

    @rule(what=st.sampled_from(_STEPS), data=st.data())
    def step_in(self, what: str, data: st.DataObject) -> None:
        """Something other than a call happens: the breaker checks its time-driven transitions
        (``tick``), an active health check ends, or an operator fires a MANUAL transition."""
        if what == "tick":
            self.breaker.tick()
        elif what.startswith("health_check"):
            self.breaker.record_health_check(what == "health_check_passed")
        else:
            self.operate(data)

    def operate(self, data: st.DataObject) -> None:
        """Fire one of the MANUAL transitions that leave the current state, if any."""
        state = self.breaker.state
        names = list(
            dict.fromkeys(
                t.name
                for t in self.breaker.policy.transition_table()
                if t.on is Stimulus.MANUAL and t.leaves(state)
            )
        )
        if names:
            fired = self.breaker.fire(data.draw(st.sampled_from(names), label="trigger"))
            assert fired == self.breaker.events[-1], f"I1: fire() returned {fired!r}, not logged"

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def events_are_declared_and_gapless(self) -> None:
        """I1."""
        events = self.breaker.events
        assert list(events) == self.delivered, "I1: the hooks did not see each event once"
        table = self.breaker.policy.transition_table()
        for e in events[self._checked :]:
            assert e.seq == self._checked + 1, f"I1: seq {e.seq} after {self._checked}: {e!r}"
            assert any(
                t.name == e.trigger and t.leaves(e.source) and t.dest == e.dest for t in table
            ), f"I1: no declared transition made {e!r}"
            self._checked += 1

    @invariant()
    def replay_gives_the_state(self) -> None:
        """I2. (The state is read first: reading it fires any due time-driven transition.)"""
        state = self.breaker.state
        replayed = replay(self.breaker.events, self.breaker.policy)
        assert replayed == state, (
            f"I2: the events replay to {replayed!r}, the breaker is in {state!r}"
        )

    @invariant()
    def probes_stay_within_the_limit(self) -> None:
        """I3, counted from the provider's side."""
        figures = self._figures()
        assert figures.probes_in_flight >= 0, f"I3: {figures.probes_in_flight} probes in flight"
        if figures.state is not _S.HALF_OPEN:
            return
        since = self._half_open_since()
        probes = [c for c in self._inside if c.entered_state is _S.HALF_OPEN]
        episode = [c for c in probes if c.entered_seq >= since]
        limit = self.breaker.policy.half_open_max_calls
        _note(f"{len(episode)} of {limit} probes in flight")
        self._most_probes = max(self._most_probes, len(episode))
        assert len(episode) <= limit, (
            f"I3: {len(episode)} probes in the provider while HALF_OPEN (since event #{since}); "
            f"half_open_max_calls is {limit}"
        )
        current = [c for c in probes if c.generation == figures.generation]
        assert len(current) == figures.probes_in_flight, (
            f"I3: {len(current)} probes of this generation in the provider, the breaker counts "
            f"{figures.probes_in_flight}"
        )

    def _half_open_since(self) -> int:
        """The seq of the event that started this HALF_OPEN round (0 if none): entering it
        from another state, or an operator re-entering it (a MANUAL HALF_OPEN -> HALF_OPEN,
        such as pybreaker's ``half_open()``, deliberately starts a new round; a transition the
        policy fires by itself does not, so it cannot hand out probes beyond the limit)."""
        for e in reversed(self.breaker.events):
            if e.dest is _S.HALF_OPEN and (
                e.source is not _S.HALF_OPEN or e.reason is FailoverReason.MANUAL
            ):
                return e.seq
        return 0

    @invariant()
    def no_condition_raises(self) -> None:
        """L4: a raising condition counts as not holding at run time; here it is a defect."""
        figures = self.breaker.statistics()
        assert not figures.condition_errors, (
            f"L4: a condition of the policy raised ({figures.condition_errors} times), last: "
            f"{figures.last_condition_error}; at run time it counts as not holding"
        )

    @invariant()
    def nothing_reaches_the_provider_while_rejecting(self) -> None:
        """I4."""
        assert not self._reached_while_rejecting, (
            f"I4: the provider was called in a state that rejects calls: "
            f"{self._reached_while_rejecting}"
        )
