"""GeminiSDKProvider at the boundary (2): no key anywhere, bounded reads.

Against a loopback server (``Raw``: exactly the bytes a test gives, or FakeGemini), through the
SDK's real REST transport.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from failover import ConfigurationError, FailoverError, Unavailable
from failover.errors import RateLimited
from providers.gemini_sdk import GeminiSDKProvider
from providers.testing import gemini as fake
from providers.testing._server import FakeRequest, FakeServer, Reply
from tests.providers.gemini_sdk_support import (
    JSON_TYPE,
    KEY,
    LIMIT,
    Raw,
    answer,
    array,
    leaks,
    raw_provider,
    read,
    shown,
)


@pytest_asyncio.fixture
async def raw() -> AsyncIterator[tuple[Raw, GeminiSDKProvider]]:
    async with raw_provider() as running:
        yield running


# --- 3. secrets ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_key_with_a_trailing_newline_is_stripped_and_works() -> None:
    async with fake.FakeGemini(api_key=KEY) as server:
        with pytest.warns(DeprecationWarning, match="gemini-genai"):
            provider = GeminiSDKProvider(fake.MODEL, api_key=KEY + "\r\n", base_url=server.base_url)
        assert (await provider.generate("Hi")).text == "Hello from Gemini"
        await provider.aclose()
    assert server.requests[0].headers["x-goog-api-key"] == KEY


@pytest.mark.parametrize("where", ["api_key", "client_options"])
@pytest.mark.parametrize("bad", ["\x07", "\n", "\x00", "é"])
def test_a_key_holding_a_control_or_non_ascii_character_is_refused_unshown(
    where: str, bad: str
) -> None:
    key = KEY[:15] + bad + KEY[15:]
    kwargs: dict[str, Any] = (
        {"api_key": key} if where == "api_key" else {"client_options": {"api_key": key}}
    )
    with (
        pytest.raises(ConfigurationError, match="api_key") as caught,
        pytest.warns(DeprecationWarning, match="gemini-genai"),
    ):
        GeminiSDKProvider(fake.MODEL, base_url="http://127.0.0.1:9", **kwargs)
    assert leaks(shown(caught.value), key[:15]) == leaks(shown(caught.value), key[16:]) == []


def echo(status: int) -> Reply:
    """An error answer echoing the request's headers, key included (a misconfigured proxy)."""
    message = f"bad request; headers: {{'x-goog-api-key': '{KEY}'}} key={KEY}"
    return Reply.json(fake.error_body(status, "INVALID_ARGUMENT", message), status=status)


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 403, 429, 500])
async def test_an_error_echoing_the_key_shows_it_nowhere(status: int) -> None:
    async with fake.FakeGemini(api_key=KEY) as server:
        with pytest.warns(DeprecationWarning, match="gemini-genai"):
            provider = GeminiSDKProvider(fake.MODEL, api_key=KEY, base_url=server.base_url)
        server.script(echo(status), echo(status))
        with pytest.raises(FailoverError) as generated:
            await provider.generate("Hi")
        with pytest.raises(FailoverError) as streamed:
            await read(provider)
        server.queue.clear()
        await provider.aclose()
    for caught in (generated, streamed):
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None
        assert "***" in str(caught.value)
        assert leaks(shown(caught.value)) == []


@pytest.mark.asyncio
async def test_a_health_check_and_garbage_answers_echoing_the_key_show_it_nowhere() -> None:
    unfinished = f'[{{"candidates": [{{"content": {{"parts": [{{"text": "{KEY}"'.encode()

    def handler(request: FakeRequest) -> Reply:
        if request.method == "GET":
            return echo(403)
        if "stream" in request.path:  # google.api_core's error quotes the unfinished object
            return Reply(200, dict(JSON_TYPE), b"", chunks=[unfinished])
        return Reply(200, {"content-type": "text/plain"}, f"x-goog-api-key: {KEY} {KEY}")

    async with FakeServer(handler) as server:
        with pytest.warns(DeprecationWarning, match="gemini-genai"):
            provider = GeminiSDKProvider(fake.MODEL, api_key=KEY, base_url=server.base_url)
        result = await provider.health_check()
        with pytest.raises(Unavailable) as generated:
            await provider.generate("Hi")
        with pytest.raises(Unavailable, match="cut short") as streamed:
            await read(provider)
        await provider.aclose()
    assert result.error is not None
    assert result.error.startswith("Unauthorized")
    assert leaks(repr(result)) == []
    assert leaks(shown(generated.value)) == leaks(shown(streamed.value)) == []
    assert streamed.value.__cause__ is None
    assert streamed.value.__context__ is None


def test_a_translated_sdk_exception_is_redacted() -> None:
    from providers.gemini_sdk import translate_sdk_error

    with pytest.warns(DeprecationWarning, match="gemini-genai"):
        GeminiSDKProvider(fake.MODEL, api_key=KEY, base_url="http://127.0.0.1:9")  # registers KEY

    class ConnectionError(Exception):  # named as requests' is: mapped by its class's name
        pass

    class Response:
        content = json.dumps(fake.error_body(500, "INTERNAL", f"echo {KEY}")).encode()
        headers: ClassVar[dict[str, str]] = {}

    class ServerError(Exception):
        code = 500
        response = Response()

    by_class = translate_sdk_error("g", ConnectionError(f"refused; header x-goog-api-key={KEY}"))
    by_body = translate_sdk_error("g", ServerError(f"500 {KEY}"))
    assert type(by_class) is type(by_body) is Unavailable
    assert leaks(f"{by_class} {by_body}") == []


# --- 4. bounded reads ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1023, "8388608", True, 2.5, 2**31])
def test_max_response_bytes_is_checked(value: object) -> None:
    with (
        pytest.raises(ConfigurationError, match="max_response_bytes"),
        pytest.warns(DeprecationWarning, match="gemini-genai"),
    ):
        GeminiSDKProvider(fake.MODEL, api_key=KEY, max_response_bytes=value)  # type: ignore[arg-type]


def test_max_response_bytes_defaults_to_the_library_s() -> None:
    from providers._reading import DEFAULT_MAX_RESPONSE_BYTES

    with pytest.warns(DeprecationWarning, match="gemini-genai"):
        provider = GeminiSDKProvider(fake.MODEL, api_key=KEY, base_url="http://127.0.0.1:9")
    assert provider.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES


def big_answer(size: int) -> bytes:
    return json.dumps(answer("x" * size)).encode()


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_answer_past_max_response_bytes_is_refused(
    raw: tuple[Raw, GeminiSDKProvider], chunked: bool
) -> None:
    script, provider = raw
    script.body(big_answer(LIMIT), chunked=chunked)
    with pytest.raises(Unavailable, match=f"larger than {LIMIT} bytes") as caught:
        await provider.generate("Hi")
    assert len(str(caught.value)) < 300
    script.body(big_answer(LIMIT - 200), chunked=chunked)  # the provider still works
    assert len((await provider.generate("Hi")).text) == LIMIT - 200


@pytest.mark.asyncio
async def test_a_stream_past_max_response_bytes_in_all_is_refused(
    raw: tuple[Raw, GeminiSDKProvider],
) -> None:
    script, provider = raw
    records = [answer("y" * 1000, None) for _ in range(40)]  # about 40 KiB
    script.body(array(*records, answer("end")), chunked=True)
    received: list[str] = []
    with pytest.raises(Unavailable, match="max_response_bytes"):
        await read(provider, received)
    assert 5 < len(received) < 17  # what came within the limit was served
    script.body(array(*records[:5], answer("end")), chunked=True)
    assert len(await read(provider)) == 6


@pytest.mark.asyncio
async def test_a_huge_error_answer_is_read_only_as_far_as_its_excerpt(
    raw: tuple[Raw, GeminiSDKProvider],
) -> None:
    script, provider = raw
    script.reply = Reply(429, {"retry-after": "7", "content-type": "text/html"}, b"<p>" * 400_000)
    with pytest.raises(RateLimited) as caught:
        await provider.generate("Hi")
    assert caught.value.retry_after == 7.0
    assert len(str(caught.value)) < 600
