"""Bounded reads: a provider never holds a huge answer, whatever the server sends.

A dedicated loopback server offers 200 MiB, generated chunk by chunk (never held whole): as one
JSON body (chunked, or announced by Content-Length), as one Server-Sent Events line, and as the
body of an HTTP 500. The provider must raise Unavailable (or map the 500) having read no more
than its limit, and the process's peak memory (``ru_maxrss``, a high-water mark: measured
before and after) must grow well under 64 MiB. The server counts the bytes it managed to send,
which shows the client stopped reading early.
"""

from __future__ import annotations

import asyncio
import json
import resource
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio

from failover.errors import Unavailable
from providers._reading import ERROR_BODY_BYTES
from providers.gemini import GeminiProvider
from providers.testing import gemini as fake
from providers.testing._server import FakeServer, Reply

MIB = 1024 * 1024
OFFERED = 200 * MIB
CHUNK = b"a" * (64 * 1024)
GROWTH_LIMIT = 64 * MIB


class HugeServer:
    """One loopback server answering every request with ``head`` then OFFERED bytes.

    Attributes:
        sent: Bytes of body written so far (over every connection).
    """

    def __init__(self, status: int, content_type: str, prefix: bytes, *, chunked: bool) -> None:
        self.status, self.content_type, self.prefix, self.chunked = (
            status,
            content_type,
            prefix,
            chunked,
        )
        self.sent = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> HugeServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")),
                0,
            )  # fmt: skip
            await reader.readexactly(length)
            await self._answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        framing = "transfer-encoding: chunked" if self.chunked else f"content-length: {OFFERED}"
        writer.write(
            f"HTTP/1.1 {self.status} X\r\ncontent-type: {self.content_type}\r\n{framing}\r\n\r\n"
            .encode()
        )  # fmt: skip
        for piece in self._pieces():
            if writer.transport.is_closing():
                return
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if self.chunked else piece)
            self.sent += len(piece)
            await writer.drain()

    def _pieces(self) -> Iterator[bytes]:
        yield self.prefix
        for _ in range((OFFERED - len(self.prefix)) // len(CHUNK)):
            yield CHUNK


def max_rss() -> int:
    """The process's peak resident memory so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest_asyncio.fixture
async def provider_at() -> AsyncIterator[Callable[[HugeServer], GeminiProvider]]:
    built: list[GeminiProvider] = []

    def build(server: HugeServer) -> GeminiProvider:
        built.append(GeminiProvider(fake.KEY, base_url=server.base_url))
        return built[-1]

    yield build
    for provider in built:
        await provider.aclose()


JSON_PREFIX = b'{"candidates": [{"content": {"parts": [{"text": "'


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [True, False])
async def test_a_200_mib_json_body_is_refused_past_max_response_bytes(
    provider_at: Callable[[HugeServer], GeminiProvider], chunked: bool
) -> None:
    before = max_rss()
    async with HugeServer(200, "application/json", JSON_PREFIX, chunked=chunked) as server:
        gemini = provider_at(server)
        with pytest.raises(Unavailable, match="max_response_bytes") as caught:
            await gemini.generate("Hi")
    assert caught.value.provider == "gemini"
    assert server.sent < GROWTH_LIMIT
    assert max_rss() - before < GROWTH_LIMIT


@pytest.mark.asyncio
async def test_a_200_mib_stream_line_is_refused_past_the_event_limit(
    provider_at: Callable[[HugeServer], GeminiProvider],
) -> None:
    before = max_rss()
    async with HugeServer(
        200, "text/event-stream", b"data: " + JSON_PREFIX, chunked=True
    ) as server:
        gemini = provider_at(server)
        with pytest.raises(Unavailable, match="max_event_bytes"):
            async for _ in gemini.stream("Hi"):
                pass
    assert server.sent < GROWTH_LIMIT
    assert max_rss() - before < GROWTH_LIMIT


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [True, False])
async def test_a_200_mib_error_body_is_read_only_to_its_limit(
    provider_at: Callable[[HugeServer], GeminiProvider], chunked: bool
) -> None:
    before = max_rss()
    prefix = b'{"error": {"code": 500, "message": "'
    async with HugeServer(500, "application/json", prefix, chunked=chunked) as server:
        gemini = provider_at(server)
        with pytest.raises(Unavailable) as caught:
            await gemini.generate("Hi")
    assert caught.value.status == 500
    assert len(str(caught.value)) < 400  # an excerpt, not the body
    assert server.sent < GROWTH_LIMIT
    assert max_rss() - before < GROWTH_LIMIT


@pytest.mark.asyncio
async def test_a_smaller_max_response_bytes_bounds_stream_events_too() -> None:
    async with HugeServer(
        200, "text/event-stream", b"data: " + JSON_PREFIX, chunked=True
    ) as server:
        gemini = GeminiProvider(fake.KEY, base_url=server.base_url, max_response_bytes=4096)
        with pytest.raises(Unavailable, match="larger than 4096 bytes"):
            async for _ in gemini.stream("Hi"):
                pass
        await gemini.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize(("padding", "read_whole"), [(-1000, True), (1000, False)])
async def test_an_error_body_is_read_up_to_error_body_bytes(padding: int, read_whole: bool) -> None:
    envelope = fake.error_body(503, "UNAVAILABLE", "")
    size = len(json.dumps(envelope).encode())
    envelope["error"]["message"] = "overloaded " + "x" * (ERROR_BODY_BYTES + padding - size - 11)
    async with FakeServer(lambda _: Reply.json(envelope, status=503)) as server:
        gemini = GeminiProvider(fake.KEY, base_url=server.base_url)
        with pytest.raises(Unavailable) as caught:
            await gemini.generate("Hi")
        await gemini.aclose()
    said = str(caught.value)
    # Read whole, Google's message is shown; cut at the limit, the body is not JSON: an excerpt.
    assert said.startswith("Gemini answered HTTP 503 UNAVAILABLE: overloaded") is read_whole
    assert said.startswith('Gemini answered HTTP 503: \'{"error"') is not read_whole
