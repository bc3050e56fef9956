"""GeminiProvider against the fake Gemini server: requests on the wire, answers, key hygiene."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from failover import ConfigurationError, RateLimited, Unauthorized, Unavailable
from failover.provider import LLMProvider, Usage
from providers.gemini import DEFAULT_MODEL, GeminiProvider
from providers.testing import gemini as fake
from providers.testing._server import Reply


@pytest_asyncio.fixture
async def server() -> AsyncIterator[fake.FakeGemini]:
    async with fake.FakeGemini() as running:
        yield running


@pytest_asyncio.fixture
async def gemini(server: fake.FakeGemini) -> AsyncIterator[GeminiProvider]:
    provider = GeminiProvider(fake.KEY, base_url=server.base_url)
    yield provider
    await provider.aclose()


async def collect(stream: AsyncIterator[str], into: list[str]) -> None:
    async for chunk in stream:
        into.append(chunk)


@pytest.mark.asyncio
async def test_generate_sends_the_key_in_a_header_and_reads_the_answer(
    server: fake.FakeGemini, gemini: GeminiProvider
) -> None:
    response = await gemini.generate("Hi", temperature=0.1, max_output_tokens=32)
    assert (response.text, response.provider, response.model) == (
        "Hello from Gemini",
        "gemini",
        DEFAULT_MODEL,
    )
    assert response.usage == Usage(5, 7, 12) == gemini.last_usage
    assert response.finish_reason == "stop"
    assert response.latency > 0
    [request] = server.requests
    assert (request.method, request.path) == (
        "POST",
        f"/v1beta/models/{DEFAULT_MODEL}:generateContent",
    )
    assert request.headers["x-goog-api-key"] == fake.KEY
    assert request.query == {}  # never ?key=
    assert request.json() == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"temperature": 0.1, "maxOutputTokens": 32},
    }


@pytest.mark.asyncio
async def test_a_request_mapping_goes_on_the_wire_as_given(
    server: fake.FakeGemini, gemini: GeminiProvider
) -> None:
    request = {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "systemInstruction": {"parts": [{"text": "Answer in French."}]},
        "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
    }
    await gemini.generate(request)
    assert server.requests[0].json() == request


@pytest.mark.asyncio
async def test_the_model_version_answered_is_reported(
    server: fake.FakeGemini, gemini: GeminiProvider
) -> None:
    server.script(fake.ok("x", model_version="gemini-2.5-flash-001", finish="MAX_TOKENS"))
    response = await gemini.generate("Hi")
    assert (response.model, response.finish_reason) == ("gemini-2.5-flash-001", "length")


@pytest.mark.asyncio
async def test_a_wrong_key_is_unauthorized_as_google_answers_it(server: fake.FakeGemini) -> None:
    provider = GeminiProvider("AIzaSy-wrong-key", base_url=server.base_url)
    with pytest.raises(Unauthorized) as caught:
        await provider.generate("Hi")
    await provider.aclose()
    assert caught.value.status == 400
    assert "wrong-key" not in str(caught.value)


@pytest.mark.asyncio
async def test_stream_yields_chunks_as_they_arrive_and_keeps_the_last_usage(
    server: fake.FakeGemini, gemini: GeminiProvider
) -> None:
    server.script(fake.stream(["Hel", "lo", "!"]))
    chunks = [chunk async for chunk in gemini.stream("Hi", temperature=0.5)]
    assert chunks == ["Hel", "lo", "!"]
    assert gemini.last_usage == Usage(5, 3, 8)
    [request] = server.requests
    assert request.path.endswith(":streamGenerateContent")
    assert request.query == {"alt": "sse"}
    assert request.json()["generationConfig"] == {"temperature": 0.5}


@pytest.mark.asyncio
async def test_a_stream_error_is_raised_by_the_first_next(
    server: fake.FakeGemini, gemini: GeminiProvider
) -> None:
    server.script(fake.overloaded())
    chunks = gemini.stream("Hi")
    with pytest.raises(Unavailable, match="503"):
        await chunks.__anext__()


@pytest.mark.asyncio
async def test_a_stream_ending_without_a_finish_reason_is_unavailable(
    server: fake.FakeGemini, gemini: GeminiProvider
) -> None:
    records = fake.stream_chunks(["a", "b"])
    del records[-1]["candidates"][0]["finishReason"]
    chunks = [b"data: " + json.dumps(r).encode() + b"\r\n\r\n" for r in records]
    server.script(Reply(200, {"content-type": "text/event-stream"}, chunks=chunks))
    received: list[str] = []
    with pytest.raises(Unavailable, match="without a finishReason"):
        await collect(gemini.stream("Hi"), received)
    assert received == ["a", "b"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply",
    [
        fake.html_page(),
        Reply(200, {"content-type": "text/event-stream"}, chunks=[b"data: <x>\n\n"]),
    ],
    ids=["html", "bad-event"],
)
async def test_a_stream_that_is_not_gemini_s_is_unavailable(
    server: fake.FakeGemini, gemini: GeminiProvider, reply: Reply
) -> None:
    server.script(reply)
    with pytest.raises(Unavailable, match="<"):
        await gemini.stream("Hi").__anext__()


@pytest.mark.asyncio
async def test_count_tokens_asks_the_model(server: fake.FakeGemini, gemini: GeminiProvider) -> None:
    server.script(Reply.json({"totalTokens": 31, "promptTokensDetails": []}))
    assert await gemini.count_tokens("How many tokens?") == 31
    request = server.requests[0]
    assert request.path.endswith(":countTokens")
    assert request.json() == {
        "contents": [{"role": "user", "parts": [{"text": "How many tokens?"}]}]
    }


@pytest.mark.asyncio
async def test_count_tokens_of_a_full_request_wraps_it(
    server: fake.FakeGemini, gemini: GeminiProvider
) -> None:
    request = {"contents": [], "systemInstruction": {"parts": [{"text": "S"}]}}
    await gemini.count_tokens(request)
    sent = server.requests[0].json()
    assert sent == {"generateContentRequest": {"model": f"models/{DEFAULT_MODEL}", **request}}


@pytest.mark.asyncio
async def test_count_tokens_reads_an_omitted_zero_and_rejects_garbage(
    server: fake.FakeGemini, gemini: GeminiProvider
) -> None:
    server.script(Reply.json({}), Reply.json({"totalTokens": "many"}))
    assert await gemini.count_tokens("") == 0
    with pytest.raises(Unavailable, match="totalTokens"):
        await gemini.count_tokens("x")


def test_estimate_tokens_is_offline() -> None:
    assert GeminiProvider.estimate_tokens("") == 0
    assert GeminiProvider.estimate_tokens("abcd" * 10 + "x") == 11


@pytest.mark.asyncio
async def test_health_check_gets_the_model_and_spends_no_tokens(
    server: fake.FakeGemini, gemini: GeminiProvider
) -> None:
    result = await gemini.health_check()
    assert (result.provider, result.healthy, result.error) == ("gemini", True, None)
    [request] = server.requests
    assert (request.method, request.path) == ("GET", f"/v1beta/models/{DEFAULT_MODEL}")
    assert request.headers["x-goog-api-key"] == fake.KEY


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("key", "model", "expected"),
    [
        (fake.KEY, "gemini-9-ultra", "NotFound"),
        ("AIzaSy-other-key", DEFAULT_MODEL, "Unauthorized"),
    ],
)
async def test_a_failed_health_check_says_why_without_the_key(
    server: fake.FakeGemini, key: str, model: str, expected: str
) -> None:
    provider = GeminiProvider(key, model, base_url=server.base_url)
    result = await provider.health_check()
    await provider.aclose()
    assert not result.healthy
    assert result.error is not None
    assert result.error.startswith(expected)
    assert key not in result.error


@pytest.mark.asyncio
async def test_a_health_check_of_a_dead_server_is_unhealthy() -> None:
    async with fake.FakeGemini() as server:
        url = server.base_url
    provider = GeminiProvider(fake.KEY, base_url=url)
    result = await provider.health_check()
    await provider.aclose()
    assert not result.healthy
    assert result.error is not None
    assert result.error.startswith("Unavailable")


@pytest.mark.asyncio
async def test_an_injected_client_is_used_and_left_open(server: fake.FakeGemini) -> None:
    async with httpx.AsyncClient() as client:
        provider = GeminiProvider(fake.KEY, base_url=server.base_url, client=client)
        assert (await provider.generate("Hi")).text == "Hello from Gemini"
        await provider.aclose()
        assert not client.is_closed


def test_repr_shows_no_key() -> None:
    provider = GeminiProvider(fake.KEY, "models/gemini-2.5-pro", name="g")
    assert fake.KEY not in repr(provider)
    assert repr(provider) == (
        "GeminiProvider(name='g', model='gemini-2.5-pro', "
        "base_url='https://generativelanguage.googleapis.com', api_version='v1beta')"
    )
    assert isinstance(provider, LLMProvider)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("",), {}, "needs an API key"),
        ((fake.KEY, ""), {}, "model"),
        ((fake.KEY, "a/b"), {}, "model"),
        ((fake.KEY,), {"api_version": "v1?key=x"}, "api_version"),
        ((fake.KEY,), {"name": ""}, "name"),
        ((fake.KEY,), {"timeout": 0}, "timeout"),
        ((fake.KEY,), {"max_response_bytes": 10}, "max_response_bytes"),
        ((fake.KEY,), {"max_response_bytes": 2**40}, "max_response_bytes"),
        ((fake.KEY,), {"max_response_bytes": 1e6}, "max_response_bytes"),
    ],
)
def test_bad_settings_are_configuration_errors(
    args: tuple[str, ...], kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match) as caught:
        GeminiProvider(*args, **kwargs)  # type: ignore[arg-type]
    assert fake.KEY not in str(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "cls"), [(429, RateLimited), (503, Unavailable)], ids=["429", "503"]
)
@pytest.mark.parametrize(
    "page",
    [b"<html>Too Many Requests</html>", b"slow down", b'{"error": "not google\'s"}', b""],
    ids=["html", "text", "other-json", "empty"],
)
async def test_an_error_that_is_not_google_s_json_keeps_the_retry_after_header(
    server: fake.FakeGemini, gemini: GeminiProvider, status: int, cls: type, page: bytes
) -> None:
    reply = Reply(status, {"content-type": "text/html", "retry-after": "7"}, page)
    server.script(reply, reply)
    with pytest.raises(cls) as generated:
        await gemini.generate("Hi")
    with pytest.raises(cls) as streamed:
        await gemini.stream("Hi").__anext__()
    for caught in (generated, streamed):
        assert type(caught.value) is cls
        assert (caught.value.status, caught.value.retry_after) == (status, 7.0)
