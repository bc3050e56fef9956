"""Hooks: every transition reaches every hook once, in seq order, outside the breaker's lock;
async hooks run on the event loop; a raising hook is logged and harms nothing."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from failover import (
    BadRequest,
    BreakerHook,
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
    FailoverEvent,
    Hook,
    LoggingHook,
    ManualClock,
    Unavailable,
)
from statemachines import Outcome, State
from tests.failover.breaker._support import fail, make, raising, tripped

S = BreakerState


def trip_probe_recover(breaker: CircuitBreaker) -> None:
    """Three transitions: CLOSED -> OPEN -> HALF_OPEN -> CLOSED (PROBING policy)."""
    with pytest.raises(Unavailable):
        breaker.call(fail)
    clock = breaker.clock
    assert breaker.retry_at is not None
    clock.advance(breaker.retry_at - clock.monotonic())  # type: ignore[attr-defined]
    for _ in range(2):
        breaker.call(lambda: None)
    assert [e.dest for e in breaker.events] == [S.OPEN, S.HALF_OPEN, S.CLOSED]


def test_each_sync_hook_gets_each_transition_once_in_seq_order() -> None:
    first: list[FailoverEvent] = []
    second: list[FailoverEvent] = []
    breaker, _ = make(hooks=[first.append, second.append])
    trip_probe_recover(breaker)
    assert first == second == list(breaker.events)
    assert [e.seq for e in first] == [1, 2, 3]


def test_no_transition_no_hook_call() -> None:
    seen: list[FailoverEvent] = []
    breaker, _ = make(BreakerPolicy(max_consecutive_failures=5), hooks=[seen.append])
    for _ in range(3):
        breaker.call(lambda: None)
    assert seen == []


# --- async hooks ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_hooks_are_scheduled_on_the_running_loop() -> None:
    seen: list[tuple[int, asyncio.AbstractEventLoop]] = []

    async def hook(event: FailoverEvent) -> None:
        seen.append((event.seq, asyncio.get_running_loop()))

    breaker, _ = make(hooks=[hook])
    trip_probe_recover(breaker)
    assert seen == []  # scheduled, not yet run
    for _ in range(3):
        await asyncio.sleep(0)
    assert seen == [(seq, asyncio.get_running_loop()) for seq in (1, 2, 3)]


def test_an_async_hook_with_no_loop_anywhere_runs_to_completion() -> None:
    seen: list[int] = []

    async def hook(event: FailoverEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event.seq)

    breaker, _ = make(hooks=[hook])
    breaker.force_open()
    assert seen == [1]


@pytest.mark.asyncio
async def test_an_async_hook_fired_from_another_thread_runs_on_the_breakers_loop() -> None:
    ran = asyncio.Event()
    loops: list[asyncio.AbstractEventLoop] = []

    async def hook(event: FailoverEvent) -> None:
        loops.append(asyncio.get_running_loop())
        ran.set()

    breaker, _ = make(hooks=[hook])

    async def nothing() -> None:
        return None

    await breaker.acall(nothing)  # the breaker learns its loop
    await asyncio.to_thread(breaker.force_open)
    await asyncio.wait_for(ran.wait(), 60)  # a hang guard; it returns once the hook has run
    assert loops == [asyncio.get_running_loop()]


# --- hooks that raise -------------------------------------------------------------------------


class HookBroke(Exception):
    pass


def broken(event: FailoverEvent) -> None:
    raise HookBroke(f"seq {event.seq}")


def hook_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records of the library's loggers (``failover.*``) carrying a hook's exception."""
    return [
        r
        for r in caplog.records
        if r.name.startswith("failover.") and r.exc_info and isinstance(r.exc_info[1], HookBroke)
    ]


@pytest.mark.parametrize("order", ["broken first", "broken last"])
def test_a_raising_hook_is_logged_and_harms_nothing(
    order: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[FailoverEvent] = []
    hooks = [broken, seen.append] if order == "broken first" else [seen.append, broken]
    breaker, _ = make(hooks=hooks)
    error = Unavailable("503")
    with pytest.raises(Unavailable) as caught:  # the call's own error, not the hook's
        breaker.call(raising(error))
    assert caught.value is error
    assert [e.seq for e in seen] == [1]
    (record,) = hook_errors(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[2] is not None  # with its traceback


@pytest.mark.asyncio
async def test_a_raising_async_hook_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def hook(event: FailoverEvent) -> None:
        broken(event)

    breaker, _ = make(hooks=[hook])
    breaker.force_open()
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(hook_errors(caplog)) == 1


class Counting(BreakerHook):
    """Records on_call and on_rejected."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Outcome]] = []
        self.rejected: list[tuple[str, State]] = []

    def on_call(self, provider: str, outcome: Outcome, duration: float) -> None:
        self.calls.append((provider, outcome))

    def on_rejected(self, provider: str, state: State) -> None:
        self.rejected.append((provider, state))


def test_on_call_and_on_rejected_hear_every_call() -> None:
    hook = Counting()
    breaker, _ = make(hooks=[hook])
    breaker.call(lambda: None)
    with pytest.raises(BadRequest):
        breaker.call(raising(BadRequest("400")))
    with pytest.raises(Unavailable):
        breaker.call(fail)
    with pytest.raises(CallNotPermitted):
        breaker.call(lambda: None)
    assert hook.calls == [("p", Outcome.SUCCESS), ("p", Outcome.IGNORED), ("p", Outcome.FAILURE)]
    assert hook.rejected == [("p", S.OPEN)]


class BrokenCounting(BreakerHook):
    def on_call(self, provider: str, outcome: Outcome, duration: float) -> None:
        raise HookBroke("on_call")

    def on_rejected(self, provider: str, state: State) -> None:
        raise HookBroke("on_rejected")


def test_raising_call_and_rejection_hooks_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    hook = Counting()
    breaker, _ = tripped(hooks=[BrokenCounting(), hook])
    with pytest.raises(CallNotPermitted):
        breaker.call(lambda: None)
    breaker.reset()
    assert breaker.call(lambda: "ok") == "ok"
    assert hook.rejected == [("p", S.OPEN)]
    assert hook.calls[-1] == ("p", Outcome.SUCCESS)
    assert [str(r.exc_info[1]) for r in hook_errors(caplog) if r.exc_info] == [
        "on_call",  # the failure that tripped it
        "on_rejected",
        "on_call",
    ]


class BrokenTransition(BreakerHook):
    def on_transition(self, event: FailoverEvent) -> None:
        broken(event)


class BrokenAsyncTransition(BreakerHook):
    async def on_transition(self, event: FailoverEvent) -> None:
        broken(event)


async def broken_async(event: FailoverEvent) -> None:
    broken(event)


RAISING: dict[str, Callable[[], Hook]] = {
    "sync": lambda: broken,
    "async": lambda: broken_async,
    "BreakerHook": BrokenTransition,
    "async BreakerHook": BrokenAsyncTransition,
    "on_call and on_rejected": BrokenCounting,
}


async def every_kind_of_change(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """Trip, probe, recover; force_open, a rejection, reset: five events, through ``acall``."""

    async def nothing() -> None:
        return None

    async def failing() -> None:
        fail()

    with pytest.raises(Unavailable):  # the call's own error, not a hook's
        await breaker.acall(failing)
    clock.advance(10.0)
    for _ in range(2):
        await breaker.acall(nothing)
    breaker.force_open()
    with pytest.raises(CallNotPermitted):
        await breaker.acall(nothing)
    breaker.reset()
    for _ in range(3):
        await asyncio.sleep(0)  # the async hooks run


def check_nothing_lost(breaker: CircuitBreaker, seen: list[Any], kind: str, errors: int) -> None:
    """Every event in the history and at the other hook, in order; every raise logged."""
    assert [(e.seq, e.dest) for e in breaker.events] == list(
        enumerate([S.OPEN, S.HALF_OPEN, S.CLOSED, S.FORCED_OPEN, S.CLOSED], start=1)
    )
    assert seen == list(breaker.events)
    assert breaker.state is S.CLOSED
    calls = 3 + 1  # a failure, two probes; one rejection
    assert errors == 2 * (calls if kind.startswith("on_call") else 5)  # each of the two hooks


@pytest.mark.parametrize("kind", RAISING)
def test_a_raising_hook_loses_no_event_with_no_loop(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[FailoverEvent] = []
    breaker, _ = make(hooks=[RAISING[kind](), seen.append, RAISING[kind]()])
    trip_probe_recover(breaker)
    breaker.force_open()
    with pytest.raises(CallNotPermitted):  # not the hook's error
        breaker.call(lambda: None)
    breaker.reset()
    check_nothing_lost(breaker, seen, kind, len(hook_errors(caplog)))


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", RAISING)
async def test_a_raising_hook_loses_no_event_on_a_loop(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[FailoverEvent] = []
    breaker, clock = make(hooks=[RAISING[kind](), seen.append, RAISING[kind]()])
    await every_kind_of_change(breaker, clock)
    check_nothing_lost(breaker, seen, kind, len(hook_errors(caplog)))


# --- the logging hook and the defaults --------------------------------------------------------


def failover_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The LoggingHook's lines: on logger ``failover.hooks``, without a traceback."""
    return [r for r in caplog.records if r.name == "failover.hooks" and not r.exc_info]


def test_the_logging_hook_writes_one_structured_line_per_transition(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="failover")
    breaker, _ = make(hooks=[LoggingHook()])
    trip_probe_recover(breaker)
    lines = failover_lines(caplog)
    assert [r.getMessage() for r in lines] == [
        "breaker p: closed -> open (consecutive_failures) seq=1",
        "breaker p: open -> half_open (cooldown_elapsed) seq=2",
        "breaker p: half_open -> closed (probes_succeeded) seq=3",
    ]
    assert [r.levelno for r in lines] == [logging.WARNING, logging.INFO, logging.INFO]
    first, event = lines[0], breaker.events[0]
    assert {key: getattr(first, key) for key in vars(first) if key.startswith("failover_")} == {
        "failover_provider": "p",
        "failover_source": "closed",
        "failover_dest": "open",
        "failover_reason": "consecutive_failures",
        "failover_seq": 1,
        "failover_generation": event.generation,
        "failover_at": event.at,
    }


def test_the_logging_hook_takes_a_logger_and_a_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mine")
    breaker, _ = make(hooks=[LoggingHook(logging.getLogger("mine"), level=logging.DEBUG)])
    breaker.disable()
    (line,) = [r for r in caplog.records if r.name == "mine"]
    assert (line.levelno, line.failover_dest) == (logging.DEBUG, "disabled")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("hooks", "lines"), [(None, 1), ((), 0)])
def test_hooks_none_means_the_default_hooks_and_empty_means_none(
    hooks: tuple[()] | None, lines: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="failover")
    breaker, _ = make(hooks=hooks)
    breaker.force_open()
    assert len(failover_lines(caplog)) == lines


# --- threads and re-entry ---------------------------------------------------------------------


def test_events_from_many_threads_reach_a_hook_one_at_a_time_in_seq_order() -> None:
    seqs: list[int] = []
    busy = threading.Lock()
    overlaps: list[int] = []

    def hook(event: FailoverEvent) -> None:
        if not busy.acquire(blocking=False):
            overlaps.append(event.seq)  # two deliveries at once
            return
        try:
            seqs.append(event.seq)
        finally:
            busy.release()

    breaker, _ = make(hooks=[hook], history=0)

    def operator() -> None:
        for _ in range(300):
            breaker.force_open()
            breaker.reset()

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(operator) for _ in range(8)]:
            future.result()
    assert overlaps == []
    assert seqs == list(range(1, 8 * 600 + 1))  # every event, none stranded, in order


def test_a_hook_may_reset_the_breaker_from_inside_on_transition() -> None:
    first: list[FailoverEvent] = []
    second: list[FailoverEvent] = []

    def resetting(event: FailoverEvent) -> None:
        first.append(event)
        if event.dest is S.OPEN:
            breaker.reset()

    breaker, _ = make(hooks=[resetting, second.append])

    def trip() -> BaseException | None:
        try:
            breaker.call(fail)
        except Unavailable as exc:
            return exc
        return None

    pool = ThreadPoolExecutor(1)
    try:  # a deadlock guard, not a timing assert: result() returns as soon as the call ends
        assert isinstance(pool.submit(trip).result(60), Unavailable)
    finally:
        pool.shutdown(wait=False)
    assert [(e.seq, e.dest) for e in first] == [(1, S.OPEN), (2, S.CLOSED)]
    assert second == first  # the other hook too saw the trip before the reset
    assert breaker.state is S.CLOSED
