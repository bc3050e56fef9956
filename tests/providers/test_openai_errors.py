"""OpenAICompatibleProvider through the Coordinator: each error answer, and quota headers; the
key in errors and health results (never shown), checked when the provider is built."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from failover import (
    BadRequest,
    BreakerState,
    ConfigurationError,
    ContentBlocked,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    RetryPolicy,
    Unauthorized,
    Unavailable,
)
from failover.provider import QuotaReport, ReportsQuota
from providers.openai import OpenAICompatibleProvider
from providers.testing._server import FakeServer, Reply
from providers.testing.openai import (
    KEY,
    FakeOpenAI,
    backup,
    completion,
    coordinator,
    error,
    provider,
)

# --- errors through the coordinator --------------------------------------------------------------


@pytest.mark.asyncio
async def test_429_with_retry_after_blocks_the_provider_until_then() -> None:
    limited = Reply.json(
        error("Rate limit reached", "requests", "rate_limit_exceeded"),
        status=429,
        headers={"retry-after": "20"},
    )
    fake = FakeOpenAI(limited, Reply.json(completion("again")))
    async with FakeServer(fake) as server:
        c, clock = coordinator(provider(server), backup())
        first = await c.generate("x")
        assert first.provider == "backup"
        (attempt, _) = first.attempts
        assert isinstance(attempt.error, RateLimited)
        assert (attempt.error.retry_after, attempt.error.status) == (20.0, 429)
        assert "Rate limit reached" in str(attempt.error)
        clock.advance(19)
        assert (await c.generate("x")).provider == "backup"
        assert len(server.requests) == 1  # not asked while it said to wait
        clock.advance(1)
        assert (await c.generate("x")).value.text == "again"
        await c.aclose()
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_retry_after_ms_is_preferred() -> None:
    limited = Reply.json(
        error("slow down"), status=429, headers={"retry-after-ms": "1500", "retry-after": "9"}
    )
    async with FakeServer(FakeOpenAI(limited)) as server:
        p = provider(server)
        with pytest.raises(RateLimited) as caught:
            await p.generate("x")
        await p.aclose()
    assert caught.value.retry_after == 1.5


@pytest.mark.asyncio
async def test_insufficient_quota_is_quota_exhausted() -> None:
    body = error("You exceeded your current quota", "insufficient_quota", "insufficient_quota")
    async with FakeServer(FakeOpenAI(Reply.json(body, status=429))) as server:
        c, _ = coordinator(provider(server), backup())
        result = await c.generate("x")
        await c.aclose()
    assert result.provider == "backup"
    error_ = result.attempts[0].error
    assert isinstance(error_, QuotaExhausted)
    assert "insufficient_quota" in str(error_)


@pytest.mark.asyncio
async def test_a_wrong_key_is_unauthorized_and_opens_the_breaker() -> None:
    async with FakeServer(FakeOpenAI(key="sk-the-right-one")) as server:
        c, _ = coordinator(provider(server), backup())
        result = await c.generate("x")
        await c.aclose()
    assert result.provider == "backup"
    failure = result.attempts[0].error
    assert isinstance(failure, Unauthorized)
    assert failure.status == 401
    assert "invalid_api_key" in str(failure)
    assert c.breaker("openai").state is BreakerState.OPEN


@pytest.mark.asyncio
async def test_invalid_api_key_code_is_unauthorized_whatever_the_status() -> None:
    body = error("Incorrect API key provided", code="invalid_api_key")
    async with FakeServer(FakeOpenAI(Reply.json(body, status=400))) as server:
        p = provider(server)
        with pytest.raises(Unauthorized):
            await p.generate("x")
        await p.aclose()


@pytest.mark.asyncio
async def test_400_is_a_bad_request_raised_without_failover() -> None:
    body = error(
        "This model's maximum context length is 8192 tokens", code="context_length_exceeded"
    )
    second = backup()
    async with FakeServer(FakeOpenAI(Reply.json(body, status=400))) as server:
        c, _ = coordinator(provider(server), second)
        with pytest.raises(BadRequest, match="maximum context length") as caught:
            await c.generate("x")
        await c.aclose()
    assert caught.value.status == 400
    assert second.requests == []
    assert c.breaker("openai").statistics().calls == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_unavailable_and_fails_over(status: int) -> None:
    reply = Reply.json(error("The server is overloaded", "server_error"), status=status)
    async with FakeServer(FakeOpenAI(reply)) as server:
        c, _ = coordinator(provider(server), backup())
        result = await c.generate("x")
        await c.aclose()
    assert result.value.text == "backup"
    failure = result.attempts[0].error
    assert isinstance(failure, Unavailable)
    assert failure.status == status
    assert "overloaded" in str(failure)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply",
    [
        Reply.html(status=200),
        Reply.html(status=502),
        Reply(200, {"content-type": "application/json"}, b'{"choices": []}'),
        Reply(
            200, {"content-type": "application/json"}, b'{"choices": [{"message": {"content": 3}}]}'
        ),
        Reply(
            200,
            {"content-type": "application/json"},
            b'{"choices": [{"message": {"content": "hi"}}], "usage": {"total_tokens": Infinity}}',
        ),
    ],
    ids=["html-200", "html-502", "no-choice", "bad-content", "infinite-usage"],
)
async def test_a_body_that_is_not_the_expected_json_is_unavailable(reply: Reply) -> None:
    async with FakeServer(FakeOpenAI(reply)) as server:
        c, _ = coordinator(provider(server), backup())
        result = await c.generate("x")
        await c.aclose()
    failure = result.attempts[0].error
    assert type(failure) is Unavailable
    assert reply.payload()[:10].decode() in str(failure)


@pytest.mark.asyncio
async def test_a_connection_reset_mid_body_fails_over() -> None:
    reply = Reply.json(completion("x" * 4000), reset_mid_body=True)
    async with FakeServer(FakeOpenAI(reply)) as server:
        c, _ = coordinator(provider(server), backup())
        result = await c.generate("x")
        await c.aclose()
    assert result.provider == "backup"
    failure = result.attempts[0].error
    assert isinstance(failure, Unavailable)
    assert isinstance(failure.__cause__, httpx.ReadError | httpx.RemoteProtocolError)


@pytest.mark.asyncio
async def test_a_slow_first_byte_hits_the_attempt_timeout() -> None:
    hold, arrived = asyncio.Event(), asyncio.Event()

    def slow(request: Any) -> Reply:
        arrived.set()
        return Reply.json(completion("late"), hold=hold)

    async with FakeServer(slow) as server:
        retry = RetryPolicy(max_attempts=2, attempt_timeout=5.0)
        c, clock = coordinator(provider(server), backup(), retry=retry)
        pending = asyncio.ensure_future(c.generate("x"))
        await arrived.wait()
        clock.advance(4.9)
        await asyncio.wait([pending], timeout=0)
        assert not pending.done()
        clock.advance(0.1)
        result = await pending
        hold.set()
        await c.aclose()
    assert result.provider == "backup"
    assert isinstance(result.attempts[0].error, ProviderTimeout)


@pytest.mark.asyncio
async def test_finish_reason_content_filter_is_content_blocked() -> None:
    reply = Reply.json(completion("", finish_reason="content_filter"))
    async with FakeServer(FakeOpenAI(reply)) as server:
        c, _ = coordinator(provider(server), backup())
        with pytest.raises(ContentBlocked, match="content_filter"):
            await c.generate("x")
        await c.aclose()


# --- quota headers -------------------------------------------------------------------------------


def limited(remaining: str, reset: str, **more: str) -> Reply:
    headers = {"x-ratelimit-remaining-requests": remaining, "x-ratelimit-reset-requests": reset}
    return Reply.json(completion("ok"), headers={**headers, **more})


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reply", "report"),
    [
        (limited("99", "6m0s"), QuotaReport(99, 360.0)),
        (limited("0", "20ms"), QuotaReport(0, 0.02)),
        (
            limited(
                "5", "1s", **{"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m"}
            ),
            QuotaReport(0, 60.0),
        ),
        (limited("many", "1s"), None),
        (Reply.json(completion()), None),
    ],
)
async def test_quota_report_from_headers(reply: Reply, report: QuotaReport | None) -> None:
    async with FakeServer(FakeOpenAI(reply)) as server:
        p = provider(server)
        assert isinstance(p, ReportsQuota)
        assert p.quota_report() is None
        await p.generate("x")
        await p.aclose()
    assert p.quota_report() == report


@pytest.mark.asyncio
async def test_no_requests_left_skips_the_provider_until_the_reset() -> None:
    fake = FakeOpenAI(limited("0", "30s"), Reply.json(completion("fresh")))
    async with FakeServer(fake) as server:
        c, clock = coordinator(provider(server), backup())
        assert (await c.generate("x")).provider == "openai"
        clock.advance(29)
        assert (await c.generate("x")).provider == "backup"
        assert len(server.requests) == 1
        clock.advance(1)
        assert (await c.generate("x")).value.text == "fresh"
        await c.aclose()


# --- secrets ------------------------------------------------------------------------------------

SECRET = "sk-decoding-test-5f3a9c1e7b"


@pytest.mark.asyncio
async def test_echoed_request_headers_never_show_the_key() -> None:
    echoed = f"Authorization: Bearer {SECRET}\nx-api-key: {SECRET}"
    replies = [
        Reply.json(
            {"error": {"message": echoed, "headers": {"authorization": SECRET}}}, status=400
        ),
        Reply(502, {"content-type": "text/plain"}, ("x" * 110 + SECRET).encode()),
        Reply(200, {"content-type": "text/plain"}, ("y" * 110 + SECRET).encode()),
    ]
    async with FakeServer(FakeOpenAI(*replies)) as server:
        p = OpenAICompatibleProvider(server.base_url, SECRET, "m")
        texts = []
        for _ in replies:
            with pytest.raises(ProviderError) as caught:
                await p.generate("hi")
            texts += [str(caught.value), repr(caught.value)]
        await p.aclose()
    assert "***" in texts[0]
    assert not [t for t in texts if SECRET[:12] in t or SECRET[-12:] in t]


@pytest.mark.asyncio
async def test_a_health_check_result_never_shows_the_key() -> None:
    body = {"error": {"message": f"bad key {SECRET}", "code": "invalid_api_key"}}
    async with FakeServer(lambda request: Reply.json(body, status=401)) as server:
        p = OpenAICompatibleProvider(server.base_url, SECRET, "m")
        result = await p.health_check()
        await p.aclose()
    assert result.error is not None
    assert result.error.startswith("Unauthorized: ")
    assert SECRET not in result.error
    assert "***" in result.error


@pytest.mark.asyncio
async def test_a_key_with_a_trailing_newline_works_and_is_never_shown() -> None:
    echo = Reply(500, {"content-type": "text/plain"}, f"upstream rejected {KEY}\n".encode())
    async with FakeServer(FakeOpenAI(echo, Reply.json(completion()), key=KEY)) as server:
        p = OpenAICompatibleProvider(server.base_url, KEY + "\n", "gpt-test")
        with pytest.raises(Unavailable) as caught:
            await p.generate("hi")
        assert (await p.generate("hi")).text == "Hello!"
        assert (await p.health_check()).healthy
        await p.aclose()
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert "upstream rejected ***" in str(caught.value)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("bad", ["\x01", "\x7f", "\n", "é"])
def test_a_key_with_a_control_character_is_refused_without_showing_it(bad: str) -> None:
    key = f"sk-hidden{bad}value-123456"
    with pytest.raises(ConfigurationError, match="api_key holds") as caught:
        OpenAICompatibleProvider("http://x", key, "m")
    assert "hidden" not in str(caught.value)
    assert "value-123456" not in str(caught.value)


@pytest.mark.asyncio
async def test_no_key_sends_no_authorization() -> None:
    async with FakeServer(FakeOpenAI()) as server:
        for key in (None, ""):
            p = OpenAICompatibleProvider(server.base_url, key, "m")
            await p.generate("hi")
            await p.aclose()
    assert all("authorization" not in r.headers for r in server.requests)


@pytest.mark.asyncio
async def test_a_connection_failure_is_unavailable_chained_to_httpx() -> None:
    async with FakeServer(FakeOpenAI()) as server:
        url = server.base_url
    p = OpenAICompatibleProvider(url, SECRET, "m")
    with pytest.raises(Unavailable) as caught:
        await p.generate("hi")
    await p.aclose()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert SECRET not in str(caught.value)
