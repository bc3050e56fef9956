"""Clocks: ManualClock (time moves only when told, sleepers wake in order) and SystemClock."""

from __future__ import annotations

import asyncio
import math

import pytest

from failover import CircuitBreaker, Clock, ConfigurationError, ManualClock, SystemClock


async def turns(count: int = 3) -> None:
    """Let woken tasks run (asyncio.sleep(0) yields; no time passes)."""
    for _ in range(count):
        await asyncio.sleep(0)


class Sleepers:
    """Tasks sleeping on one ManualClock, recording (label, time seen) as they wake."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.woken: list[tuple[str, float]] = []
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, label: str, seconds: float) -> None:
        async def sleeper() -> None:
            await self.clock.sleep(seconds)
            self.woken.append((label, self.clock.monotonic()))

        self.tasks[label] = asyncio.create_task(sleeper())


@pytest.mark.asyncio
async def test_sleepers_wake_in_order_as_advance_passes_them() -> None:
    clock = ManualClock()
    sleepers = Sleepers(clock)
    for label, seconds in [("a", 3.0), ("b", 1.0), ("c", 2.0), ("d", 1.0)]:
        sleepers.start(label, seconds)
    await turns()
    assert (clock.sleepers, clock.next_wakeup) == (4, 1.0)
    clock.advance(0.5)
    await turns()
    assert sleepers.woken == []
    clock.advance(0.5)
    await turns()
    assert sleepers.woken == [("b", 1.0), ("d", 1.0)]  # a tie: in the order they slept
    assert (clock.sleepers, clock.next_wakeup) == (2, 2.0)
    clock.advance(5.0)  # passes both at once: still woken in order of their wake-up time
    await turns()
    assert sleepers.woken[2:] == [("c", 6.0), ("a", 6.0)]
    assert (clock.sleepers, clock.next_wakeup) == (0, None)


@pytest.mark.asyncio
async def test_ties_wake_in_call_order() -> None:
    clock = ManualClock()
    sleepers = Sleepers(clock)
    labels = [str(i) for i in range(10)]
    for label in labels:
        sleepers.start(label, 1.0)
    await turns()
    clock.advance(1.0)
    await turns()
    assert [label for label, _ in sleepers.woken] == labels


@pytest.mark.asyncio
async def test_a_later_sleep_for_an_earlier_time_wakes_first() -> None:
    clock = ManualClock(100.0)
    sleepers = Sleepers(clock)
    sleepers.start("until 102", 2.0)
    await turns()
    clock.advance(1.0)
    sleepers.start("until 101.5", 0.5)
    await turns()
    assert clock.next_wakeup == 101.5
    clock.advance(1.0)
    await turns()
    assert sleepers.woken == [("until 101.5", 102.0), ("until 102", 102.0)]


@pytest.mark.asyncio
async def test_woken_tasks_run_at_the_next_loop_turn() -> None:
    clock = ManualClock()
    sleepers = Sleepers(clock)
    sleepers.start("x", 1.0)
    await turns()
    clock.advance(1.0)
    assert sleepers.woken == []  # advance only schedules them
    await turns()
    assert sleepers.woken == [("x", 1.0)]


@pytest.mark.asyncio
@pytest.mark.parametrize("seconds", [0, 0.0, -1.0])
async def test_sleep_of_zero_or_less_yields_once_without_waiting(seconds: float) -> None:
    clock = ManualClock()
    task = asyncio.create_task(clock.sleep(seconds))
    await turns()
    assert task.done()
    assert (clock.sleepers, clock.monotonic()) == (0, 0.0)


@pytest.mark.asyncio
async def test_a_cancelled_sleeper_no_longer_counts() -> None:
    clock = ManualClock()
    sleepers = Sleepers(clock)
    sleepers.start("early", 1.0)
    sleepers.start("late", 2.0)
    await turns()
    sleepers.tasks["early"].cancel()
    await turns()
    assert (clock.sleepers, clock.next_wakeup) == (1, 2.0)
    clock.advance(2.0)
    await turns()
    assert sleepers.woken == [("late", 2.0)]


@pytest.mark.asyncio
@pytest.mark.parametrize("nan_first", [True, False])
async def test_a_nan_sleep_never_holds_back_the_other_sleepers(nan_first: bool) -> None:
    clock = ManualClock()
    sleepers = Sleepers(clock)
    if not nan_first:
        sleepers.start("two", 2.0)
    odd = asyncio.create_task(clock.sleep(math.nan))
    await turns()
    if nan_first:
        sleepers.start("two", 2.0)
        await turns()
    clock.advance(5.0)
    await turns()
    assert sleepers.woken == [("two", 5.0)]
    odd.cancel()  # whether it was refused or is still waiting
    await asyncio.gather(odd, return_exceptions=True)


def test_advance_moves_time_forward() -> None:
    clock = ManualClock(5)
    assert clock.monotonic() == 5.0
    clock.advance(0)
    clock.advance(2.5)
    clock.advance(1)
    assert clock.monotonic() == 8.5
    assert repr(clock) == "ManualClock(now=8.5, sleepers=0)"


@pytest.mark.parametrize(
    "seconds", [-1.0, -1e-9, math.nan, math.inf, 10**400, True, False, "1", None]
)
def test_advance_refuses_anything_but_a_finite_number_ge_0(seconds: object) -> None:
    clock = ManualClock()
    with pytest.raises(ConfigurationError, match=r"advance\(seconds\) takes a finite number >= 0"):
        clock.advance(seconds)  # type: ignore[arg-type]
    assert clock.monotonic() == 0.0


@pytest.mark.parametrize("start", [math.nan, math.inf, -math.inf, 10**400, True, "0", None])
def test_a_manual_clock_starts_at_a_finite_number(start: object) -> None:
    with pytest.raises(ConfigurationError, match=r"ManualClock\(start\) must be a finite number"):
        ManualClock(start)  # type: ignore[arg-type]


# --- SystemClock and the protocol -------------------------------------------------------------


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(ManualClock(), Clock)
    assert not isinstance(object(), Clock)


def test_the_system_clock_is_monotonic() -> None:
    clock = SystemClock()
    readings = [clock.monotonic() for _ in range(1000)]
    assert readings == sorted(readings)
    assert repr(clock) == "SystemClock()"


@pytest.mark.asyncio
async def test_the_system_clock_sleeps_on_the_event_loop() -> None:
    ran: list[bool] = []

    async def other() -> None:
        ran.append(True)

    task = asyncio.create_task(other())
    await SystemClock().sleep(0)  # yields to the loop: the other task runs
    assert ran == [True]
    await task


def test_a_breaker_uses_the_system_clock_by_default() -> None:
    assert isinstance(CircuitBreaker("p", hooks=()).clock, SystemClock)
