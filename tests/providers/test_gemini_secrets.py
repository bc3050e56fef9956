"""GeminiProvider's key never shows: echoed headers, a key read with its newline, chained causes.

A fake server that echoes the request's headers in its error body (as some proxies and debug
endpoints do) must not put the key in the error, the health result, or any exception chained
to them; a key with a trailing newline (read from a file) is stripped and works; a key holding a
control character is refused without being shown.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from failover.errors import ConfigurationError, FailoverError, ProviderError, Unavailable
from failover.secrets import MASK
from providers.gemini import GeminiProvider
from providers.testing import gemini as fake
from providers.testing._server import FakeRequest, FakeServer, Reply

KEY = fake.KEY


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception chained to it (as a traceback would print them)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return seen


def assert_no_key(exc: BaseException, key: str = KEY) -> None:
    for linked in chain(exc):
        assert key not in str(linked)
        assert key not in repr(linked)


def echo_json(status: int) -> Callable[[FakeRequest], Reply]:
    """Google's error JSON whose message quotes the request's headers."""

    def handler(request: FakeRequest) -> Reply:
        message = f"bad request; headers were {request.headers}"
        return Reply.json(fake.error_body(status, "INVALID_ARGUMENT", message), status=status)

    return handler


def echo_text(status: int) -> Callable[[FakeRequest], Reply]:
    """A plain-text error page: the key, then the request's headers, one per line (the key's
    first, so that the excerpt an error shows holds them)."""

    def handler(request: FakeRequest) -> Reply:
        ordered = sorted(request.headers.items(), key=lambda item: item[0] != "x-goog-api-key")
        lines = "\n".join(f"{name}: {value}" for name, value in ordered)
        body = f"key {request.headers.get('x-goog-api-key')} refused\n{lines}"
        return Reply(status, {"content-type": "text/plain"}, body.encode())

    return handler


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 403, 429, 500, 503])
@pytest.mark.parametrize("echo", [echo_json, echo_text], ids=["json", "text"])
@pytest.mark.parametrize("given", [KEY, KEY + "\n", f"  {KEY}\r\n"], ids=["key", "nl", "spaces"])
async def test_an_error_body_echoing_the_headers_never_shows_the_key(
    status: int, echo: Callable[[int], Callable[[FakeRequest], Reply]], given: str
) -> None:
    async with FakeServer(echo(status)) as server:
        gemini = GeminiProvider(given, base_url=server.base_url)
        with pytest.raises(ProviderError) as caught:
            await gemini.generate("Hi")
        stream_error: FailoverError | None = None
        try:
            await gemini.stream("Hi").__anext__()
        except FailoverError as exc:
            stream_error = exc
        health = await gemini.health_check()
        await gemini.aclose()
        sent = {request.headers["x-goog-api-key"] for request in server.requests}
    assert sent == {KEY}  # stripped
    assert caught.value.status == status
    assert MASK in str(caught.value)
    assert_no_key(caught.value)
    assert stream_error is not None
    assert_no_key(stream_error)
    assert health.error is not None
    assert KEY not in health.error
    assert MASK in health.error


@pytest.mark.asyncio
async def test_a_key_with_a_trailing_newline_works() -> None:
    async with fake.FakeGemini() as server:
        gemini = GeminiProvider(KEY + "\n", base_url=server.base_url)
        assert (await gemini.generate("Hi")).text == "Hello from Gemini"
        assert (await gemini.health_check()).healthy
        await gemini.aclose()
    assert KEY + "\n" not in repr(gemini)


@pytest.mark.parametrize("bad", ["AIza\x00Sy-key", "AIzaSy\nkey", "AIza\x7fkey", "AIzaSy-ké"])
def test_a_key_holding_a_control_or_non_ascii_character_is_refused_unseen(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="GeminiProvider's api_key") as caught:
        GeminiProvider(bad)
    assert "AIza" not in str(caught.value)  # no fragment of the value


@pytest.mark.asyncio
async def test_an_httpx_exception_whose_text_holds_the_key_is_not_chained() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError(f"peer said: {request.headers['x-goog-api-key']}", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as client:
        gemini = GeminiProvider(KEY, base_url="http://gemini.test", client=client)
        with pytest.raises(Unavailable) as caught:
            await gemini.generate("Hi")
        health = await gemini.health_check()
    assert caught.value.provider == "gemini"
    assert MASK in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert_no_key(caught.value)
    assert health.error is not None
    assert KEY not in health.error


@pytest.mark.asyncio
async def test_an_httpx_exception_without_a_secret_stays_chained() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset by peer", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as client:
        gemini = GeminiProvider(KEY, base_url="http://gemini.test", client=client)
        with pytest.raises(Unavailable) as caught:
            await gemini.generate("Hi")
    assert isinstance(caught.value.__cause__, httpx.ReadError)
    assert_no_key(caught.value)


@pytest.mark.asyncio
async def test_a_dead_server_s_error_chain_holds_no_key() -> None:
    async with fake.FakeGemini() as server:
        url = server.base_url
    gemini = GeminiProvider(KEY + "\n", base_url=url)
    with pytest.raises(Unavailable) as caught:
        await gemini.generate("Hi")
    await gemini.aclose()
    assert_no_key(caught.value)
