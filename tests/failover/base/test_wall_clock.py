"""Times for people (issue 15, item 3): events and status carry UTC wall-clock time beside the
monotonic one; an event keeps the wall time of the process that made it."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import Coordinator, ManualClock, status_from_json, status_to_json
from failover.clock import MANUAL_WALL_START, SystemClock, utc_text, wall_of
from failover.storage import MemoryStorage
from failover.testing import ScriptedProvider
from statemachines import (
    BreakerState,
    ConfigurationError,
    FailoverEvent,
    FailoverReason,
    event_from_json,
    event_to_json,
)

WALL = 1_764_909_067.5  # 2025-12-05T04:31:07.500Z


def answering(name: str) -> ScriptedProvider:
    return ScriptedProvider(name, lambda request: "ok")


def test_a_manual_clock_has_a_deterministic_wall_time() -> None:
    clock = ManualClock(100.0, wall_start=WALL)
    assert clock.wall() == WALL
    clock.advance(2.5)
    assert clock.wall() == WALL + 2.5
    assert ManualClock().wall() == MANUAL_WALL_START
    with pytest.raises(ConfigurationError, match="wall_start"):
        ManualClock(wall_start=float("nan"))


def test_the_system_clock_reads_the_systems_wall_time() -> None:
    assert SystemClock.wall is time.time
    assert wall_of(object()) > MANUAL_WALL_START  # a clock without wall(): the system's


@pytest.mark.parametrize(
    ("wall", "text"),
    [
        (WALL, "2025-12-05T04:31:07.500Z"),
        (0.0, "1970-01-01T00:00:00.000Z"),
        (None, None),
        (float("inf"), None),
        (1e300, None),
    ],
)
def test_utc_text(wall: float | None, text: str | None) -> None:
    assert utc_text(wall) == text


def test_each_event_carries_its_wall_time() -> None:
    clock = ManualClock(50.0, wall_start=WALL)
    coordinator = Coordinator([answering("a")], clock=clock)
    clock.advance(10.0)
    event = coordinator.breaker("a").force_open()
    assert (event.at, event.wall_at) == (60.0, WALL + 10.0)
    assert utc_text(event.wall_at) == "2025-12-05T04:31:17.500Z"
    assert json.loads(event_to_json(event))["wall_at"] == WALL + 10.0


def test_status_carries_its_wall_time_and_converts_its_times() -> None:
    clock = ManualClock(wall_start=WALL)
    coordinator = Coordinator([answering("a")], clock=clock)
    clock.advance(3.0)
    status = coordinator.status()
    assert status.wall_at == WALL + 3.0
    assert status.wall_of(status.at + 30.0) == WALL + 33.0
    assert status.wall_of(None) is None
    back = status_from_json(status_to_json(status))
    assert back.wall_at == status.wall_at
    assert json.loads(status_to_json(status))["wall_at"] == WALL + 3.0


@given(st.one_of(st.none(), st.floats(-1e12, 1e12)))
def test_an_events_wall_time_survives_json(wall: float | None) -> None:
    event = FailoverEvent(
        "p", 1, BreakerState.CLOSED, BreakerState.OPEN, FailoverReason.MANUAL, 1.0, 1, {}, wall
    )
    assert event_from_json(event_to_json(event)).wall_at == wall


@given(
    st.one_of(
        st.text(max_size=5),
        st.booleans(),
        st.floats(),
        st.integers(),
        st.lists(st.none(), max_size=2),
        st.dictionaries(st.text(max_size=2), st.none(), max_size=1),
    )
)
def test_decoding_any_wall_time_from_the_wire_is_total(wall: object) -> None:
    """A record whose wall_at is a finite number (or None), or the library's error."""
    event = FailoverEvent(
        "p", 1, BreakerState.CLOSED, BreakerState.OPEN, FailoverReason.MANUAL, 1.0, 1
    )
    data = json.loads(event_to_json(event))
    data["wall_at"] = wall
    try:
        text = json.dumps(data)
    except ValueError:
        return  # not JSON at all (NaN is refused by strict writers): nothing to decode
    try:
        decoded = event_from_json(text)
    except ConfigurationError:
        return
    assert decoded.wall_at is None or math.isfinite(decoded.wall_at)


def test_an_event_without_a_wall_time_reads_as_none() -> None:
    data = json.loads(
        event_to_json(
            FailoverEvent(
                "p", 1, BreakerState.CLOSED, BreakerState.OPEN, FailoverReason.MANUAL, 1.0, 1
            )
        )
    )
    del data["wall_at"]  # written by a version without it
    assert event_from_json(json.dumps(data)).wall_at is None


@pytest.mark.asyncio
async def test_a_shared_event_keeps_the_wall_time_of_the_process_that_made_it() -> None:
    storage = MemoryStorage()
    # two processes: monotonic clocks far apart, wall clocks one second apart
    one_clock = ManualClock(5.0, wall_start=WALL)
    two_clock = ManualClock(90_000.0, wall_start=WALL + 1.0)
    one = Coordinator([answering("a")], clock=one_clock, storage=storage)
    two = Coordinator([answering("a")], clock=two_clock, storage=storage)
    async with one, two:
        one.breaker("a").force_open()
        for _ in range(50):
            await asyncio.sleep(0)
        logged = await two.events("a")
    assert [(e.dest, e.wall_at) for e in logged] == [(BreakerState.FORCED_OPEN, WALL)]
