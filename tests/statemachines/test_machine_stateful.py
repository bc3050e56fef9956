"""Stateful tests: a BreakerMachine driven by random stimuli, beside the reference model.

Checks the invariants (docs/semantics.md) after every step: I1 (declared transitions only, one
event each, gapless seq), I2 (replay gives the current state), I3 (probes in flight never exceed
half_open_max_calls), I5 (a stale outcome changes nothing but lifetime statistics), and that the
machine agrees with ``reference_model.ReferenceBreaker`` on every answer and every transition.
"""

from __future__ import annotations

import itertools
import math

import attrs
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from statemachines import (
    BreakerMachine,
    BreakerPolicy,
    BreakerState,
    FailoverEvent,
    FailoverReason,
    MachineSnapshot,
    Outcome,
    TimeWindow,
    replay,
)
from tests import strategies as sts
from tests.statemachines.reference_model import ReferenceBreaker, Step

R = FailoverReason
FAILED = st.sampled_from([Outcome.FAILURE, Outcome.SLOW_FAILURE])
RETRY_AFTERS = st.sampled_from([0.25, 3.0, 45.0, 1000.0])

# What the provider said beside the outcome: mostly nothing, sometimes a 429 (with or without a
# Retry-After), a 401, or a bare Retry-After (a 503). Only failures carry it.
SAID = [None] * 6 + ["rate_limited", "rate_limited_retry_after", "auth_failed", "retry_after"]
Report = tuple[Outcome, FailoverReason | None, float | None]


@st.composite
def reports(draw: st.DrawFn) -> Report:
    """A finished call's report: (outcome, signal, retry_after)."""
    outcome, said = draw(sts.recorded_outcomes), draw(st.sampled_from(SAID))
    if said is None or not outcome.failed:
        return outcome, None, None
    signal = None if said == "retry_after" else FailoverReason(said.removesuffix("_retry_after"))
    retry_after = draw(RETRY_AFTERS) if said.endswith("retry_after") else None
    return outcome, signal, retry_after


small_steps = st.sampled_from([0.001, 0.1, 0.5, 1.0, 2.5, 7.0])
time_targets = st.sampled_from(
    [
        "zero",
        "small",
        "open_until",
        "just_before_open_until",
        "half_open_timeout",
        "next_bucket",
        "window_span",
        "huge",
    ]
)
LIFETIME = frozenset(f.name for f in attrs.fields(MachineSnapshot) if f.name.startswith("life"))


@attrs.frozen
class Call:
    """A call the machine admitted: its generation, and a number to tell calls apart."""

    generation: int
    number: int


def step_of(e: FailoverEvent) -> Step:
    """The reference model's view of an event."""
    assert isinstance(e.source, BreakerState)
    assert isinstance(e.dest, BreakerState)
    return Step(e.source, e.dest, e.reason, e.at, e.generation)


def figures(snapshot: MachineSnapshot) -> dict[str, object]:
    """Everything in a snapshot except the lifetime statistics."""
    return {k: v for k, v in attrs.asdict(snapshot).items() if k not in LIFETIME}


class BreakerComparison(RuleBasedStateMachine):
    """Drives one BreakerMachine and one ReferenceBreaker with the same stimuli."""

    calls = Bundle("calls")

    def __init__(self) -> None:
        super().__init__()
        self.events: list[FailoverEvent] = []
        self.outstanding: set[Call] = set()
        self.numbers = itertools.count()
        self.now = 0.0

    @initialize(policy=sts.default_table_policies())
    def start(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self.table = policy.transition_table()
        self.machine = BreakerMachine("p", policy, now=0.0, on_event=self.events.append)
        self.model = ReferenceBreaker(policy, now=0.0)

    # --- stimuli -------------------------------------------------------------------------------

    @rule(target=calls)
    def admit(self) -> object:
        generation = self.machine.admit(self.now)
        assert generation == self.model.admit(self.now)
        if generation is None:
            return multiple()
        call = Call(generation, next(self.numbers))
        self.outstanding.add(call)
        return call

    @rule(call=consumes(calls), report=reports(), fast=st.booleans())
    def record(self, call: Call, report: Report, fast: bool) -> None:
        self.outstanding.discard(call)
        self._record(call.generation, *report, fast=fast)

    @rule(burst=st.lists(reports(), min_size=1, max_size=6), fast=st.booleans())
    def calls_in_a_row(self, burst: list[Report], fast: bool) -> None:
        for report in burst:
            generation = self.machine.admit(self.now)
            assert generation == self.model.admit(self.now)
            if generation is not None:
                self._record(generation, *report, fast=fast)

    @rule(call=consumes(calls))
    def cancel(self, call: Call) -> None:
        self.outstanding.discard(call)
        before = self.machine.snapshot()
        self._record(call.generation, Outcome.IGNORED, None, None)
        assert self.machine.lifetime_ignored == before.lifetime_ignored + 1

    @precondition(lambda self: self.machine.generation > 0)
    @rule(data=st.data(), outcome=sts.outcomes, signal=st.sampled_from([None, R.RATE_LIMITED]))
    def record_stale(
        self, data: st.DataObject, outcome: Outcome, signal: FailoverReason | None
    ) -> None:
        generation = data.draw(st.integers(0, self.machine.generation - 1), label="generation")
        self._record(generation, outcome, signal, 1000.0 if signal else None)

    @rule(data=st.data(), goal=time_targets)
    def advance(self, data: st.DataObject, goal: str) -> None:
        self.now += max(0.0, self._step_to(goal, data))

    @rule()
    def tick(self) -> None:
        seq = self.machine.seq
        event = self.machine.tick(self.now)
        self.model.tick(self.now)
        assert event is (self.events[-1] if self.machine.seq > seq else None)

    @rule(passed=st.booleans())
    def health_check(self, passed: bool) -> None:
        seq = self.machine.seq
        event = self.machine.health_check(passed, self.now)
        self.model.health_check(passed, self.now)
        assert event is (self.events[-1] if self.machine.seq > seq else None)

    @rule(name=st.sampled_from(["force_open", "disable", "reset"]))
    def manual(self, name: str) -> None:
        event = getattr(self.machine, name)(self.now)
        self.model.manual(name, self.now)
        assert event is self.events[-1]

    # --- helpers -------------------------------------------------------------------------------

    def _record(
        self,
        generation: int,
        outcome: Outcome,
        signal: FailoverReason | None,
        retry_after: float | None,
        *,
        fast: bool = False,
    ) -> None:
        """Record on both; ``fast``: a plain success goes through ``record_success``."""
        before = self.machine.snapshot()
        if fast and outcome is Outcome.SUCCESS and signal is None and retry_after is None:
            counted = self.machine.record_success(generation, self.now)
        else:
            counted = self.machine.record(generation, outcome, self.now, signal, retry_after)
        assert counted == self.model.record(generation, outcome, self.now, signal, retry_after)
        if generation != before.generation:  # I5: a stale outcome changes nothing but lifetime
            after = self.machine.snapshot()
            assert not counted
            assert figures(after) == figures(before)
            if outcome is not Outcome.IGNORED:
                assert after.lifetime_stale == before.lifetime_stale + 1
                assert after.lifetime_calls == before.lifetime_calls + 1

    def _step_to(self, target: str, data: st.DataObject) -> float:
        model = self.model
        if target == "small":
            return data.draw(small_steps, label="step")
        if target == "huge":
            return 1e6
        if target == "open_until" and model.open_until is not None:
            return model.open_until - self.now
        if target == "just_before_open_until" and model.open_until is not None:
            return math.nextafter(model.open_until, -math.inf) - self.now
        if target == "half_open_timeout" and model.state is BreakerState.HALF_OPEN:
            return model.half_open_since + self.policy.max_half_open_duration - self.now
        return self._window_step(target)

    def _window_step(self, target: str) -> float:
        """Steps to a time window's boundaries: the next bucket, or exactly its span."""
        window = self.policy.window
        if not isinstance(window, TimeWindow):
            return 0.0
        if target == "window_span":
            return window.seconds
        width = window.seconds / window.buckets
        return (self.now // width + 1) * width - self.now if target == "next_bucket" else 0.0

    def teardown(self) -> None:
        """Label the example with the transitions it reached (see --hypothesis-show-statistics)."""
        for label in sorted(
            {f"{e.source.value}->{e.dest.value} {e.reason.value}" for e in self.events}
        ):
            event(label)

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def i1_declared_transitions_with_gapless_seq(self) -> None:
        assert [e.seq for e in self.events] == list(range(1, len(self.events) + 1))
        assert self.machine.seq == len(self.events)
        assert self.machine.last_event is (self.events[-1] if self.events else None)
        for e in self.events:
            declared = [t for t in self.table if t.leaves(e.source) and t.dest == e.dest]
            assert declared, f"undeclared transition in {e!r}"
            assert e.trigger in {t.name for t in declared}

    @invariant()
    def i2_replay_gives_the_current_state(self) -> None:
        assert replay(self.events, self.policy) == self.machine.state

    @invariant()
    def i3_probes_never_exceed_half_open_max_calls(self) -> None:
        machine, limit = self.machine, self.policy.half_open_max_calls
        assert 0 <= machine.probes_in_flight <= machine.probes_admitted <= limit
        if machine.state is BreakerState.HALF_OPEN:
            mine = sum(c.generation == machine.generation for c in self.outstanding)
            assert machine.probes_in_flight == mine

    @invariant()
    def every_transition_agrees_with_the_model(self) -> None:
        assert [step_of(e) for e in self.events] == self.model.steps

    @invariant()
    def figures_agree_with_the_model(self) -> None:
        machine, model = self.machine, self.model
        assert machine.state is model.state
        assert machine.health is model.state.health
        assert machine.generation == model.generation == model.seq
        assert (machine.calls, machine.failures, machine.slow_calls) == model.window_counts
        assert machine.consecutive_failures == model.consecutive_failures
        assert machine.consecutive_health_failures == model.health_failures
        probes = (machine.probes_admitted, machine.probes_succeeded, machine.probes_failed)
        assert probes == (model.probes_admitted, model.probes_succeeded, model.probes_failed)
        assert machine.openings == model.openings
        if model.state is not BreakerState.HALF_OPEN:
            assert machine.retry_at == model.retry_at


BreakerComparison.TestCase.settings = settings(
    BreakerComparison.TestCase.settings, stateful_step_count=40
)
TestBreakerComparison = BreakerComparison.TestCase
