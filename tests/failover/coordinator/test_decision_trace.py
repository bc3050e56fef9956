"""The decision trace (issue 15, items 5 and 2): Result.skipped and the errors' skipped say which
providers a request passed over and why, with retry times; a client-side limit that refuses is
named with its value and when it frees up."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BreakerPolicy,
    RateLimit,
    RetryPolicy,
    SearchResult,
    SearchResults,
    Skip,
    SkipReason,
)
from failover.provider import HealthCheckResult
from failover.testing import ScriptedProvider
from statemachines import BreakerState
from tests.failover.coordinator.test_coordinator_support import QUIET, answers, coordinator, down

R = SkipReason


class SearchOnly:
    """A provider that serves search only."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def search(self, query: str, **options: object) -> SearchResults:
        return SearchResults(query, (SearchResult(query, "https://x.example"),), self.name)  # type: ignore[arg-type]

    async def health_check(self) -> HealthCheckResult:
        return HealthCheckResult(self.name, True)

    async def aclose(self) -> None:
        return None


def reasons(skips: tuple[Skip, ...]) -> list[tuple[str, SkipReason]]:
    return [(skip.provider, skip.reason) for skip in skips]


@pytest.mark.asyncio
async def test_a_first_pick_that_answers_passed_nobody_over() -> None:
    c, _ = coordinator(answers("a"), answers("b"), strategy="priority", priorities={"a": 1})
    result = await c.generate("hi")
    assert (result.provider, result.skipped) == ("a", ())
    value, provider, attempts = result  # still a named tuple of three
    assert (value.text, provider, len(attempts)) == ("a", "a", 1)


@pytest.mark.asyncio
async def test_a_forced_open_leader_is_in_the_trace_of_the_answer() -> None:
    c, _ = coordinator(answers("a"), answers("b"), strategy="priority", priorities={"a": 1})
    c.breaker("a").force_open()
    result = await c.generate("hi")
    assert result.provider == "b"
    assert reasons(result.skipped) == [("a", R.FORCED_OPEN)]
    assert result.skipped[0].retry_at is None
    assert "Result(value=" in repr(result)


@pytest.mark.asyncio
async def test_an_open_breaker_says_when_it_may_be_tried_again() -> None:
    policy = BreakerPolicy(max_consecutive_failures=1, open_duration=30, open_jitter=0.0)
    c, clock = coordinator(
        down("a"), answers("b"), strategy="priority", priorities={"a": 1}, policy=policy
    )
    assert (await c.generate("trip a")).provider == "b"  # a failed once: OPEN for 30 s
    clock.advance(10)
    result = await c.generate("hi")
    [skip] = result.skipped
    assert (skip.provider, skip.reason) == ("a", R.OPEN)
    assert skip.retry_after == pytest.approx(20.0)
    assert str(skip) == "a: open, retry in 20.0 s"


@pytest.mark.asyncio
async def test_a_provider_without_the_capability_is_not_serving() -> None:
    c, _ = coordinator(
        SearchOnly("brave"), answers("a"), strategy="priority", priorities={"brave": 5}
    )
    result = await c.generate("hi")
    [skip] = result.skipped
    assert (skip.provider, skip.reason) == ("brave", R.NOT_SERVING)
    assert skip.detail == "serves search, not generate"


@pytest.mark.asyncio
async def test_taken_probe_slots_are_named() -> None:
    policy = BreakerPolicy(max_consecutive_failures=1, open_duration=5, open_jitter=0.0)
    gate = asyncio.Event()

    async def slow(request: Any) -> str:
        await gate.wait()
        return "a"

    flaky = ScriptedProvider("a", lambda r: (_ for _ in ()).throw(RuntimeError("x")))
    c, clock = coordinator(flaky, policy=policy, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(AllProvidersFailed):
        await c.generate("trip a")
    clock.advance(5)  # a may be probed
    flaky.handler = slow
    probe = asyncio.ensure_future(c.generate("the probe"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert c.breaker("a").state is BreakerState.HALF_OPEN
    with pytest.raises(AllProvidersUnavailable) as caught:
        await c.generate("while probing")
    [skip] = caught.value.skipped
    assert (skip.provider, skip.reason) == ("a", R.PROBES_TAKEN)
    assert skip.detail == "1 probe(s) in flight"
    gate.set()
    assert (await probe).provider == "a"


@pytest.mark.asyncio
async def test_a_client_side_limit_names_itself_and_when_it_frees() -> None:
    c, clock = coordinator(answers("a"), rate_limits={"a": RateLimit(per_minute=2)})
    await c.generate("1")
    clock.advance(15)
    await c.generate("2")
    clock.advance(5)
    with pytest.raises(AllProvidersUnavailable) as caught:
        await c.generate("3")
    error = caught.value
    [skip] = error.skipped
    assert (skip.provider, skip.reason) == ("a", R.NO_QUOTA)
    assert skip.retry_after == pytest.approx(40.0)  # the first request leaves the minute
    assert skip.detail == "client-side limit per_minute = 2 frees in 40.0 s"
    assert "client-side limit per_minute = 2" in str(error)
    assert error.retry_after == pytest.approx(40.0)


@pytest.mark.asyncio
async def test_each_refusing_limit_is_named() -> None:
    limit = RateLimit(per_minute=1, per_day=1)
    c, _ = coordinator(answers("a"), rate_limits={"a": limit})
    await c.generate("1")
    with pytest.raises(AllProvidersUnavailable) as caught:
        await c.generate("2")
    [skip] = caught.value.skipped
    assert "per_minute = 1 frees in 60.0 s" in skip.detail
    assert "per_day = 1 frees in 86400.0 s" in skip.detail
    assert skip.retry_after == pytest.approx(86_400.0)


@pytest.mark.asyncio
async def test_attempts_that_run_out_leave_the_rest_outranked() -> None:
    c, _ = coordinator(
        down("a"),
        answers("b"),
        strategy="priority",
        priorities={"a": 1},
        retry=RetryPolicy(max_attempts=1),
        policy=QUIET,
    )
    with pytest.raises(AllProvidersFailed) as caught:
        await c.generate("hi")
    assert [a.provider for a in caught.value.attempts] == ["a"]
    assert reasons(caught.value.skipped) == [("b", R.OUTRANKED)]
    assert "not attempted: b: outranked" in str(caught.value)


# --- the property ----------------------------------------------------------------------------

STATES = st.sampled_from(["closed", "forced_open", "open", "no_quota", "search_only", "down"])


@settings(deadline=None)
@given(st.lists(STATES, min_size=1, max_size=5))
def test_every_provider_is_attempted_or_skipped_once_for_a_true_reason(states: list[str]) -> None:
    assume(any(state != "search_only" for state in states))  # else: test_misuse.py
    asyncio.run(_one_request(states))


def _boom() -> None:
    raise RuntimeError("down")


async def _one_request(states: list[str]) -> None:
    providers: list[Any] = []
    limits = {}
    for index, state in enumerate(states):
        name = f"p{index}"
        if state == "search_only":
            providers.append(SearchOnly(name))
        else:
            providers.append(down(name) if state in ("down", "open") else answers(name))
        if state == "no_quota":
            limits[name] = RateLimit(per_minute=1)
    policy = BreakerPolicy(max_consecutive_failures=1, open_duration=60, open_jitter=0.0)
    c, _ = coordinator(
        *providers,
        rate_limits=limits,
        policy=policy,
        strategy="priority",
        retry=RetryPolicy(max_attempts=2, request_timeout=None),
    )
    for index, state in enumerate(states):
        name = f"p{index}"
        if state == "forced_open":
            c.breaker(name).force_open()
        elif state == "open":
            with contextlib.suppress(RuntimeError):
                c.breaker(name).call(_boom)  # one failure opens it (for 60 s)
        elif state == "no_quota":
            c._by_name[name].quota.consume(c.clock.monotonic())  # type: ignore[union-attr]
    try:
        result = await c.generate("hi")
    except AllProvidersFailed as error:
        attempts, skipped, answered = error.attempts, error.skipped, None
    except AllProvidersUnavailable as error:
        attempts, skipped, answered = (), error.skipped, None
    else:
        attempts, skipped, answered = result.attempts, result.skipped, result.provider
    attempted = [a.provider for a in attempts]
    named = [s.provider for s in skipped]
    assert len(set(named)) == len(named)
    assert not set(named) & set(attempted)
    if answered is None:  # a failed request accounts for every provider
        assert sorted(set(attempted) | set(named)) == sorted(f"p{i}" for i in range(len(states)))
    expected = {
        "forced_open": {R.FORCED_OPEN},
        "open": {R.OPEN},
        "no_quota": {R.NO_QUOTA},
        "search_only": {R.NOT_SERVING},
        "closed": {R.OUTRANKED},
        "down": {R.OUTRANKED, R.OPEN},  # OPEN once it failed
    }
    now = c.clock.monotonic()  # the clock never moved: the time of every decision
    for skip in skipped:
        state = states[int(skip.provider[1:])]
        assert skip.reason in expected[state], (skip, state)
        slot = c._by_name[skip.provider]
        if skip.reason in (R.OPEN, R.FORCED_OPEN):  # its breaker really refused, until then
            assert not slot.would_admit(now)
            assert skip.retry_at == slot.machine.retry_at
        elif skip.reason is R.NO_QUOTA:  # its quota really refused, until then
            assert slot.would_admit(now)
            assert skip.retry_at is not None
            assert skip.retry_at > now
            assert skip.retry_at == slot.quota_at(now)
        elif skip.reason is R.OUTRANKED:  # it would have admitted
            assert slot.would_admit(now)
            assert slot.quota_at(now) is None
        if skip.retry_at is not None:
            assert skip.retry_after == pytest.approx(skip.retry_at - now)


@pytest.mark.asyncio
async def test_a_traced_coordinator_keeps_the_same_trace() -> None:
    from failover.tracing import CoordinatorTelemetry

    c, _ = coordinator(
        SearchOnly("brave"),
        answers("a"),
        answers("b"),
        strategy="priority",
        priorities={"brave": 3, "a": 2},
        telemetry=CoordinatorTelemetry(),
    )
    c.breaker("a").force_open()
    result = await c.generate("hi")
    assert result.provider == "b"
    assert reasons(result.skipped) == [("brave", R.NOT_SERVING), ("a", R.FORCED_OPEN)]


@pytest.mark.asyncio
@pytest.mark.parametrize("traced", [False, True])
async def test_a_fallback_examined_and_refused_is_in_the_trace_one_not_needed_is_not(
    traced: bool,
) -> None:
    from failover.tracing import CoordinatorTelemetry

    c, _ = coordinator(
        down("a"),
        fallback=[answers("f1"), answers("f2"), answers("f3")],
        priorities={"f1": 3, "f2": 2, "f3": 1},
        retry=RetryPolicy(max_attempts=1),
        policy=QUIET,
        telemetry=CoordinatorTelemetry() if traced else None,
    )
    c.breaker("f1").force_open()
    result = await c.generate("hi")
    assert [a.provider for a in result.attempts] == ["a", "f2"]
    assert reasons(result.skipped) == [("f1", R.FORCED_OPEN)]  # f3 was not needed: not listed
