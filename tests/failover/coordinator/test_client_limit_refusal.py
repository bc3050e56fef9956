"""A refusal by a client-side limit (issue 15, item 2): the error and its Skip name the provider,
the limit that refused (per_minute, per_day, tokens_per_minute, or what the provider reported)
and when it frees up, whichever way the coordinator was built and whichever way it was asked."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from failover import (
    AllProvidersUnavailable,
    BreakerPolicy,
    LLMResponse,
    ManualClock,
    RateLimit,
    SkipReason,
    Unavailable,
    Usage,
)
from failover._coordinator.coordinator import Coordinator
from failover.health import HealthCheckConfig
from failover.lifecycle import managed_failover
from failover.provider import Provider, QuotaReport
from failover.registry import default_registry, register_provider
from failover.settings import FailoverSettings, ProviderSettings
from failover.storage import MemoryStorage
from failover.testing import ScriptedProvider, ScriptedRequest
from tests.failover.coordinator.test_coordinator_support import answers, coordinator, drive

KIND = "client-limit-test"


@pytest.fixture
def registered() -> Iterator[None]:
    def build(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        return ScriptedProvider(settings.name, lambda request: f"{settings.name} answers")

    register_provider(KIND, build)
    yield
    default_registry.unregister(KIND)


@pytest.mark.asyncio
@pytest.mark.usefixtures("registered")
async def test_the_61st_request_of_settings_at_60_per_minute_names_the_limit() -> None:
    config = FailoverSettings.from_mapping(
        {"requests_per_minute": 60, "providers": [{"name": "gemini", "kind": KIND}]}
    )
    clock = ManualClock()
    async with managed_failover(config, clock=clock, environ={}) as c:
        start = clock.monotonic()
        for _ in range(60):
            assert (await c.generate("hi")).provider == "gemini"
            clock.advance(0.5)
        with pytest.raises(AllProvidersUnavailable) as caught:
            await c.generate("the 61st")
        error = caught.value
        [skip] = error.skipped
        assert (skip.provider, skip.reason) == ("gemini", SkipReason.NO_QUOTA)
        assert skip.retry_at == pytest.approx(start + 60)  # the first request leaves the minute
        assert skip.retry_after == pytest.approx(30.0)
        assert error.retry_after == pytest.approx(30.0)
        assert "gemini: no_quota (client-side limit per_minute = 60 frees in 30.0 s)" in str(error)
        clock.advance(30.0)
        assert (await c.generate("once it frees")).provider == "gemini"


@pytest.mark.asyncio
async def test_a_token_limit_names_itself() -> None:
    def handler(request: ScriptedRequest) -> LLMResponse:
        return LLMResponse("ok", "a", "m", Usage(total_tokens=100), "stop")

    c, clock = coordinator(
        ScriptedProvider("a", handler), rate_limits={"a": RateLimit(tokens_per_minute=150)}
    )
    await c.generate("1")
    clock.advance(10)
    await c.generate("2")  # 100 tokens < 150 when it was sent: admitted, now 200
    with pytest.raises(AllProvidersUnavailable) as caught:
        await c.generate("3")
    [skip] = caught.value.skipped
    assert skip.reason is SkipReason.NO_QUOTA
    assert skip.detail == "client-side limit tokens_per_minute = 150 frees in 50.0 s"
    assert skip.retry_after == pytest.approx(50.0)


class Reporting(ScriptedProvider):
    """A provider whose responses report no requests left for 30 s."""

    def quota_report(self) -> QuotaReport | None:
        return QuotaReport(remaining=0, reset_after=30.0)


@pytest.mark.asyncio
async def test_the_quota_a_provider_reports_is_named_as_the_providers() -> None:
    c, clock = coordinator(Reporting("a", lambda request: "a"), answers("b"), strategy="priority")
    c2_priority = await c.generate("1")
    assert c2_priority.provider == "a"
    clock.advance(5)
    result = await c.generate("2")
    assert result.provider == "b"
    [skip] = result.skipped
    assert (skip.provider, skip.reason) == ("a", SkipReason.NO_QUOTA)
    assert skip.detail == "the provider reports no requests left frees in 25.0 s"
    assert str(skip) == "a: no_quota (the provider reports no requests left frees in 25.0 s)"


@pytest.mark.asyncio
async def test_the_message_lists_each_provider_with_its_reason_and_time() -> None:
    def fails(request: ScriptedRequest) -> str:
        raise Unavailable("503", provider="gemini")

    c, clock = coordinator(
        ScriptedProvider("gemini", fails),
        answers("openai"),
        strategy="priority",
        priorities={"gemini": 2},
        policy=BreakerPolicy(max_consecutive_failures=1, open_duration=30, open_jitter=0.0),
        rate_limits={"openai": RateLimit(per_minute=1)},
    )
    assert (await c.generate("1")).provider == "openai"  # gemini failed: OPEN for 30 s
    clock.advance(12.5)
    with pytest.raises(AllProvidersUnavailable) as caught:
        await c.generate("2")
    assert str(caught.value) == (
        "no provider admits a call (gemini: open, retry in 17.5 s; openai: no_quota "
        "(client-side limit per_minute = 1 frees in 47.5 s)); earliest retry at t=30.000 "
        "(in 17.5 s)"
    )


@pytest.mark.asyncio
async def test_a_stream_refused_by_a_limit_says_so() -> None:
    c, _ = coordinator(answers("a"), rate_limits={"a": RateLimit(per_minute=1)})
    assert [chunk async for chunk in c.stream("1")] == ["a"]
    refused = c.stream("2")
    with pytest.raises(AllProvidersUnavailable) as caught:
        await anext(refused)
    [skip] = caught.value.skipped
    assert (skip.provider, skip.reason, skip.retry_after) == ("a", SkipReason.NO_QUOTA, 60.0)


@pytest.mark.asyncio
async def test_a_hedged_request_traces_the_limit_that_passed_a_provider_over() -> None:
    c, clock = coordinator(
        answers("a"),
        answers("b"),
        strategy="priority",
        priorities={"a": 1},
        rate_limits={"a": RateLimit(per_minute=1)},
        hedge_after=1.0,
    )
    assert (await drive(clock, c.generate("1"))).provider == "a"
    result = await drive(clock, c.generate("2"))
    assert result.provider == "b"
    [skip] = result.skipped
    assert (skip.provider, skip.reason) == ("a", SkipReason.NO_QUOTA)
    assert "client-side limit per_minute = 1" in skip.detail


def advance_to(clock: ManualClock, when: float) -> None:
    """Move ``clock`` to ``when`` (or the float just after: ``a + (b - a)`` may round below b)."""
    for _ in range(3):
        if clock.monotonic() >= when:
            return
        clock.advance(when - clock.monotonic())
    raise AssertionError(f"the clock did not reach {when!r}")


@settings(deadline=None, max_examples=50)
@example(limit=1, gaps=[4.641529936544976, 0.0, 0.0, 0.0, 0.0, 0.0])  # (w + 60) - 60 > w
@given(
    limit=st.integers(min_value=1, max_value=6),
    gaps=st.lists(st.floats(min_value=0.0, max_value=9.0), min_size=6, max_size=6),
)
def test_a_refusal_frees_when_it_says(limit: int, gaps: list[float]) -> None:
    """Whatever the spacing of the requests within a minute, the refusal's retry_at is when the
    oldest leaves the minute, and the limit admits again exactly then (not a moment before)."""

    async def run() -> None:
        c, clock = coordinator(answers("a"), rate_limits={"a": RateLimit(per_minute=limit)})
        sent = []
        for gap in gaps[:limit]:
            clock.advance(gap)
            sent.append(clock.monotonic())
            await c.generate("x")
        with pytest.raises(AllProvidersUnavailable) as caught:
            await c.generate("one too many")
        [skip] = caught.value.skipped
        assert skip.reason is SkipReason.NO_QUOTA
        assert skip.retry_at == sent[0] + 60.0
        assert skip.retry_after == pytest.approx(sent[0] + 60.0 - clock.monotonic())
        assert f"per_minute = {limit}" in skip.detail
        assert skip.retry_at is not None
        clock.advance(skip.retry_at - clock.monotonic() - 1e-3)
        with pytest.raises(AllProvidersUnavailable):
            await c.generate("a moment before")
        advance_to(clock, skip.retry_at)
        assert (await c.generate("when it frees")).provider == "a"

    asyncio.run(run())


async def settle() -> None:
    """Let the replicas' lease tasks run (no clock moves, no real sleep)."""
    for _ in range(50):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_a_shared_limit_used_up_by_another_process_is_named() -> None:
    clock = ManualClock()
    storage = MemoryStorage(clock=clock)

    def process() -> Coordinator:
        return coordinator(
            answers("p"),
            answers("q"),
            strategy="priority",
            priorities={"p": 1},
            rate_limits={"p": RateLimit(per_minute=2)},
            health=HealthCheckConfig(enabled=False),
            storage=storage,
            clock=clock,
        )[0]

    group = [process(), process()]
    for member in group:
        await member.start()
    try:
        answered: list[list[str]] = [[], []]
        for _ in range(4):  # together they may send p two requests this minute
            for member, answers_of in zip(group, answered, strict=True):
                await settle()
                answers_of.append((await member.generate("hi")).provider)
        assert sum(a.count("p") for a in answered) == 2
        for member, answers_of in zip(group, answered, strict=True):
            await settle()
            result = await member.generate("hi")
            assert result.provider == "q"
            [skip] = result.skipped
            assert (skip.provider, skip.reason) == ("p", SkipReason.NO_QUOTA)
            assert "shared limit per_minute = 2 (used up across processes)" in skip.detail
            if answers_of.count("p") < 2:  # its own minute has room: the shared one refused
                assert "client-side limit" not in skip.detail
            assert skip.retry_after is not None
            assert 0 < skip.retry_after <= 60
    finally:
        for member in group:
            await member.aclose()
