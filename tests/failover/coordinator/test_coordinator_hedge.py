"""Hedged requests: after ``hedge_after`` seconds without an answer the next candidate starts
beside the first; the first success wins; losers are cancelled (IGNORED, not failures)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import BadRequest, ConfigurationError, ManualClock, Unavailable
from failover._coordinator.coordinator import Coordinator
from failover.retry import RetryPolicy
from failover.testing import ScriptedProvider, ScriptedRequest
from tests.failover.coordinator.test_coordinator_support import QUIET, answers, coordinator, drive


class Slow:
    """A provider that answers (or fails) ``delay`` clock seconds after it is asked, and
    remembers whether it was cancelled."""

    def __init__(self, clock: ManualClock, name: str, delay: float, error: bool = False) -> None:
        self.clock, self.delay, self.error = clock, delay, error
        self.asked = self.cancelled = 0
        self.provider = ScriptedProvider(name, self._handle)

    async def _handle(self, request: ScriptedRequest) -> str:
        self.asked += 1
        try:
            await self.clock.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.error:
            raise Unavailable("503", provider=request.provider)
        return request.provider


def _hedged(clock: ManualClock, *providers: object, **kwargs: object) -> Coordinator:
    kwargs.setdefault("strategy", "priority")
    kwargs.setdefault("policy", QUIET)
    coord, _ = coordinator(*providers, clock=clock, **kwargs)
    return coord


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), 10**400, "1", True])
def test_hedge_after_must_be_a_positive_number_of_seconds(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"hedge_after must be None .* > 0, got"):
        Coordinator([answers("a")], hooks=(), hedge_after=value)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_the_hedge_answers_first_and_the_slow_attempt_is_cancelled_not_failed() -> None:
    clock = ManualClock()
    slow, fast = Slow(clock, "a", 10.0), Slow(clock, "b", 0.5)
    coord = _hedged(
        clock, slow.provider, fast.provider, hedge_after=1.0, priorities={"a": 2, "b": 1}
    )
    result = await drive(clock, coord.generate("hi"))
    assert (result.provider, clock.monotonic()) == ("b", 1.5)
    assert [a.provider for a in result.attempts] == ["b"]  # a cancelled hedge is no attempt
    assert (slow.asked, slow.cancelled) == (1, 1)
    stats = coord.breaker("a").statistics()
    assert (stats.calls, stats.failures) == (0, 0)  # cancellation is IGNORED
    assert coord.breaker("b").statistics().calls == 1
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.asyncio
async def test_an_answer_before_hedge_after_starts_no_hedge() -> None:
    clock = ManualClock()
    first, second = Slow(clock, "a", 0.9), Slow(clock, "b", 0.1)
    coord = _hedged(
        clock, first.provider, second.provider, hedge_after=1.0, priorities={"a": 2, "b": 1}
    )
    result = await drive(clock, coord.generate("hi"))
    assert result.provider == "a"
    assert second.asked == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.asyncio
async def test_the_first_attempt_can_still_win_after_the_hedge_started() -> None:
    clock = ManualClock()
    first, second = Slow(clock, "a", 2.0), Slow(clock, "b", 10.0)
    coord = _hedged(
        clock, first.provider, second.provider, hedge_after=1.0, priorities={"a": 2, "b": 1}
    )
    result = await drive(clock, coord.generate("hi"))
    assert (result.provider, clock.monotonic()) == ("a", 2.0)
    assert (second.asked, second.cancelled) == (1, 1)


@pytest.mark.asyncio
async def test_a_failed_hedge_is_an_attempt_and_the_first_attempt_still_answers() -> None:
    clock = ManualClock()
    first, second = Slow(clock, "a", 5.0), Slow(clock, "b", 1.0, error=True)
    coord = _hedged(
        clock, first.provider, second.provider, hedge_after=1.0, priorities={"a": 2, "b": 1}
    )
    result = await drive(clock, coord.generate("hi"))
    assert (result.provider, clock.monotonic()) == ("a", 5.0)
    assert [(a.provider, type(a.error)) for a in result.attempts] == [
        ("b", Unavailable),
        ("a", type(None)),
    ]
    assert coord.breaker("b").statistics().failures == 1


@pytest.mark.asyncio
async def test_a_bad_request_from_a_hedge_cancels_the_others_and_is_raised() -> None:
    clock = ManualClock()
    first = Slow(clock, "a", 10.0)

    async def bad(request: ScriptedRequest) -> str:
        raise BadRequest("prompt too long", provider=request.provider)

    coord = _hedged(
        clock,
        first.provider,
        ScriptedProvider("b", bad),
        hedge_after=1.0,
        priorities={"a": 2, "b": 1},
    )
    with pytest.raises(BadRequest, match="prompt too long"):
        await drive(clock, coord.generate("hi"))
    assert first.cancelled == 1
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.asyncio
async def test_cancelling_the_request_cancels_every_running_attempt() -> None:
    clock = ManualClock()
    first, second = Slow(clock, "a", 10.0), Slow(clock, "b", 10.0)
    coord = _hedged(
        clock, first.provider, second.provider, hedge_after=1.0, priorities={"a": 2, "b": 1}
    )
    task = asyncio.ensure_future(coord.generate("hi"))
    for _ in range(5):
        await asyncio.sleep(0)
    clock.advance(1.0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert (first.asked, second.asked) == (1, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (first.cancelled, second.cancelled) == (1, 1)
    assert asyncio.all_tasks() == {asyncio.current_task()}


@given(
    delays=st.lists(st.sampled_from([0.5, 1.5, 2.5, 4.0, 9.0]), min_size=1, max_size=5),
    max_attempts=st.integers(1, 4),
    hedge_after=st.sampled_from([0.3, 1.1, 3.7]),  # no two events ever coincide
)
def test_hedges_never_exceed_max_attempts_and_the_earliest_answer_wins(
    delays: list[float], max_attempts: int, hedge_after: float
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        slows = [Slow(clock, f"p{i}", d) for i, d in enumerate(delays)]
        coord = _hedged(
            clock,
            *(s.provider for s in slows),
            hedge_after=hedge_after,
            retry=RetryPolicy(max_attempts=max_attempts, request_timeout=None),
            priorities={f"p{i}": -i for i in range(len(delays))},
        )
        result = await drive(clock, coord.generate("hi"))
        started = sum(s.asked for s in slows)
        assert started <= max_attempts
        # Provider i starts at i * hedge_after, while attempts remain and nothing has answered
        # yet, and answers ``delay`` later; the others are cancelled then.
        finish = {i: i * hedge_after + d for i, d in enumerate(delays[:max_attempts])}
        won_at = min(finish.values())
        winner = min(finish, key=finish.__getitem__)
        assert clock.monotonic() == pytest.approx(won_at)
        assert result.provider == f"p{winner}"
        expected_started = [i for i in finish if i * hedge_after < won_at]
        assert [s.asked for s in slows] == [int(i in expected_started) for i in range(len(slows))]
        assert sum(s.cancelled for s in slows) == len(expected_started) - 1
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(scenario())
