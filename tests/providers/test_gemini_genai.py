"""GeminiGenAIProvider against the loopback fake Gemini (real sockets, google-genai's async
client over the provider's httpx client): generate, usage, streaming, count_tokens, health
check, one request per call, settings, Vertex AI, and GeminiSDKProvider's deprecation."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

import providers
from failover import Coordinator, ManualClock, RetryPolicy
from failover.errors import BadRequest, ConfigurationError, Unavailable
from failover.provider import LLMProvider, Usage
from failover.registry import ProviderRegistry
from failover.settings import ProviderSettings
from providers._registration import register_builtin_kinds
from providers.gemini_genai import GeminiGenAIProvider
from providers.testing import gemini as fake
from providers.testing._server import FakeRequest, FakeServer, Reply


@pytest_asyncio.fixture
async def server() -> AsyncIterator[fake.FakeGemini]:
    async with fake.FakeGemini() as running:
        yield running


@pytest_asyncio.fixture
async def genai(server: fake.FakeGemini) -> AsyncIterator[GeminiGenAIProvider]:
    provider = GeminiGenAIProvider(fake.KEY, base_url=server.base_url)
    yield provider
    await provider.aclose()


async def read(provider: GeminiGenAIProvider, prompt: str = "Hi") -> list[str]:
    return [chunk async for chunk in provider.stream(prompt)]


@pytest.mark.asyncio
async def test_generate_answers_the_text_with_its_usage(
    server: fake.FakeGemini, genai: GeminiGenAIProvider
) -> None:
    server.script(fake.ok("Bonjour", usage=(11, 4), model_version="gemini-2.5-flash-001"))
    response = await genai.generate("Say hi", temperature=0.25, max_output_tokens=32)
    assert response.text == "Bonjour"
    assert response.provider == "gemini-genai"
    assert response.model == "gemini-2.5-flash-001"
    assert response.usage == Usage(11, 4, 15)
    assert response.finish_reason == "stop"
    assert genai.last_usage == Usage(11, 4, 15)
    request = server.requests[-1]
    assert request.path == f"/v1beta/models/{fake.MODEL}:generateContent"
    assert request.headers["x-goog-api-key"] == fake.KEY
    body = request.json()
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Say hi"}]}]
    assert body["generationConfig"] == {"temperature": 0.25, "maxOutputTokens": 32}


@pytest.mark.asyncio
async def test_a_request_mapping_reaches_the_wire(
    server: fake.FakeGemini, genai: GeminiGenAIProvider
) -> None:
    request = {
        "contents": [{"role": "user", "parts": [{"text": "Q"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"topK": 3},
    }
    assert (await genai.generate(request)).text == "Hello from Gemini"
    body = server.requests[-1].json()
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert body["generationConfig"] == {"topK": 3}


@pytest.mark.asyncio
async def test_a_stream_yields_each_chunk_and_keeps_the_last_usage(
    server: fake.FakeGemini, genai: GeminiGenAIProvider
) -> None:
    server.script(fake.stream(["one ", "two ", "three"]))
    assert await read(genai) == ["one ", "two ", "three"]
    assert genai.last_usage == Usage(5, 3, 8)
    request = server.requests[-1]
    assert request.path.endswith(":streamGenerateContent")
    assert request.query == {"alt": "sse"}


@pytest.mark.asyncio
async def test_a_stream_without_a_finish_reason_is_cut_short(
    server: fake.FakeGemini, genai: GeminiGenAIProvider
) -> None:
    record = fake.response_body("half", finish=None)
    server.script(Reply.sse([record]))
    with pytest.raises(Unavailable, match="without a finishReason"):
        await read(genai)


@pytest.mark.asyncio
async def test_a_stream_cut_mid_way_raises_unavailable_after_its_first_chunk(
    server: fake.FakeGemini, genai: GeminiGenAIProvider
) -> None:
    server.script(fake.stream(["a ", "b ", "c"], cut_after=1))
    received: list[str] = []

    async def read() -> None:
        async for chunk in genai.stream("Hi"):
            received.append(chunk)

    with pytest.raises(Unavailable) as caught:
        await read()
    assert received == ["a "]
    assert caught.value.provider == "gemini-genai"


@pytest.mark.asyncio
async def test_count_tokens_asks_the_model(
    server: fake.FakeGemini, genai: GeminiGenAIProvider
) -> None:
    server.script(Reply.json({"totalTokens": 42}))
    assert await genai.count_tokens("How many tokens?") == 42
    assert server.requests[-1].path == f"/v1beta/models/{fake.MODEL}:countTokens"
    assert GeminiGenAIProvider.estimate_tokens("abcdefghi") == 3


@pytest.mark.asyncio
async def test_count_tokens_refuses_what_the_sdk_would_not_count(
    server: fake.FakeGemini, genai: GeminiGenAIProvider
) -> None:
    request = {"contents": [], "systemInstruction": {"parts": [{"text": "S"}]}}
    with pytest.raises(BadRequest, match="systemInstruction"):
        await genai.count_tokens(request)
    assert server.requests == []


@pytest.mark.asyncio
async def test_a_count_that_is_not_a_count_is_unavailable(
    server: fake.FakeGemini, genai: GeminiGenAIProvider
) -> None:
    server.script(Reply.json({"totalTokens": -3}))
    with pytest.raises(Unavailable):
        await genai.count_tokens("Hi")


@pytest.mark.asyncio
async def test_the_health_check_gets_the_model(
    server: fake.FakeGemini, genai: GeminiGenAIProvider
) -> None:
    health = await genai.health_check()
    assert health.healthy
    assert health.error is None
    assert health.provider == "gemini-genai"
    assert (server.requests[-1].method, server.requests[-1].path) == (
        "GET",
        f"/v1beta/models/{fake.MODEL}",
    )


@pytest.mark.asyncio
async def test_the_health_check_of_an_unknown_model_says_so(server: fake.FakeGemini) -> None:
    provider = GeminiGenAIProvider(fake.KEY, "gemini-9-ultra", base_url=server.base_url)
    health = await provider.health_check()
    await provider.aclose()
    assert not health.healthy
    assert health.error is not None
    assert health.error.startswith("NotFound: ")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply", [fake.overloaded, fake.internal, lambda: fake.rate_limited("1s")], ids=str
)
async def test_one_request_per_call_the_sdk_does_not_retry(
    server: fake.FakeGemini, genai: GeminiGenAIProvider, reply: Any
) -> None:
    server.script(reply(), reply(), reply())
    with pytest.raises(Exception):  # noqa: B017, PT011 - the class is asserted elsewhere
        await genai.generate("Hi")
    with pytest.raises(Exception):  # noqa: B017, PT011
        await read(genai)
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_a_coordinator_fails_over_with_one_request_per_attempt(
    server: fake.FakeGemini,
) -> None:
    server.script(fake.overloaded())
    first = GeminiGenAIProvider(fake.KEY, name="first", base_url=server.base_url)
    second = GeminiGenAIProvider(fake.KEY, name="second", base_url=server.base_url)
    coordinator = Coordinator(
        [first, second], retry=RetryPolicy(max_attempts=3), clock=ManualClock()
    )
    result = await coordinator.generate("Hi")
    await first.aclose()
    await second.aclose()
    assert result.value.text == "Hello from Gemini"
    assert [a.provider for a in result.attempts] == ["first", "second"]
    assert len(server.requests) == 2  # the 503, then the answer: the SDK retried nothing


@pytest.mark.asyncio
async def test_an_injected_client_is_used_and_left_open(server: fake.FakeGemini) -> None:
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as client:
        provider = GeminiGenAIProvider(fake.KEY, base_url=server.base_url, client=client)
        assert (await provider.generate("Hi")).text == "Hello from Gemini"
        await provider.aclose()
        assert not client.is_closed
    assert seen == [f"/v1beta/models/{fake.MODEL}:generateContent"]


def test_it_is_an_llm_provider_and_its_repr_shows_no_key() -> None:
    provider = GeminiGenAIProvider(fake.KEY, "models/gemini-2.5-pro", name="pro")
    assert isinstance(provider, LLMProvider)
    assert provider.model == "gemini-2.5-pro"
    assert repr(provider) == (
        "GeminiGenAIProvider(name='pro', model='gemini-2.5-pro', api='gemini-api')"
    )
    assert fake.KEY not in repr(provider)
    assert providers.GeminiGenAIProvider is GeminiGenAIProvider


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "needs an API key"),
        ({"api_key": " "}, "api_key"),
        ({"api_key": fake.KEY, "model": ""}, "model"),
        ({"api_key": fake.KEY, "name": ""}, "name"),
        ({"api_key": fake.KEY, "timeout": 0}, "timeout"),
        ({"api_key": fake.KEY, "timeout": True}, "timeout"),
        ({"api_key": fake.KEY, "max_response_bytes": 10}, "max_response_bytes"),
        ({"api_key": fake.KEY, "project": "p"}, "vertexai=True"),
        ({"vertexai": True}, "project"),
    ],
)
def test_bad_settings_are_configuration_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        GeminiGenAIProvider(**kwargs)


def test_without_the_sdk_building_one_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.genai", None)
    with pytest.raises(ConfigurationError, match=r"failover\[genai\]"):
        GeminiGenAIProvider(fake.KEY)


def test_importing_providers_does_not_import_the_sdk() -> None:
    code = "import sys, providers, providers.gemini_genai\nprint('google.genai' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="."
    )
    assert out.stdout.strip() == "False"


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_gemini_genai_kind_builds_it_from_settings(server: fake.FakeGemini) -> None:
    registry = ProviderRegistry()
    register_builtin_kinds(registry)
    settings = ProviderSettings(
        name="genai",
        kind="gemini-genai",
        model=fake.MODEL,
        base_url=server.base_url,
        api_key_env="GEMINI_API_KEY",
        options={"timeout": 7, "max_response_bytes": 4096, "api_version": "v1beta"},
    )
    provider = registry.build(settings, {"GEMINI_API_KEY": fake.KEY})
    assert isinstance(provider, GeminiGenAIProvider)
    assert (provider.name, provider.timeout, provider.max_response_bytes) == ("genai", 7.0, 4096)
    assert (await provider.generate("Hi")).text == "Hello from Gemini"
    await provider.aclose()
    assert server.requests[-1].headers["x-server-timeout"] == "7"


def test_the_kind_refuses_an_unknown_option() -> None:
    registry = ProviderRegistry()
    register_builtin_kinds(registry)
    settings = ProviderSettings(
        name="genai", kind="gemini-genai", api_key_env="K", options={"vertex": True}
    )
    with pytest.raises(ConfigurationError, match=r"unknown option\(s\) \['vertex'\]"):
        registry.build(settings, {"K": fake.KEY})


# --- Vertex AI -----------------------------------------------------------------------------------


class Token:
    """google-auth credentials holding a fixed token (no refresh, no network)."""

    token = "vertex-test-token-0123456789"
    valid = True
    expired = False
    quota_project_id = None

    def refresh(self, request: object) -> None:  # pragma: no cover - never expired
        raise AssertionError("refresh is not expected")

    def before_request(self, *args: object) -> None:  # pragma: no cover
        return None


@pytest.mark.asyncio
async def test_vertex_ai_calls_the_project_s_model_path_with_its_credentials() -> None:
    received: list[FakeRequest] = []

    def handler(request: FakeRequest) -> Reply:
        received.append(request)
        return Reply.json(fake.response_body("from Vertex"))

    async with FakeServer(handler) as server:
        provider = GeminiGenAIProvider(
            vertexai=True,
            project="my-project",
            location="europe-west4",
            credentials=Token(),
            base_url=server.base_url,
        )
        response = await provider.generate("Hi")
        await provider.aclose()
    assert response.text == "from Vertex"
    assert provider.vertexai
    assert "vertexai" in repr(provider)
    request = received[0]
    assert request.path.endswith(
        "/projects/my-project/locations/europe-west4/publishers/google/models/"
        f"{fake.MODEL}:generateContent"
    )
    assert request.headers["authorization"] == f"Bearer {Token.token}"
    assert "x-goog-api-key" not in request.headers
    assert json.loads(request.body)["contents"][0]["parts"] == [{"text": "Hi"}]


# --- GeminiSDKProvider's deprecation -------------------------------------------------------------


def test_constructing_the_google_generativeai_adapter_points_to_this_one() -> None:
    from providers.gemini_sdk import GeminiSDKProvider

    with pytest.warns(DeprecationWarning, match="GeminiGenAIProvider") as caught:
        GeminiSDKProvider(fake.MODEL, api_key=fake.KEY, base_url="http://127.0.0.1:9")
    messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
    assert any("GeminiGenAIProvider" in m and "'gemini-genai'" in m for m in messages)
    assert all(fake.KEY not in m for m in messages)
