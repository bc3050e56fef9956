"""Active health checks: background tasks on the coordinator's clock, checks on demand, what
they do to the breakers and to ``status()``, and closing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest

from failover import BreakerPolicy, BreakerState, ManualClock, Unavailable
from failover._coordinator.coordinator import Coordinator
from failover.health import HealthCheckConfig
from failover.provider import HealthCheckResult, QuotaReport
from failover.testing import ScriptedProvider, ScriptedRequest
from statemachines import FailoverReason
from tests.failover.coordinator.test_coordinator_support import coordinator, drive

EVERY_100 = HealthCheckConfig(interval=100.0, timeout=5.0, jitter=0.0)
"""Checks at 0, 100, 200, ... exactly."""


def checked(
    name: str, clock: ManualClock, answer: Callable[[int], object] = lambda _: True
) -> tuple[ScriptedProvider, list[float]]:
    """A provider whose n-th health check answers ``answer(n)`` (raised if an exception), and
    the clock times of its health checks."""
    times: list[float] = []

    def handler(request: ScriptedRequest) -> object:
        if request.kind != "health_check":
            return "ok"
        times.append(clock.monotonic())
        outcome = answer(len(times) - 1)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return ScriptedProvider(name, handler), times


async def turns(count: int = 20) -> None:
    """Let every ready task run (no real time passes)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def step(clock: ManualClock) -> None:
    """Move the clock to the next sleeper's wake-up time and let the woken tasks run."""
    wake = clock.next_wakeup
    assert wake is not None, "nothing waits on the clock"
    clock.advance(max(wake - clock.monotonic(), 0.0))
    await turns()


async def until(clock: ManualClock, time: float) -> None:
    """Step the clock to ``time``, waking each sleeper at its own time on the way."""
    await turns()  # tasks just created register their sleeps first
    while (wake := clock.next_wakeup) is not None and wake <= time:
        await step(clock)
    clock.advance(time - clock.monotonic())
    await turns()


def manual_coordinator(
    clock: ManualClock, *providers: ScriptedProvider, **kwargs: object
) -> Coordinator:
    """A coordinator over ``providers`` on ``clock`` (no hooks, seed 0 unless given)."""
    return coordinator(*providers, clock=clock, **kwargs)[0]


# --- background checks ---------------------------------------------------------------------------


async def first_offsets(seed: int) -> list[float]:
    clock = ManualClock()
    pairs = [checked(n, clock) for n in "abcd"]
    config = HealthCheckConfig(interval=100.0, jitter=0.5)
    c = manual_coordinator(clock, *(p for p, _ in pairs), health=config, seed=seed)
    async with c:
        await until(clock, 50.0)
    assert all(len(times) == 1 for _, times in pairs), "each provider is checked once by then"
    return [times[0] for _, times in pairs]


@pytest.mark.asyncio
async def test_first_checks_run_at_seeded_jittered_offsets_within_jitter_times_interval() -> None:
    offsets = await first_offsets(seed=7)
    assert all(0.0 <= t <= 50.0 for t in offsets)
    assert len(set(offsets)) == len(offsets), "providers are not all checked at once"
    assert await first_offsets(seed=7) == offsets
    assert await first_offsets(seed=8) != offsets


@pytest.mark.asyncio
async def test_checks_repeat_every_interval() -> None:
    clock = ManualClock()
    a, times = checked("a", clock)
    async with manual_coordinator(clock, a, health=EVERY_100):
        await until(clock, 350.0)
    assert times == [0.0, 100.0, 200.0, 300.0]


@pytest.mark.asyncio
async def test_later_checks_are_jittered_around_the_interval() -> None:
    clock = ManualClock()
    a, times = checked("a", clock)
    config = HealthCheckConfig(interval=100.0, jitter=0.4)
    async with manual_coordinator(clock, a, health=config):
        await until(clock, 2000.0)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(gaps) >= 15
    assert all(80.0 <= gap <= 120.0 for gap in gaps)
    assert len(set(gaps)) > 1


@pytest.mark.asyncio
async def test_starting_health_checks_leaves_the_request_random_source_alone() -> None:
    clock = ManualClock()
    c = manual_coordinator(clock, checked("a", clock)[0], checked("b", clock)[0], seed=3)
    before = c._rng.getstate()
    async with c:
        await until(clock, 1000.0)
        assert c._rng.getstate() == before


@pytest.mark.asyncio
async def test_failing_checks_trip_after_health_failures_to_trip() -> None:
    clock = ManualClock()
    a, _ = checked("a", clock, lambda _: False)
    policy = BreakerPolicy(health_failures_to_trip=3, open_duration=60.0)
    c = manual_coordinator(clock, a, health=EVERY_100, policy=policy)
    async with c:
        await until(clock, 150.0)
        assert c.breaker("a").state is BreakerState.CLOSED  # checks at 0 and 100
        await until(clock, 250.0)
        assert c.breaker("a").state is BreakerState.OPEN  # until 200 + 60 at the latest
    event = c.breaker("a").events[0]
    assert (event.reason, event.at) == (FailoverReason.HEALTH_CHECK_FAILED, 200.0)


@pytest.mark.asyncio
async def test_a_passing_check_while_open_probes_early() -> None:
    clock = ManualClock()
    a, _ = checked("a", clock, lambda n: n >= 1)  # the check at 0 fails, later ones pass
    policy = BreakerPolicy(open_duration=1000.0, max_open_duration=1000.0, open_jitter=0.0)
    c = manual_coordinator(clock, a, health=EVERY_100, policy=policy)
    async with c:
        await turns()
        c.breaker("a").record_signal(FailoverReason.AUTH_FAILED)
        assert c.breaker("a").state is BreakerState.OPEN
        await until(clock, 100.0)
        assert c.breaker("a").state is BreakerState.HALF_OPEN
    event = c.breaker("a").events[-1]
    assert (event.reason, event.at) == (FailoverReason.HEALTH_CHECK_PASSED, 100.0)


@pytest.mark.asyncio
async def test_a_check_that_times_out_counts_as_a_failure() -> None:
    clock = ManualClock()

    async def hangs(request: ScriptedRequest) -> bool:
        await clock.sleep(1_000_000)
        return True

    a = ScriptedProvider("a", hangs)
    c = manual_coordinator(clock, a, health=EVERY_100, policy=BreakerPolicy())
    async with c:
        await until(clock, 110.0)
        # checks at 0 and 105 (an interval after the first one ended): 2 timeouts trip it
        assert c.breaker("a").state is BreakerState.OPEN
    result = c.status().provider("a").last_health_check
    assert result == HealthCheckResult("a", False, 5.0, 110.0, "timed out after 5 s")
    assert c.breaker("a").events[-1].reason is FailoverReason.HEALTH_CHECK_FAILED


@pytest.mark.asyncio
async def test_an_exception_is_unhealthy_and_its_text_is_never_shown() -> None:
    clock = ManualClock()
    a, _ = checked("a", clock, lambda _: Unavailable("401 for key sk-SECRET", provider="a"))
    c = manual_coordinator(clock, a, health=EVERY_100)
    results = await c.check_health(force=True)
    assert results == {
        "a": HealthCheckResult("a", False, 0.0, 0.0, "health_check() raised Unavailable")
    }


@pytest.mark.asyncio
async def test_an_answer_that_is_not_a_result_is_unhealthy() -> None:
    class Odd(ScriptedProvider):
        async def health_check(self) -> HealthCheckResult:
            return "fine"  # type: ignore[return-value]

    c, _ = coordinator(Odd("a", lambda r: None), health=EVERY_100)
    [result] = (await c.check_health(force=True)).values()
    assert not result.healthy
    assert result.error == "health_check() returned a str, not a HealthCheckResult"


@pytest.mark.asyncio
async def test_a_result_is_stamped_with_the_clock_and_the_provider_name() -> None:
    clock = ManualClock(start=40.0)

    async def slow(request: ScriptedRequest) -> HealthCheckResult:
        await clock.sleep(2.0)
        return HealthCheckResult("other", True, latency=99.0, checked_at=-1.0, error=None)

    c = manual_coordinator(clock, ScriptedProvider("a", slow), health=EVERY_100)
    results = await drive(clock, c.check_health(force=True))
    assert results["a"] == HealthCheckResult("a", True, 2.0, 42.0, None)


# --- checks on demand ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_check_health_force_checks_every_provider_even_when_disabled() -> None:
    clock = ManualClock()
    (a, a_times), (b, b_times) = checked("a", clock), checked("b", clock, lambda _: False)
    c = manual_coordinator(clock, a, b, health=HealthCheckConfig(enabled=False))
    async with c:
        assert await c.check_health() == {}  # disabled, not forced: nothing is checked
        results = await c.check_health(force=True)
        assert {n: r.healthy for n, r in results.items()} == {"a": True, "b": False}
        assert (a_times, b_times) == ([0.0], [0.0])
        assert c.status().provider("b").last_health_check == results["b"]


@pytest.mark.asyncio
async def test_check_health_without_force_keeps_results_younger_than_the_interval() -> None:
    clock = ManualClock()
    a, times = checked("a", clock)
    c = manual_coordinator(clock, a, health=EVERY_100)
    first = await c.check_health()
    clock.advance(99.0)
    assert await c.check_health() == first
    assert times == [0.0]
    await c.check_health(force=True)
    clock.advance(100.0)
    second = await c.check_health()
    assert times == [0.0, 99.0, 199.0]
    assert second["a"].checked_at == 199.0


@pytest.mark.asyncio
async def test_status_shows_the_last_health_check() -> None:
    clock = ManualClock()
    a, _ = checked("a", clock, lambda n: n % 2 == 0)
    c = manual_coordinator(clock, a, health=EVERY_100)
    assert c.status().provider("a").last_health_check is None
    async with c:
        await until(clock, 150.0)
        assert c.status().provider("a").last_health_check == HealthCheckResult(
            "a", False, 0.0, 100.0, None
        )


@pytest.mark.asyncio
async def test_check_health_after_close_is_refused() -> None:
    c, _ = coordinator(ScriptedProvider("a", lambda r: True))
    await c.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await c.check_health(force=True)


# --- lifecycle -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_close_cancels_every_task_even_mid_check_and_closes_every_provider() -> None:
    clock = ManualClock()

    async def hangs(request: ScriptedRequest) -> bool:
        await clock.sleep(1_000_000)
        return True

    providers = [ScriptedProvider(n, hangs) for n in "abc"]
    config = HealthCheckConfig(interval=100.0, timeout=50.0, jitter=0.0)
    c = manual_coordinator(clock, *providers, health=config)
    before = asyncio.all_tasks()
    await c.start()
    await turns()  # every check is now waiting for its provider
    assert len(asyncio.all_tasks() - before) >= 3
    assert all(len(p.requests) == 1 for p in providers)
    await c.aclose()
    assert asyncio.all_tasks() == before
    assert all(p.closed for p in providers)


@pytest.mark.asyncio
async def test_disabled_checks_start_no_task() -> None:
    clock = ManualClock()
    a, times = checked("a", clock)
    before = asyncio.all_tasks()
    async with manual_coordinator(clock, a, health=HealthCheckConfig(enabled=False)):
        await turns()
        assert asyncio.all_tasks() == before
        assert clock.sleepers == 0
    assert times == []


@pytest.mark.asyncio
async def test_start_twice_starts_one_task_per_provider() -> None:
    clock = ManualClock()
    c = manual_coordinator(clock, checked("a", clock)[0], checked("b", clock)[0])
    before = asyncio.all_tasks()
    await c.start()
    await c.start()
    assert len(asyncio.all_tasks() - before) == 2
    await c.aclose()
    assert asyncio.all_tasks() == before


# --- quota ---------------------------------------------------------------------------------------


class QuotaReporting(ScriptedProvider):
    """A provider whose health checks report ``report`` as its quota afterwards."""

    def __init__(self, name: str, clock: ManualClock) -> None:
        self.times: list[float] = []
        self.report: QuotaReport | None = None
        super().__init__(name, self._handle)
        self._clock = clock

    def _handle(self, request: ScriptedRequest) -> object:
        if request.kind == "health_check":
            self.times.append(self._clock.monotonic())
        return True if request.kind == "health_check" else "ok"

    def quota_report(self) -> QuotaReport | None:
        return self.report


@pytest.mark.asyncio
async def test_a_check_reads_the_reported_quota_and_checks_wait_while_none_is_left() -> None:
    clock = ManualClock()
    a = QuotaReporting("a", clock)
    a.report = QuotaReport(remaining=0, reset_after=250.0)  # the first check learns: none left
    c = manual_coordinator(clock, a, health=EVERY_100)
    async with c:
        await until(clock, 10.0)
        assert c.status().providers[0].quota_available_at == 250.0
        a.report = None
        await until(clock, 450.0)
    # 100 and 200 are skipped (no quota until 250); checks go on at 300 and 400
    assert a.times == [0.0, 300.0, 400.0]
