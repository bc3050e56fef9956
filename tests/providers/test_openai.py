"""OpenAICompatibleProvider against the fake OpenAI server: URLs, success, streams, health."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from failover import (
    BadRequest,
    ConfigurationError,
    ContentBlocked,
    QuotaExhausted,
    StreamInterrupted,
    Unavailable,
)
from failover.provider import LLMResponse, Usage
from providers.openai import OpenAICompatibleProvider, api_root, parse_duration
from providers.testing._server import FakeServer, Reply
from providers.testing.openai import (
    KEY,
    FakeOpenAI,
    backup,
    chunk,
    collect,
    completion,
    coordinator,
    error,
    provider,
    stream_events,
)

# --- URLs and durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        ("http://localhost:11434", "http://localhost:11434/v1"),
        ("http://localhost:11434/", "http://localhost:11434/v1"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("https://api.groq.com/openai/v1/", "https://api.groq.com/openai/v1"),
        ("https://example.com/proxy", "https://example.com/proxy/v1"),
        ("https://example.com/v1beta", "https://example.com/v1beta"),
    ],
)
def test_api_root_adds_v1_only_when_missing(base_url: str, root: str) -> None:
    assert api_root(base_url) == root


@pytest.mark.parametrize("base_url", ["ftp://x", "localhost:8000", "", None])
def test_api_root_refuses_what_is_not_an_http_url(base_url: Any) -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        api_root(base_url)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("2.5", 2.5),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_duration(value: str | None, seconds: float | None) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


def test_a_model_is_required() -> None:
    with pytest.raises(ConfigurationError, match="model must be a non-empty string, got ''"):
        OpenAICompatibleProvider("http://x", None, "")


# --- success -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_generate_through_the_coordinator() -> None:
    fake = FakeOpenAI(Reply.json(completion("Hi there", model="gpt-test-0613")), key=KEY)
    async with FakeServer(fake) as server:
        c, _ = coordinator(provider(server))
        result = await c.generate("Say hi", temperature=0.2)
        await c.aclose()
    response = result.value
    assert isinstance(response, LLMResponse)
    assert (response.text, response.provider, response.model) == (
        "Hi there",
        "openai",
        "gpt-test-0613",
    )
    assert (response.usage, response.finish_reason) == (Usage(5, 2, 7), "stop")
    assert response.latency > 0
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json() == {
        "messages": [{"role": "user", "content": "Say hi"}],
        "temperature": 0.2,
        "model": "gpt-test",
        "stream": False,
    }


@pytest.mark.asyncio
async def test_a_request_mapping_is_sent_as_the_body_and_no_key_sends_no_header() -> None:
    fake = FakeOpenAI(Reply.json(completion(None, usage=None, finish_reason="length")))
    messages = [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]
    async with FakeServer(fake) as server:
        ollama = OpenAICompatibleProvider(server.base_url + "/v1", None, "llama3", name="ollama")
        response = await ollama.generate({"messages": messages, "model": "qwen"}, max_tokens=5)
        await ollama.aclose()
    assert (response.text, response.usage, response.finish_reason) == ("", Usage(), "length")
    (request,) = server.requests
    assert "authorization" not in request.headers
    assert request.json() == {
        "messages": messages,
        "model": "qwen",
        "max_tokens": 5,
        "stream": False,
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("prompt", [{"prompt": "x"}, {"messages": "x"}, 42])
async def test_a_prompt_without_messages_is_a_bad_request_sent_nowhere(prompt: Any) -> None:
    async with FakeServer(FakeOpenAI()) as server:
        p = provider(server)
        with pytest.raises(BadRequest, match="'messages' list"):
            await p.generate(prompt)
        await p.aclose()
    assert server.requests == []


@pytest.mark.asyncio
async def test_stream_through_the_coordinator() -> None:
    fake = FakeOpenAI(Reply.sse(stream_events("Hel", "lo", "!")))
    async with FakeServer(fake) as server:
        c, _ = coordinator(provider(server))
        assert [text async for text in c.stream("hi")] == ["Hel", "lo", "!"]
        await c.aclose()
    assert server.requests[0].json()["stream"] is True
    stats = c.breaker("openai").statistics()
    assert (stats.calls, stats.failures) == (1, 0)


@pytest.mark.asyncio
async def test_a_stream_cut_after_its_first_chunk_is_stream_interrupted() -> None:
    events = stream_events("Hel", "lo")
    fake = FakeOpenAI(Reply.sse(events, cut_after=2))  # the role chunk and "Hel"
    second = backup()
    async with FakeServer(fake) as server:
        c, _ = coordinator(provider(server), second)
        received: list[str] = []
        with pytest.raises(StreamInterrupted) as caught:
            await collect(c.stream("hi"), received)
        await c.aclose()
    assert received == ["Hel"]
    assert (caught.value.text_so_far, caught.value.provider) == ("Hel", "openai")
    cause = caught.value.cause
    assert isinstance(cause, Unavailable)
    assert isinstance(cause.__cause__, httpx.RemoteProtocolError)
    assert second.requests == []
    assert c.breaker("openai").statistics().failures == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply",
    [
        Reply.sse(stream_events("Hel", "lo"), cut_after=1),  # cut before any text
        Reply.sse(stream_events(done=False)),  # a clean end without [DONE] nor text
    ],
    ids=["cut", "no-done"],
)
async def test_a_stream_failing_before_any_text_fails_over(reply: Reply) -> None:
    async with FakeServer(FakeOpenAI(reply)) as server:
        c, _ = coordinator(provider(server), backup())
        assert [text async for text in c.stream("hi")] == ["backup"]
        await c.aclose()
    assert c.breaker("openai").statistics().failures == 1


@pytest.mark.asyncio
async def test_a_stream_ending_without_done_is_unavailable_from_the_iterator() -> None:
    async with FakeServer(FakeOpenAI(Reply.sse(stream_events("a", "b", done=False)))) as server:
        p = provider(server)
        received: list[str] = []
        with pytest.raises(Unavailable, match=r"without \[DONE\]"):
            await collect(p.stream("hi"), received)
        await p.aclose()
    assert received == ["a", "b"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("event", "cls"),
    [
        (error("The server had an error", "server_error"), Unavailable),
        (
            error("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
            QuotaExhausted,
        ),
        (chunk("x", finish_reason="content_filter"), ContentBlocked),
        ({"unexpected": True}, Unavailable),
        ("not json", Unavailable),
    ],
)
async def test_errors_inside_a_stream(event: Any, cls: type[Exception]) -> None:
    async with FakeServer(FakeOpenAI(Reply.sse([chunk("a"), event, "[DONE]"]))) as server:
        p = provider(server)
        received: list[str] = []
        with pytest.raises(cls) as caught:
            await collect(p.stream("hi"), received)
        await p.aclose()
    assert type(caught.value) is cls
    assert received == ["a"]


# --- health checks and lifecycle -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_health_check_lists_the_models_and_spends_no_tokens() -> None:
    async with FakeServer(FakeOpenAI(key=KEY)) as server:
        good = provider(server)
        bad = OpenAICompatibleProvider(server.base_url, "sk-wrong-key-000", "gpt-test", name="bad")
        healthy, unhealthy = await good.health_check(), await bad.health_check()
        await good.aclose()
        await bad.aclose()
    assert (healthy.provider, healthy.healthy, healthy.error) == ("openai", True, None)
    assert (unhealthy.healthy, unhealthy.provider) == (False, "bad")
    assert unhealthy.error is not None
    assert unhealthy.error.startswith("Unauthorized: ")
    assert {(r.method, r.path) for r in server.requests} == {("GET", "/v1/models")}


@pytest.mark.asyncio
async def test_health_check_of_a_server_that_is_gone() -> None:
    async with FakeServer(FakeOpenAI()) as server:
        url = server.base_url
    p = OpenAICompatibleProvider(url, None, "m")
    result = await p.health_check()
    await p.aclose()
    assert not result.healthy
    assert result.error is not None
    assert result.error.startswith("Unavailable: ")


@pytest.mark.asyncio
async def test_an_injected_client_is_used_and_left_open() -> None:
    async with (
        FakeServer(FakeOpenAI()) as server,
        httpx.AsyncClient(headers={"x-app": "t"}) as client,
    ):
        p = provider(server, client=client)
        await p.generate("x")
        await p.aclose()
        assert not client.is_closed
    assert server.requests[0].headers["x-app"] == "t"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_repr_shows_no_key() -> None:
    p = OpenAICompatibleProvider("http://localhost:8000", KEY, "m", name="vllm")
    assert (
        repr(p)
        == "OpenAICompatibleProvider(name='vllm', base_url='http://localhost:8000/v1', model='m')"
    )
