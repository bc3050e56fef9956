"""GeminiSDKProvider at the boundary (1): any answer is a record or a library error; a stream
that stops sending is a ProviderTimeout, one without a finish reason is cut short.

The provider goes through Google's SDK and its real REST transport (requests, urllib3,
google.api_core's stream reader, protobuf's JSON parser) against a loopback server that sends
exactly the bytes a test gives (``Raw``), or stalls mid-stream (``StallingServer``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failover import (
    Coordinator,
    FailoverError,
    LLMResponse,
    ManualClock,
    StreamInterrupted,
    Unavailable,
)
from failover.errors import ProviderTimeout
from failover.provider import Usage
from providers.gemini_sdk import GeminiSDKProvider
from providers.testing import gemini as fake
from tests.providers.gemini_sdk_support import (
    FIELDS,
    JSON,
    KEY,
    Raw,
    answer,
    array,
    raw_provider,
    read,
)


async def collect(stream: AsyncIterator[str], into: list[str]) -> None:
    async for chunk in stream:
        into.append(chunk)


SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest_asyncio.fixture
async def raw() -> AsyncIterator[tuple[Raw, GeminiSDKProvider]]:
    async with raw_provider() as running:
        yield running


# --- 1. total decoding ---------------------------------------------------------------------------

MALFORMED = [
    pytest.param(b'\xff\xfe{"candidates": []}', "not UTF-8", id="not-utf8"),
    pytest.param(b"<html><body>502</body></html>", None, id="html"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, None, id="nested-too-deeply"),
    pytest.param(b'{"candidates": [{"content": {"parts": 3}}]}', None, id="parts-an-int"),
    pytest.param(b'{"candidates": [{"finishReason": ["STOP"]}]}', None, id="finish-a-list"),
    pytest.param(b'{"usageMetadata": {"promptTokenCount": 1e400}}', None, id="usage-1e400"),
    pytest.param(b'{"usageMetadata": {"promptTokenCount": "many"}}', None, id="usage-many"),
    pytest.param(b'{"usageMetadata": {"promptTokenCount": 1099511627776}}', None, id="usage-2^40"),
    pytest.param(b"{}", "no candidates", id="no-candidates"),
    pytest.param(b"", None, id="empty"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("body", "match"), MALFORMED)
async def test_a_malformed_answer_is_unavailable(
    raw: tuple[Raw, GeminiSDKProvider], body: bytes, match: str | None
) -> None:
    script, provider = raw
    script.body(body)
    with pytest.raises(Unavailable, match=match) as caught:
        await provider.generate("Hi")
    assert caught.value.provider == "gemini-sdk"
    assert len(str(caught.value)) < 600  # an excerpt, never the body


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("record", "text", "usage"),
    [
        pytest.param({"candidates": [{}]}, "", (0, 0, 0), id="no-content"),
        pytest.param(
            {"candidates": [{"content": {"role": "model"}}]}, "", (0, 0, 0), id="no-parts"
        ),
        # protobuf's parser reads a string where a message belongs as an empty message
        pytest.param({"candidates": [{"content": "text"}]}, "", (0, 0, 0), id="content-a-string"),
        pytest.param(answer("ok"), "ok", (0, 0, 0), id="no-usage"),
        pytest.param(
            answer("ok", usageMetadata={"promptTokenCount": 2, "totalTokenCount": 2}),
            "ok",
            (2, 0, 2),
            id="partial-usage",
        ),
    ],
)
async def test_odd_but_valid_fields_give_a_record(
    raw: tuple[Raw, GeminiSDKProvider], record: object, text: str, usage: tuple[int, ...]
) -> None:
    script, provider = raw
    script.body(json.dumps(record).encode())
    response = await provider.generate("Hi")
    assert response.text == text
    assert response.usage == Usage(*usage)


STREAMS = [
    pytest.param(b'[{"candidates": [', [], "cut short", id="unfinished-before-first"),
    pytest.param(array(answer("a", None))[:-1] + b",", ["a"], "cut short", id="unfinished-after"),
    pytest.param(json.dumps(answer("a")).encode(), [], None, id="an-object-not-an-array"),
    pytest.param(b"<html>busy</html>", [], None, id="html"),
    pytest.param(b"[]", [], None, id="empty-array"),
    pytest.param(b"", [], None, id="empty-body"),
    pytest.param(
        array(answer("a", None), answer("b", None)), ["a", "b"], "finishReason", id="no-finish"
    ),
    pytest.param(array(answer("a", None), {"candidates": 7}), ["a"], None, id="candidates-an-int"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("body", "before", "match"), STREAMS)
async def test_a_malformed_stream_is_unavailable(
    raw: tuple[Raw, GeminiSDKProvider], body: bytes, before: list[str], match: str | None
) -> None:
    script, provider = raw
    script.body(body, chunked=True)
    received: list[str] = []
    with pytest.raises(Unavailable, match=match):
        await read(provider, received)
    assert received == before


@pytest.mark.asyncio
async def test_a_stream_s_bytes_that_are_not_utf8_read_as_replacement_characters(
    raw: tuple[Raw, GeminiSDKProvider],
) -> None:
    script, provider = raw
    body = array(answer("a"))
    script.body(body.replace(b'"a"', b'"a\xff"'), chunked=True)
    assert await read(provider) == ["a\ufffd"]


def outcome_is_total(result: object) -> bool:
    """A record, or a library error: never anything else."""
    return isinstance(result, LLMResponse | list | FailoverError)


async def outcome(provider: GeminiSDKProvider, stream: bool) -> object:
    try:
        return await (read(provider) if stream else provider.generate("Hi"))
    except FailoverError as exc:
        return exc


@pytest.mark.asyncio
@SETTINGS
@given(record=FIELDS | JSON, stream=st.booleans())
async def test_any_json_answer_is_a_record_or_a_library_error(
    raw: tuple[Raw, GeminiSDKProvider], record: object, stream: bool
) -> None:
    script, provider = raw
    body = json.dumps(record).encode()
    script.body(b"[" + body + b"]" if stream else body, chunked=stream)
    assert outcome_is_total(await outcome(provider, stream))


@pytest.mark.asyncio
@SETTINGS
@given(body=st.binary(max_size=200), stream=st.booleans())
async def test_any_bytes_are_a_record_or_a_library_error(
    raw: tuple[Raw, GeminiSDKProvider], body: bytes, stream: bool
) -> None:
    script, provider = raw
    script.body(body, chunked=stream)
    assert outcome_is_total(await outcome(provider, stream))


# --- 2. edge semantics: timeouts -----------------------------------------------------------------


class StallingServer:
    """Answers every request with a chunked 200 holding ``first``, then sends nothing more (and
    keeps the connection open) until the test ends."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.release = asyncio.Event()
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> StallingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release.set()
        for writer in self._writers:
            writer.transport.abort()
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n")
             if line.lower().startswith(b"content-length:")),
            0,
        )  # fmt: skip
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b"transfer-encoding: chunked\r\n\r\n")
        writer.write(b"%x\r\n%s\r\n" % (len(self.first), self.first))
        await writer.drain()
        await self.release.wait()


@pytest.mark.asyncio
async def test_a_stream_that_stops_sending_is_a_timeout_not_unavailable() -> None:
    first = array(answer("a", None))[:-1] + b","
    async with StallingServer(first) as server:
        with pytest.warns(DeprecationWarning, match="gemini-genai"):
            provider = GeminiSDKProvider(
                fake.MODEL, api_key=KEY, base_url=f"http://127.0.0.1:{server.port}", timeout=0.3
            )
        received: list[str] = []
        with pytest.raises(ProviderTimeout) as caught:
            await read(provider, received)
        await provider.aclose()
    assert received == ["a"]
    assert caught.value.provider == "gemini-sdk"
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


@pytest.mark.asyncio
async def test_an_answer_that_never_starts_is_a_timeout() -> None:
    release = asyncio.Event()
    async with fake.FakeGemini(api_key=KEY) as server:
        server.script(fake.slow(fake.ok(), release), fake.slow(fake.stream(["a"]), release))
        with pytest.warns(DeprecationWarning, match="gemini-genai"):
            provider = GeminiSDKProvider(
                fake.MODEL, api_key=KEY, base_url=server.base_url, timeout=0.2
            )
        with pytest.raises(ProviderTimeout):
            await provider.generate("Hi")
        with pytest.raises(ProviderTimeout):
            await read(provider)
        release.set()
        await provider.aclose()


@pytest.mark.asyncio
async def test_a_stream_without_a_finish_reason_interrupts_the_coordinator(
    raw: tuple[Raw, GeminiSDKProvider],
) -> None:
    script, provider = raw
    script.body(array(answer("a", None), answer("b", None)), chunked=True)
    c = Coordinator([provider], clock=ManualClock(), hooks=())
    received: list[str] = []
    with pytest.raises(StreamInterrupted) as caught:
        await collect(c.stream("Hi"), received)
    assert received == ["a", "b"]
    assert isinstance(caught.value.cause, Unavailable)
    assert "finishReason" in str(caught.value.cause)
