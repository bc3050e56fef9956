"""Absurd waits from the loopback fakes, through a Coordinator: a 429 with Retry-After 10**12,
a retryDelay of 400 digits, an X-RateLimit-Reset of 5000 digits. The breaker opens with its
event, its retry_at is finite and at most MAX_RETRY_AFTER away, and once that has passed the
provider is asked again: no value strands it."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from failover import (
    MAX_RETRY_AFTER,
    BreakerState,
    CircuitBreaker,
    Coordinator,
    ManualClock,
    RateLimited,
)
from providers.gemini import GeminiProvider
from providers.testing import gemini as fake_gemini
from providers.testing._server import FakeServer, Reply
from providers.testing.brave import FakeBrave, brave_error, web_results
from providers.testing.openai import FakeOpenAI, backup, completion, coordinator, error, provider
from statemachines import FailoverReason
from tests.providers.test_brave_coordinator import Setup, backup_provider

TEN_TO_THE_12 = "1" + "0" * 12
DIGITS_400 = "1" + "0" * 400


def assert_opened_for_at_most_the_cap(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """OPEN for RATE_LIMITED, with an event, until a finite time at most the cap away."""
    assert breaker.state is BreakerState.OPEN
    event = breaker.events[-1]
    assert (event.dest, event.reason) == (BreakerState.OPEN, FailoverReason.RATE_LIMITED)
    assert event.details["retry_after"] == MAX_RETRY_AFTER
    retry_at = breaker.retry_at
    assert retry_at is not None
    assert math.isfinite(retry_at)
    assert clock.monotonic() < retry_at <= clock.monotonic() + MAX_RETRY_AFTER


# --- OpenAI ------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers",
    [{"retry-after": TEN_TO_THE_12}, {"retry-after-ms": DIGITS_400}, {"retry-after": DIGITS_400}],
    ids=["retry-after-10^12", "retry-after-ms-400-digits", "retry-after-400-digits"],
)
async def test_an_openai_429_opens_for_at_most_the_cap(headers: dict[str, str]) -> None:
    limited = Reply.json(
        error("Rate limit reached", "requests", "rate_limit_exceeded"), status=429, headers=headers
    )
    async with FakeServer(FakeOpenAI(limited, Reply.json(completion("again")))) as server:
        c, clock = coordinator(provider(server), backup())
        first = await c.generate("x")
        assert first.provider == "backup"
        raised = first.attempts[0].error
        assert isinstance(raised, RateLimited)
        assert raised.retry_after == MAX_RETRY_AFTER
        assert_opened_for_at_most_the_cap(c.breaker("openai"), clock)
        clock.advance(MAX_RETRY_AFTER - 1.0)
        assert (await c.generate("x")).provider == "backup"
        clock.advance(1.0)
        assert (await c.generate("x")).value.text == "again"
        await c.aclose()
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_an_openai_reset_of_400_digits_skips_the_provider_for_at_most_the_cap() -> None:
    quota = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": DIGITS_400}
    answers = [Reply.json(completion("last"), headers=quota), Reply.json(completion("again"))]
    async with FakeServer(FakeOpenAI(*answers)) as server:
        c, clock = coordinator(provider(server), backup())
        assert (await c.generate("x")).value.text == "last"
        clock.advance(MAX_RETRY_AFTER - 1.0)
        assert (await c.generate("x")).provider == "backup"
        clock.advance(1.0)
        assert (await c.generate("x")).value.text == "again"
        await c.aclose()


@pytest.mark.asyncio
async def test_an_openai_remaining_in_superscript_digits_does_not_fail_the_answer() -> None:
    odd = {"x-ratelimit-remaining-requests": "\u00b2", "x-ratelimit-reset-requests": "1s"}
    async with FakeServer(FakeOpenAI(Reply.json(completion("fine"), headers=odd))) as server:
        answer = await provider(server).generate("x")
    assert answer.text == "fine"


# --- Gemini ------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def gemini() -> AsyncIterator[tuple[fake_gemini.FakeGemini, Coordinator, ManualClock]]:
    async with fake_gemini.FakeGemini() as server:
        clock = ManualClock()
        provider = GeminiProvider(fake_gemini.KEY, base_url=server.base_url, timeout=5.0)
        coordinator = Coordinator(
            [provider, backup()],
            strategy="priority",
            priorities={"gemini": 1},
            clock=clock,
            hooks=(),
            seed=0,
        )
        yield server, coordinator, clock
        await coordinator.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply",
    [
        fake_gemini.rate_limited(DIGITS_400 + "s"),
        fake_gemini.rate_limited(DIGITS_400 + ".5s"),
        fake_gemini.rate_limited(None, message_delay=DIGITS_400 + "s"),
        fake_gemini.rate_limited(None, retry_after_header=TEN_TO_THE_12),
    ],
    ids=["retryDelay", "retryDelay-fraction", "message", "retry-after-header"],
)
async def test_a_gemini_429_opens_for_at_most_the_cap(
    gemini: tuple[fake_gemini.FakeGemini, Coordinator, ManualClock], reply: Reply
) -> None:
    server, coordinator, clock = gemini
    server.script(reply)
    first = await coordinator.generate("Hi")
    assert first.provider == "backup"
    assert first.attempts[0].error.retry_after == MAX_RETRY_AFTER  # type: ignore[union-attr]
    breaker = coordinator.breaker("gemini")
    assert_opened_for_at_most_the_cap(breaker, clock)
    assert breaker.statistics().deadline == MAX_RETRY_AFTER  # opened at t=0
    clock.advance(MAX_RETRY_AFTER)
    assert (await coordinator.generate("Hi")).provider == "gemini"
    assert breaker.state is BreakerState.CLOSED


# --- Brave -------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def brave() -> AsyncIterator[Setup]:
    async with FakeBrave() as server:
        made = Setup(server, backup_provider())
        yield made
        await made.coord.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply",
    [
        brave_error("RATE_LIMITED", remaining=None, headers={"Retry-After": TEN_TO_THE_12}),
        brave_error("RATE_LIMITED", remaining=(5, 0), reset=(1, int("9" * 4000))),
        brave_error("QUOTA_LIMITED", remaining=None, headers={"Retry-After": DIGITS_400}),
    ],
    ids=["retry-after-10^12", "reset-4000-digits", "quota-retry-after-400-digits"],
)
async def test_a_brave_429_opens_for_at_most_the_cap(brave: Setup, reply: Reply) -> None:
    brave.brave.script(reply)
    assert await brave.who() == "backup"
    assert_opened_for_at_most_the_cap(brave.coord.breaker("brave"), brave.clock)
    brave.clock.advance(MAX_RETRY_AFTER - 1.0)
    assert await brave.who() == "backup"
    assert len(brave.brave.requests) == 1
    brave.clock.advance(1.0)
    assert await brave.who() == "brave"


@pytest.mark.asyncio
async def test_a_brave_month_of_5000_digits_skips_brave_for_at_most_the_cap(brave: Setup) -> None:
    reply = web_results("cats", remaining=(19, 0), reset=(1, int("9" * 4000)))
    reply.headers["X-RateLimit-Reset"] = "1, " + "9" * 5000  # beyond int()'s 4300 digits
    brave.brave.script(reply)
    assert await brave.who() == "brave"  # the answer is not failed by its headers
    brave.clock.advance(MAX_RETRY_AFTER - 1.0)
    assert await brave.who() == "backup"
    brave.clock.advance(1.0)
    assert await brave.who() == "brave"
    assert brave.coord.breaker("brave").state is BreakerState.CLOSED
