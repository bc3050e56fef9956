"""GeminiGenAIProvider at the boundary: errors mapped exactly as GeminiProvider maps them, no key
anywhere, bounded reads, and a record or a library error for any bytes.

Against a loopback server (FakeGemini, or ``Raw``: exactly the bytes a test gives), through
google-genai's async client over the provider's httpx client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failover import FailoverError, LLMResponse, Unavailable
from failover.errors import ProviderTimeout, RateLimited
from providers.gemini import GeminiProvider
from providers.gemini_genai import GeminiGenAIProvider
from providers.testing import gemini as fake
from providers.testing._server import FakeRequest, FakeServer, Reply
from tests.providers.gemini_sdk_support import (
    FIELDS,
    JSON,
    JSON_TYPE,
    KEY,
    LIMIT,
    Raw,
    answer,
    leaks,
    shown,
)

SSE_TYPE = {"content-type": "text/event-stream"}


def sse(*records: object) -> bytes:
    """A stream as google-genai asks for it (``alt=sse``): one event per record."""
    return b"".join(b"data: " + json.dumps(r).encode() + b"\r\n\r\n" for r in records)


async def read(provider: GeminiGenAIProvider, into: list[str] | None = None) -> list[str]:
    received = [] if into is None else into
    async for chunk in provider.stream("Hi"):
        received.append(chunk)
    return received


@pytest_asyncio.fixture
async def raw() -> AsyncIterator[tuple[Raw, GeminiGenAIProvider]]:
    script = Raw()
    async with FakeServer(script) as server:
        provider = GeminiGenAIProvider(KEY, base_url=server.base_url, max_response_bytes=LIMIT)
        yield script, provider
        await provider.aclose()


# --- errors: the same mapping as GeminiProvider's ------------------------------------------------

ERRORS: list[Callable[[], Reply]] = [
    lambda: fake.rate_limited("26s"),
    lambda: fake.rate_limited(per_day=True),
    fake.bad_key,
    fake.unauthenticated,
    fake.permission_denied,
    fake.not_found,
    fake.invalid_argument,
    fake.failed_precondition,
    fake.internal,
    lambda: fake.overloaded("3"),
    fake.deadline_exceeded,
    lambda: fake.html_page(502),
]
IDS = ["429", "429-day", "bad-key", "401", "403", "404", "400", "400-precondition", "500",
       "503-retry-after", "504", "502-html"]  # fmt: skip


async def failure(provider: Any, stream: bool) -> FailoverError:
    with pytest.raises(FailoverError) as caught:
        await (read(provider) if stream else provider.generate("Hi"))
    return caught.value


def observed(error: FailoverError) -> tuple[object, ...]:
    retry_after = getattr(error, "retry_after", None)
    rounded = None if retry_after is None else round(retry_after, -2 if retry_after > 600 else 1)
    return type(error), getattr(error, "status", None), rounded, error.__cause__


@pytest.mark.asyncio
@pytest.mark.parametrize("reply", ERRORS, ids=IDS)
@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
async def test_an_error_answer_is_mapped_as_the_rest_provider_maps_it(
    reply: Callable[[], Reply], stream: bool
) -> None:
    async with fake.FakeGemini() as server:
        rest = GeminiProvider(fake.KEY, base_url=server.base_url)
        genai = GeminiGenAIProvider(fake.KEY, base_url=server.base_url)
        server.script(reply(), reply())
        expected = await failure(rest, stream)
        got = await failure(genai, stream)
        await rest.aclose()
        await genai.aclose()
    assert observed(got) == observed(expected)
    assert got.provider == "gemini-genai"
    assert got.__context__ is None  # nothing of the SDK's or httpx's chained


@pytest.mark.asyncio
async def test_a_dead_server_is_unavailable_and_chains_nothing() -> None:
    async with FakeServer(lambda request: Reply()) as server:
        base_url = server.base_url
    provider = GeminiGenAIProvider(KEY, base_url=base_url)  # nobody listens there now
    with pytest.raises(Unavailable) as caught:
        await provider.generate("Hi")
    await provider.aclose()
    assert caught.value.__cause__ is None
    assert leaks(shown(caught.value)) == []


# --- secrets -------------------------------------------------------------------------------------


def echo(status: int) -> Reply:
    """An error answer echoing the request's headers, key included (a misconfigured proxy)."""
    message = f"bad request; headers: {{'x-goog-api-key': '{KEY}'}} key={KEY}"
    return Reply.json(fake.error_body(status, "INVALID_ARGUMENT", message), status=status)


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 403, 429, 500])
async def test_an_error_echoing_the_key_shows_it_nowhere(status: int) -> None:
    async with FakeServer(lambda request: echo(status)) as server:
        provider = GeminiGenAIProvider(KEY, base_url=server.base_url)
        generated = await failure(provider, stream=False)
        streamed = await failure(provider, stream=True)
        checked = await provider.health_check()
        await provider.aclose()
    for error in (generated, streamed):
        assert "***" in str(error)
        assert leaks(shown(error)) == []
    assert checked.error is not None
    assert leaks(repr(checked)) == []


@pytest.mark.asyncio
async def test_a_200_echoing_the_key_as_text_shows_it_nowhere() -> None:
    def handler(request: FakeRequest) -> Reply:
        headers = SSE_TYPE if "stream" in request.path else {"content-type": "text/plain"}
        return Reply(200, headers, f"x-goog-api-key: {KEY} {KEY}".encode())

    async with FakeServer(handler) as server:
        provider = GeminiGenAIProvider(KEY, base_url=server.base_url)
        generated = await failure(provider, stream=False)
        streamed = await failure(provider, stream=True)
        await provider.aclose()
    assert isinstance(generated, Unavailable)
    assert isinstance(streamed, Unavailable)
    assert leaks(shown(generated)) == leaks(shown(streamed)) == []


# --- malformed answers and bounded reads ---------------------------------------------------------

MALFORMED = [
    pytest.param(b"<html>busy</html>", id="html"),
    pytest.param(b"not json", id="text"),
    pytest.param(b'{"candidates": 7}', id="candidates-an-int"),
    pytest.param(b'{"candidates": [{"content": {"parts": "x"}}]}', id="parts-a-string"),
    pytest.param(b"[1, 2]", id="an-array"),
    pytest.param(b"{}", id="no-candidates"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("body", MALFORMED)
async def test_a_malformed_answer_is_unavailable(
    raw: tuple[Raw, GeminiGenAIProvider], body: bytes
) -> None:
    script, provider = raw
    script.body(body)
    with pytest.raises(Unavailable) as caught:
        await provider.generate("Hi")
    assert caught.value.provider == "gemini-genai"
    assert caught.value.__cause__ is None
    assert len(str(caught.value)) < 600  # an excerpt, never the body


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_answer_past_max_response_bytes_is_refused(
    raw: tuple[Raw, GeminiGenAIProvider], chunked: bool
) -> None:
    script, provider = raw
    script.body(json.dumps(answer("x" * LIMIT)).encode(), chunked=chunked)
    with pytest.raises(Unavailable, match=f"larger than {LIMIT} bytes"):
        await provider.generate("Hi")
    script.body(json.dumps(answer("x" * (LIMIT - 200))).encode(), chunked=chunked)
    assert len((await provider.generate("Hi")).text) == LIMIT - 200  # it still works


@pytest.mark.asyncio
async def test_a_stream_past_max_response_bytes_in_all_is_refused(
    raw: tuple[Raw, GeminiGenAIProvider],
) -> None:
    script, provider = raw
    records = [answer("y" * 1000, None) for _ in range(40)]  # about 40 KiB
    script.reply = Reply(200, dict(SSE_TYPE), b"", chunks=[sse(r) for r in records])
    received: list[str] = []
    with pytest.raises(Unavailable, match="max_response_bytes"):
        await read(provider, received)
    assert 5 < len(received) < 17  # what came within the limit was served
    script.reply = Reply(200, dict(SSE_TYPE), sse(*records[:5], answer("end")))
    assert len(await read(provider)) == 6


@pytest.mark.asyncio
async def test_a_huge_error_answer_is_read_only_as_far_as_its_excerpt(
    raw: tuple[Raw, GeminiGenAIProvider],
) -> None:
    script, provider = raw
    script.reply = Reply(429, {"retry-after": "7", "content-type": "text/html"}, b"<p>" * 400_000)
    with pytest.raises(RateLimited) as caught:
        await provider.generate("Hi")
    assert caught.value.retry_after == 7.0
    assert len(str(caught.value)) < 600


@pytest.mark.asyncio
async def test_an_answer_that_never_starts_is_a_timeout() -> None:
    release = asyncio.Event()

    async with FakeServer(lambda request: fake.slow(fake.ok(), release)) as server:
        provider = GeminiGenAIProvider(KEY, base_url=server.base_url, timeout=0.2)
        with pytest.raises(ProviderTimeout):
            await provider.generate("Hi")
        release.set()
        await provider.aclose()


# --- totality: any answer is a record or a library error -----------------------------------------

TOTALITY = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


async def outcome(provider: GeminiGenAIProvider, stream: bool) -> object:
    try:
        return await (read(provider) if stream else provider.generate("Hi"))
    except FailoverError as exc:
        return exc


@pytest.mark.asyncio
@TOTALITY
@given(record=FIELDS | JSON, stream=st.booleans())
async def test_any_json_answer_is_a_record_or_a_library_error(
    raw: tuple[Raw, GeminiGenAIProvider], record: object, stream: bool
) -> None:
    script, provider = raw
    body = sse(record) if stream else json.dumps(record).encode()
    script.reply = Reply(200, dict(SSE_TYPE if stream else JSON_TYPE), body)
    assert isinstance(await outcome(provider, stream), LLMResponse | list | FailoverError)


@pytest.mark.asyncio
@TOTALITY
@given(body=st.binary(max_size=200), stream=st.booleans(), status=st.sampled_from([200, 500]))
async def test_any_bytes_are_a_record_or_a_library_error(
    raw: tuple[Raw, GeminiGenAIProvider], body: bytes, stream: bool, status: int
) -> None:
    script, provider = raw
    script.reply = Reply(status, dict(SSE_TYPE if stream else JSON_TYPE), body)
    assert isinstance(await outcome(provider, stream), LLMResponse | list | FailoverError)
