"""Run-time fleet changes (issue 15, item 4): Coordinator.add and Coordinator.remove, safe
under concurrent requests: a removed provider is never picked again, its attempts in flight end
before it is closed, it is closed once, and every change is a FleetEvent."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BreakerPolicy,
    FleetEvent,
    HealthCheckConfig,
    ManualClock,
    RetryPolicy,
)
from failover._tracing.attrs import IS_FALLBACK, OPERATION, PROVIDER
from failover.storage import MemoryStorage
from failover.testing import ScriptedProvider, ScriptedRequest
from statemachines import ConfigurationError
from tests.failover.coordinator.test_coordinator_support import QUIET, answers, coordinator
from tests.failover.tracing.test_tracing_support import Recorder


async def turns(count: int = 10) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_an_added_provider_serves_at_once_under_its_priority() -> None:
    events: list[FleetEvent] = []
    c, _ = coordinator(answers("a"), strategy="priority", fleet_hooks=[events.append])
    assert (await c.generate("hi")).provider == "a"
    await c.add(answers("b"), priority=5)
    assert (await c.generate("hi")).provider == "b"
    assert [p.name for p in c.providers] == ["a", "b"]
    assert c.status().provider("b").priority == 5
    assert [(e.change, e.provider) for e in events if e.change] == [("added", "b")]


def test_a_provider_reported_not_built_shows_in_status_and_a_fleet_event() -> None:
    events: list[FleetEvent] = []
    c, _ = coordinator(answers("a"), fleet_hooks=[events.append])
    c.report_not_built("b", "ConfigurationError: GEMINI_API_KEY is not set")
    assert dict(c.status().not_built) == {"b": "ConfigurationError: GEMINI_API_KEY is not set"}
    assert [(e.change, e.provider, e.detail) for e in events if e.change] == [
        ("not_built", "b", "ConfigurationError: GEMINI_API_KEY is not set")
    ]
    assert [p.name for p in c.providers] == ["a"]  # reported, not added


@pytest.mark.asyncio
async def test_an_added_fallback_answers_only_when_no_provider_does() -> None:
    c, _ = coordinator(answers("a"))
    await c.add(answers("canned"), fallback=True)
    assert [p.name for p in c.fallbacks] == ["canned"]
    assert (await c.generate("hi")).provider == "a"
    c.breaker("a").force_open()
    assert (await c.generate("hi")).provider == "canned"


@pytest.mark.asyncio
async def test_an_added_provider_is_health_checked() -> None:
    checked = ScriptedProvider("b", lambda request: True)
    config = HealthCheckConfig(interval=10, timeout=2, jitter=0.0)
    c, clock = coordinator(answers("a"), health=config)
    async with c:
        await c.add(checked)
        for _ in range(25):
            await turns()
            clock.advance(1.0)
        await turns()
    assert sum(r.kind == "health_check" for r in checked.requests) >= 2


@pytest.mark.asyncio
async def test_a_removed_provider_is_never_picked_and_closed_once() -> None:
    events: list[FleetEvent] = []
    a, b = answers("a"), answers("b")
    c, _ = coordinator(a, b, strategy="priority", priorities={"a": 1}, fleet_hooks=[events.append])
    await c.remove("a")
    assert a.closed
    assert (await c.generate("hi")).provider == "b"
    with pytest.raises(KeyError):
        c.breaker("a")
    assert [s.name for s in c.status().providers] == ["b"]
    assert [(e.change, e.provider) for e in events if e.change] == [("removed", "a")]
    await c.aclose()
    assert (a.closed, b.closed) == (True, True)


@pytest.mark.asyncio
async def test_remove_waits_for_the_attempts_in_flight() -> None:
    gate = asyncio.Event()
    order: list[str] = []

    async def slow(request: ScriptedRequest) -> str:
        await gate.wait()
        order.append("answered")
        return "a"

    a = ScriptedProvider("a", slow)
    original = a.aclose

    async def closing() -> None:
        order.append("closed")
        await original()

    a.aclose = closing  # type: ignore[method-assign]
    c, _ = coordinator(a, answers("b"), strategy="priority", priorities={"a": 1})
    request = asyncio.ensure_future(c.generate("hi"))
    await turns()
    removal = asyncio.ensure_future(c.remove("a"))
    await turns()
    assert not removal.done()  # draining
    assert (await c.generate("meanwhile")).provider == "b"
    gate.set()
    assert (await request).provider == "a"  # the attempt in flight kept its answer
    await removal
    assert order == ["answered", "closed"]


@pytest.mark.asyncio
async def test_a_drain_that_takes_too_long_closes_anyway(caplog: pytest.LogCaptureFixture) -> None:
    never = asyncio.Event()

    async def stuck(request: ScriptedRequest) -> str:
        await never.wait()
        return "a"

    a = ScriptedProvider("a", stuck)
    c, clock = coordinator(
        a,
        answers("b"),
        strategy="priority",
        priorities={"a": 1},
        retry=RetryPolicy(request_timeout=None),
    )
    request = asyncio.ensure_future(c.generate("hi"))
    await turns()
    with caplog.at_level(logging.WARNING, logger="failover"):
        removal = asyncio.ensure_future(c.remove("a", drain_timeout=5))
        await turns()
        clock.advance(5)
        await removal
    assert a.closed
    assert any("still had 1 attempt(s) in flight" in r.getMessage() for r in caplog.records)
    request.cancel()


@pytest.mark.asyncio
async def test_mistakes_are_named() -> None:
    c, _ = coordinator(answers("a"), answers("b"))
    with pytest.raises(ConfigurationError, match=r"already in the coordinator; the providers"):
        await c.add(answers("a"))
    with pytest.raises(ConfigurationError, match=r"no provider named 'x'; the providers are"):
        await c.remove("x")
    for bad in (-1, float("nan"), 10**400, True, "1"):
        with pytest.raises(ConfigurationError, match=r"drain_timeout must be None"):
            await c.remove("a", drain_timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"weights\['c'\] must be a finite number > 0"):
        await c.add(answers("c"), weight=0)
    await c.remove("a")
    with pytest.raises(ConfigurationError, match=r"last provider that is not a fallback"):
        await c.remove("b")
    await c.aclose()
    with pytest.raises(ConfigurationError, match="closed coordinator"):
        await c.add(answers("c"))


@pytest.mark.asyncio
async def test_with_telemetry_an_added_provider_and_fallback_are_traced() -> None:
    recorder = Recorder()
    c, _ = coordinator(
        answers("a"), strategy="priority", telemetry=recorder.telemetry(), policy=QUIET
    )
    await c.add(answers("b"), priority=10)
    await c.add(answers("f"), fallback=True)
    assert (await c.generate("hi")).provider == "b"
    [attempt] = recorder.attempts()
    assert attempt.attributes is not None
    assert attempt.attributes[PROVIDER] == "b"
    assert attempt.attributes[OPERATION] == "chat"
    await c.remove("b")
    c.breaker("a").force_open()
    recorder.exporter.clear()
    assert (await c.generate("hi")).provider == "f"
    [attempt] = recorder.attempts()
    assert attempt.attributes is not None
    assert (attempt.attributes[PROVIDER], attempt.attributes[IS_FALLBACK]) == ("f", True)
    await c.aclose()


@pytest.mark.asyncio
async def test_with_telemetry_an_attempt_in_flight_at_a_removed_provider_ends_its_span() -> None:
    gate = asyncio.Event()

    async def slow(request: ScriptedRequest) -> str:
        await gate.wait()
        return "a"

    recorder = Recorder()
    c, _ = coordinator(
        ScriptedProvider("a", slow),
        answers("b"),
        strategy="priority",
        priorities={"a": 1},
        telemetry=recorder.telemetry(),
    )
    request = asyncio.ensure_future(c.generate("hi"))
    await turns()
    removal = asyncio.ensure_future(c.remove("a"))
    await turns()
    gate.set()
    assert (await request).provider == "a"
    await removal
    [attempt] = recorder.attempts()
    assert attempt.attributes is not None
    assert attempt.attributes[PROVIDER] == "a"
    assert attempt.end_time is not None
    await c.aclose()


@pytest.mark.asyncio
async def test_a_coordinator_not_started_yet_shares_an_added_provider_once_started() -> None:
    storage = MemoryStorage()
    c, _ = coordinator(answers("a"), storage=storage)
    await c.add(answers("b"))
    await c.start()
    replica = c._replica
    assert replica is not None
    assert sorted(replica.members) == ["a", "b"]
    c.breaker("b").force_open()
    for _ in range(100):
        if not replica.members["b"].pending:
            break
        await turns()
    stored = await storage.load("b")
    assert stored is not None
    assert stored.state == "forced_open"
    await c.aclose()


# --- the property ----------------------------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.integers(0, 3)),
        st.tuples(st.just("add"), st.sampled_from("pqr")),
        st.tuples(st.just("remove"), st.sampled_from("abpqr")),
        st.tuples(st.just("advance"), st.integers(1, 3)),
    ),
    max_size=30,
)


class Tracked:
    """Providers that record when each attempt starts and ends, and when they are closed."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.log: list[tuple[str, str]] = []  # (what, provider)
        self.coordinator: Any = None  # set once made
        self.late: list[str] = []  # providers picked after remove() was called

    def provider(self, name: str, delay: float) -> ScriptedProvider:
        label = f"{name}#{len(self.log)}"  # one per provider object

        async def handler(request: ScriptedRequest) -> str:
            mine = [s for s in self.coordinator._slots if s.provider is made]
            if not mine or mine[0].live.removed:  # picked once remove() had taken it out
                self.late.append(name)
            self.log.append(("start", label))
            await self.clock.sleep(delay)
            self.log.append(("end", label))
            if delay >= 2:
                raise RuntimeError("slow and broken")
            return name

        made = ScriptedProvider(name, handler)
        original = made.aclose

        async def aclose() -> None:
            self.log.append(("closed", label))
            await original()

        made.aclose = aclose  # type: ignore[method-assign]
        return made


@settings(deadline=None)
@given(OPS, st.lists(st.integers(0, 3), min_size=5, max_size=5))
def test_changes_under_concurrent_requests_lose_nothing(
    ops: list[tuple[str, Any]], delays: list[int]
) -> None:
    asyncio.run(_run(ops, delays))


async def _run(ops: list[tuple[str, Any]], delays: list[int]) -> None:
    clock = ManualClock()
    tracked = Tracked(clock)
    c, clock = coordinator(
        tracked.provider("a", delays[0]),
        tracked.provider("b", delays[1]),
        policy=BreakerPolicy(max_consecutive_failures=1000, minimum_calls=1000),
        retry=RetryPolicy(max_attempts=2, request_timeout=None),
    )
    tracked.clock, tracked.coordinator = clock, c
    tasks: list[asyncio.Future[Any]] = []
    extra = dict(zip("pqr", delays[2:], strict=True))
    adding: set[str] = set()
    for op, arg in ops:
        if op == "request":
            tasks.append(asyncio.ensure_future(c.generate(str(arg))))
        elif op == "add" and arg not in c._by_name and arg not in adding:
            adding.add(arg)  # a change may wait for a removal's drain: run it beside
            tasks.append(asyncio.ensure_future(c.add(tracked.provider(arg, extra[arg]))))
        elif op == "remove" and arg in c._by_name and len(c.providers) > 1:
            tasks.append(asyncio.ensure_future(c.remove(arg)))
        elif op == "advance":
            clock.advance(arg)
        await turns(3)
    for _ in range(500):  # every request and removal ends on the virtual clock
        if all(t.done() for t in tasks):
            break
        clock.advance(1)
        await turns(5)
    pending = [t for t in tasks if not t.done()]
    assert not pending, f"{len(pending)} of {len(tasks)} never ended"
    for task in tasks:
        error = task.exception()
        assert error is None or isinstance(error, AllProvidersFailed | AllProvidersUnavailable)
    await c.aclose()
    assert tracked.late == []
    closes = [name for what, name in tracked.log if what == "closed"]
    assert len(closes) == len(set(closes))  # each provider closed once
    for name in {name for _, name in tracked.log}:
        events = [what for what, n in tracked.log if n == name]
        if "closed" in events:  # every attempt at it ended before it was closed
            last = len(events) - 1 - events[::-1].index("closed")
            assert events.count("start") == events[:last].count("end")
