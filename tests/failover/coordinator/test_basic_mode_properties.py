"""L6, checked over random outage schedules on the ManualClock: a fallback answers a request only
if, at that request, no provider admitted a call or every attempt at the providers failed; and
the fleet state always says how many providers admit (one gapless event per change)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, TypeAlias

from hypothesis import given
from hypothesis import strategies as st

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BreakerPolicy,
    CoordinatorStatus,
    FleetEvent,
    RetryPolicy,
    Unavailable,
)
from failover._coordinator.coordinator import Coordinator
from failover._coordinator.fleet import fleet_state
from failover.strategies import STRATEGIES
from failover.testing import ScriptedProvider, ScriptedRequest
from tests.failover.coordinator.test_coordinator_support import coordinator, drive

PRIMARIES = ("p0", "p1", "p2")
FALLBACK = "basic"

Step: TypeAlias = tuple[str, Any]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(1, 40)),
        st.tuples(st.just("flip"), st.sampled_from((*PRIMARIES, FALLBACK))),
        st.tuples(st.just("request"), st.none()),
    ),
    max_size=40,
)
setups = st.fixed_dictionaries(
    {
        "strategy": st.sampled_from(STRATEGIES),
        "all_down": st.sampled_from(("fail_fast", "wait", "probe")),
        "max_attempts": st.integers(1, 4),
        "trip_after": st.integers(1, 3),
        "open_duration": st.integers(5, 60),
        "fallback_fails": st.booleans(),
    }
)


def switchable(name: str, up: dict[str, bool]) -> ScriptedProvider:
    def handler(request: ScriptedRequest) -> object:
        if request.kind == "health_check":
            return up[name]
        if not up[name]:
            raise Unavailable("503", provider=name)
        return name

    return ScriptedProvider(name, handler)


def build(setup: dict[str, Any], up: dict[str, bool], events: list[FleetEvent]) -> Coordinator:
    policy = BreakerPolicy(
        max_consecutive_failures=setup["trip_after"],
        open_duration=float(setup["open_duration"]),
        open_jitter=0.0,
    )
    c, _ = coordinator(
        *(switchable(name, up) for name in PRIMARIES),
        fallback=[switchable(FALLBACK, up)],
        policy=policy,
        strategy=setup["strategy"],
        all_down=setup["all_down"],
        retry=RetryPolicy(max_attempts=setup["max_attempts"], request_timeout=30.0),
        fleet_hooks=[events.append],
    )
    return c


def check_fleet(status: CoordinatorStatus, events: list[FleetEvent]) -> None:
    """The fleet state is what the providers' ``admits`` say; its events chain without gaps."""
    admitting = tuple(p.name for p in status.providers if p.admits)
    assert status.fleet is fleet_state(len(admitting), len(PRIMARIES))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for before, after in itertools.pairwise(events):
        assert after.source is before.dest
        assert after.at >= before.at
    if events:
        assert events[-1].dest is status.fleet
        assert status.last_fleet_event == events[-1]


def check_request(
    before: CoordinatorStatus, outcome: object, max_attempts: int, started: float, now: float
) -> None:
    """L6 for one request: ``before`` is the status at its start, ``outcome`` its Result or
    error."""
    admitting = {p.name for p in before.providers if p.admits}
    attempts = getattr(outcome, "attempts", ())
    ranked = [a for a in attempts if a.provider != FALLBACK]
    if getattr(outcome, "provider", None) == FALLBACK:
        assert all(a.error is not None for a in ranked)  # every attempt at a provider failed
        if before.provider(FALLBACK).admits:
            assert now == started  # before any wait (one that was OPEN may serve after it)
        tried = {a.provider for a in ranked}
        # no provider admitted, or each one that did was tried (or the attempts were spent)
        assert admitting <= tried or len(ranked) == max_attempts
    elif isinstance(outcome, AllProvidersUnavailable):
        assert not before.provider(FALLBACK).admits
    elif isinstance(outcome, AllProvidersFailed):
        fallback_tried = [a for a in attempts if a.provider == FALLBACK]
        assert fallback_tried or not before.provider(FALLBACK).admits
        assert all(a.error is not None for a in fallback_tried)
    else:  # a provider answered; the fallback (which would have answered) was not tried first
        assert getattr(outcome, "provider", None) in PRIMARIES
        assert all(a.error is not None for a in attempts if a.provider == FALLBACK)


async def run(setup: dict[str, Any], schedule: list[Step]) -> None:
    up = dict.fromkeys((*PRIMARIES, FALLBACK), True)
    events: list[FleetEvent] = []
    c = build(setup, up, events)
    clock = c.clock
    for action, argument in schedule:
        if action == "advance":
            clock.advance(float(argument))  # type: ignore[attr-defined]
        elif action == "flip":
            up[argument] = (
                not up[argument] if setup["fallback_fails"] or argument != FALLBACK else True
            )
        else:
            before = c.status()
            check_fleet(before, events)
            started = clock.monotonic()
            try:
                outcome: object = await drive(clock, c.generate("hi"))  # type: ignore[arg-type]
            except (AllProvidersFailed, AllProvidersUnavailable) as error:
                outcome = error
            check_request(before, outcome, setup["max_attempts"], started, clock.monotonic())
            if not setup["fallback_fails"]:  # an answering fallback: every request is answered
                assert getattr(outcome, "provider", None) is not None
        check_fleet(c.status(), events)


@given(setup=setups, schedule=steps)
def test_l6_a_fallback_answers_only_when_no_provider_admits_or_all_failed(
    setup: dict[str, Any], schedule: list[Step]
) -> None:
    asyncio.run(run(setup, schedule))
