"""The fleet state (NORMAL / DEGRADED / BASIC) of a coordinator's providers: transitions, one
FleetEvent per change, status() and its JSON, and leaving BASIC as soon as a provider admits."""

from __future__ import annotations

import asyncio
import logging

import pytest

from failover import (
    BreakerPolicy,
    CoordinatorStatus,
    FleetEvent,
    FleetState,
    ProviderHealth,
    Unavailable,
    status_from_json,
    status_to_json,
)
from failover._coordinator.fleet import Fleet
from tests.failover.coordinator.test_coordinator_support import answers, coordinator, down, script

TRIP = BreakerPolicy(max_consecutive_failures=1, open_duration=30.0, open_jitter=0.0)

NORMAL, DEGRADED, BASIC = FleetState.NORMAL, FleetState.DEGRADED, FleetState.BASIC


def changes(
    events: list[FleetEvent],
) -> list[tuple[int, FleetState, FleetState, float, tuple[str, ...]]]:
    return [(e.seq, e.source, e.dest, e.at, e.admitting) for e in events]


def test_values_are_the_lowercase_names() -> None:
    assert [s.value for s in FleetState] == ["normal", "degraded", "basic"]


@pytest.mark.asyncio
async def test_each_change_is_one_event_and_leaving_basic_needs_no_request() -> None:
    events: list[FleetEvent] = []
    flaky = script("b", "b", Unavailable("503"), "b")
    c, clock = coordinator(
        down("a"),
        flaky,
        fallback=[answers("z")],
        policy=TRIP,
        fleet_hooks=[events.append],
        strategy="priority",
        priorities={"a": 1.0},
    )
    assert c.status().fleet is NORMAL
    assert events == []
    assert (await c.generate("t=0")).provider == "b"  # a fails and opens until 30
    clock.advance(10.0)
    assert (await c.generate("t=10")).provider == "z"  # b fails and opens until 40
    assert c.status().fleet is BASIC
    clock.advance(20.0)  # t = 30: a's cooldown is over; no request is made
    assert c.status().fleet is DEGRADED
    clock.advance(10.0)  # t = 40: b's too
    assert c.status().fleet is NORMAL
    assert changes(events) == [
        (1, NORMAL, DEGRADED, 0.0, ("b",)),
        (2, DEGRADED, BASIC, 10.0, ()),
        (3, BASIC, DEGRADED, 30.0, ("a",)),
        (4, DEGRADED, NORMAL, 40.0, ("a", "b")),
    ]
    assert c.status().last_fleet_event == events[-1]


@pytest.mark.asyncio
async def test_a_request_leaves_basic_at_its_pick() -> None:
    events: list[FleetEvent] = []
    c, clock = coordinator(
        script("a", Unavailable("503"), "a"),
        fallback=[answers("z")],
        policy=TRIP,
        fleet_hooks=[events.append],
    )
    assert (await c.generate("hi")).provider == "z"
    clock.advance(30.0)
    assert (await c.generate("hi")).provider == "a"  # the probe admits: no status() needed
    assert changes(events) == [(1, NORMAL, BASIC, 0.0, ()), (2, BASIC, NORMAL, 30.0, ("a",))]


def test_an_operator_action_changes_the_fleet_state_at_once() -> None:
    events: list[FleetEvent] = []
    c, clock = coordinator(answers("a"), answers("b"), fleet_hooks=[events.append])
    clock.advance(5.0)
    c.breaker("a").force_open()
    c.breaker("b").disable()  # DISABLED admits every call
    c.breaker("b").force_open()
    c.breaker("a").reset()
    assert changes(events) == [
        (1, NORMAL, DEGRADED, 5.0, ("b",)),
        (2, DEGRADED, BASIC, 5.0, ()),
        (3, BASIC, DEGRADED, 5.0, ("a",)),
    ]


def test_fallbacks_do_not_count_in_the_fleet_state() -> None:
    events: list[FleetEvent] = []
    c, _ = coordinator(answers("a"), fallback=[answers("z")], fleet_hooks=[events.append])
    c.breaker("z").force_open()
    status = c.status()
    assert (status.fleet, events) == (NORMAL, [])
    assert [p.name for p in status.providers] == ["a"]
    assert [(p.name, p.index, p.admits) for p in status.fallbacks] == [("z", 1, False)]
    assert status.provider("z") is status.fallbacks[0]
    assert status.health is ProviderHealth.HEALTHY  # the providers' health: fallbacks aside


@pytest.mark.asyncio
async def test_an_async_fleet_hook_is_scheduled_and_a_raising_one_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []

    def broken(event: FleetEvent) -> None:
        raise RuntimeError("hook bug")

    async def later(event: FleetEvent) -> None:
        seen.append(event.seq)

    c, _ = coordinator(answers("a"), fleet_hooks=[broken, later])
    with caplog.at_level(logging.ERROR, logger="failover"):
        c.breaker("a").force_open()
    assert "fleet hook" in caplog.text
    assert "hook bug" in caplog.text
    await asyncio.sleep(0)
    assert seen == [1]
    assert c.status().fleet is BASIC


@pytest.mark.asyncio
async def test_a_listener_reading_the_status_sees_the_new_state() -> None:
    seen: list[FleetState] = []
    holder: list[object] = []
    c, _ = coordinator(
        answers("a"),
        answers("b"),
        fleet_hooks=[lambda e: seen.append(holder[0].status().fleet)],  # type: ignore[attr-defined]
    )
    holder.append(c)
    c.breaker("a").force_open()
    assert seen == [DEGRADED]


@pytest.mark.asyncio
async def test_a_successful_request_does_not_evaluate_the_fleet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c, _ = coordinator(answers("a"), answers("b"), fallback=[answers("z")])
    evaluations: list[None] = []
    real = Fleet._evaluate
    monkeypatch.setattr(Fleet, "_evaluate", lambda self: evaluations.append(real(self)))
    for _ in range(50):
        assert (await c.generate("hi")).provider in ("a", "b")
    assert evaluations == []


# --- status ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_status_round_trips_through_json_with_the_fleet() -> None:
    c, _ = coordinator(down("a"), fallback=[answers("z")], policy=TRIP)
    await c.generate("hi")
    status = c.status()
    assert (status.fleet, status.last_fleet_event.dest) == (BASIC, BASIC)  # type: ignore[union-attr]
    text = status_to_json(status)
    assert '"fleet":"basic"' in text
    assert status_from_json(text) == status


def test_a_status_without_fleet_fields_reads_back_with_their_defaults() -> None:
    c, _ = coordinator(answers("a"))
    text = status_to_json(c.status())
    for key in ('"fleet":"normal",', '"fallbacks":[],', '"last_fleet_event":null,'):
        assert key in text
        text = text.replace(key, "")
    assert status_from_json(text) == c.status()


@pytest.mark.parametrize(
    ("admitting", "fleet"),
    [((True, True), NORMAL), ((True, False), DEGRADED), ((False, False), BASIC)],
)
def test_of_works_the_fleet_state_out_from_the_providers(
    admitting: tuple[bool, ...], fleet: FleetState
) -> None:
    c, _ = coordinator(answers("a"), answers("b"))
    for name, admits in zip("ab", admitting, strict=True):
        if not admits:
            c.breaker(name).force_open()
    status = c.status()
    assert status.fleet is fleet
    assert CoordinatorStatus.of(status.providers, status.at).fleet is fleet
