"""GeminiSDKProvider against the fake Gemini server, through the SDK's own REST transport
(``client_options={"api_endpoint": "http://127.0.0.1:PORT"}``): the SDK's requests, parsers and
exceptions are the real ones."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import requests
import urllib3

from failover import (
    BadRequest,
    BreakerPolicy,
    ConfigurationError,
    ContentBlocked,
    Coordinator,
    ManualClock,
    NotFound,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
    Unauthorized,
    Unavailable,
)
from failover.provider import LLMProvider, Usage
from failover.testing import ScriptedProvider, ScriptedRequest
from providers.gemini_sdk import GeminiSDKProvider, translate_sdk_error
from providers.testing import gemini as fake
from providers.testing._server import Reply

with warnings.catch_warnings():  # the SDK warns that it is deprecated upstream
    warnings.simplefilter("ignore")
    import google.generativeai as genai
    from google.generativeai.types import generation_types


def sdk_provider(server: fake.FakeGemini, key: str = fake.KEY, **kw: Any) -> GeminiSDKProvider:
    with pytest.warns(DeprecationWarning, match="gemini-genai"):
        return GeminiSDKProvider(fake.MODEL, api_key=key, base_url=server.base_url, **kw)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[fake.FakeGemini]:
    async with fake.FakeGemini() as running:
        yield running


@pytest_asyncio.fixture
async def sdk(server: fake.FakeGemini) -> AsyncIterator[GeminiSDKProvider]:
    provider = sdk_provider(server)
    yield provider
    await provider.aclose()


def backup() -> ScriptedProvider:
    def handler(request: ScriptedRequest) -> object:
        return ["from ", "backup"] if request.kind == "stream" else "from backup"

    return ScriptedProvider("backup", handler)


def coordinator(provider: GeminiSDKProvider) -> tuple[Coordinator, ScriptedProvider]:
    other = backup()
    built = Coordinator(
        [provider, other],
        policy=BreakerPolicy(open_jitter=0.0),
        strategy="priority",
        priorities={provider.name: 1},
        clock=ManualClock(),
        hooks=(),
        seed=0,
    )
    return built, other


@pytest.mark.asyncio
async def test_generate_through_the_sdk(server: fake.FakeGemini, sdk: GeminiSDKProvider) -> None:
    response = await sdk.generate("Hi", temperature=0.3, max_output_tokens=16)
    assert (response.text, response.provider, response.model) == (
        "Hello from Gemini",
        "gemini-sdk",
        fake.MODEL,
    )
    assert response.usage == Usage(5, 7, 12) == sdk.last_usage
    assert response.finish_reason == "stop"
    [request] = server.requests
    assert request.path == f"/v1beta/models/{fake.MODEL}:generateContent"
    assert request.headers["x-goog-api-key"] == fake.KEY
    assert "key" not in request.query
    assert request.json()["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 16}


@pytest.mark.asyncio
async def test_client_options_reach_the_sdk_s_clients(server: fake.FakeGemini) -> None:
    options = {"api_endpoint": server.base_url}
    with pytest.warns(DeprecationWarning, match="gemini-genai"):
        provider = GeminiSDKProvider(fake.MODEL, api_key=fake.KEY, client_options=options)
    assert (await provider.generate("Hi")).text == "Hello from Gemini"
    await provider.aclose()


@pytest.mark.asyncio
async def test_stream_through_the_sdk(server: fake.FakeGemini, sdk: GeminiSDKProvider) -> None:
    server.script(fake.stream(["Hel", "lo", "!"]))
    assert [chunk async for chunk in sdk.stream("Hi")] == ["Hel", "lo", "!"]
    assert sdk.last_usage == Usage(5, 3, 8)


@pytest.mark.asyncio
async def test_count_tokens_and_health_check(
    server: fake.FakeGemini, sdk: GeminiSDKProvider
) -> None:
    server.script(Reply.json({"totalTokens": 9}))
    assert await sdk.count_tokens("Hello there") == 9
    result = await sdk.health_check()
    assert (result.provider, result.healthy) == ("gemini-sdk", True)
    assert server.requests[-1].method == "GET"
    assert server.requests[-1].path == f"/v1beta/models/{fake.MODEL}"


@pytest.mark.asyncio
async def test_the_sdk_s_own_retry_is_off(server: fake.FakeGemini, sdk: GeminiSDKProvider) -> None:
    server.script(fake.overloaded())  # the SDK would retry a 503 (and get the default answer)
    with pytest.raises(Unavailable, match="503"):
        await sdk.generate("Hi")
    assert len(server.requests) == 1


ROWS = [
    pytest.param(fake.rate_limited("26s"), RateLimited, "rate_limited", True, id="429"),
    pytest.param(fake.rate_limited(per_day=True), QuotaExhausted, "rate_limited", True, id="day"),
    pytest.param(fake.permission_denied(), Unauthorized, "auth_failed", True, id="403"),
    pytest.param(fake.unauthenticated(), Unauthorized, "auth_failed", True, id="401"),
    pytest.param(fake.failed_precondition(), Unauthorized, "auth_failed", True, id="precondition"),
    pytest.param(fake.invalid_argument(), BadRequest, None, False, id="400"),
    pytest.param(fake.not_found(), NotFound, None, True, id="404"),
    pytest.param(fake.internal(), Unavailable, None, True, id="500"),
    pytest.param(fake.overloaded(), Unavailable, None, True, id="503"),
    pytest.param(fake.deadline_exceeded(), ProviderTimeout, None, True, id="504"),
    pytest.param(fake.html_page(), Unavailable, None, True, id="html"),
    pytest.param(fake.reset_mid_body(), Unavailable, None, True, id="reset"),
    pytest.param(fake.blocked_prompt(), ContentBlocked, None, False, id="blocked"),
    pytest.param(fake.blocked_answer("RECITATION"), ContentBlocked, None, False, id="recitation"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("reply", "error", "reason", "failed_over"), ROWS)
async def test_each_error_row_through_the_coordinator(
    server: fake.FakeGemini,
    sdk: GeminiSDKProvider,
    reply: Reply,
    error: type[ProviderError],
    reason: str | None,
    failed_over: bool,
) -> None:
    server.script(reply)
    c, other = coordinator(sdk)
    if failed_over:
        result = await c.generate("Hi")
        assert result.provider == "backup"
        raised = result.attempts[0].error
    else:
        with pytest.raises(error) as caught:
            await c.generate("Hi")
        raised = caught.value
        assert other.requests == []
    assert type(raised) is error
    assert raised.provider == "gemini-sdk"
    assert fake.KEY not in str(raised)
    assert [e.reason.value for e in c.breaker("gemini-sdk").events] == ([reason] if reason else [])
    assert len(server.requests) == 1  # the SDK did not retry


@pytest.mark.asyncio
async def test_a_bad_key_opens_the_provider(server: fake.FakeGemini) -> None:
    provider = sdk_provider(server, key="AIzaSy-wrong")
    c, _ = coordinator(provider)
    result = await c.generate("Hi")
    await provider.aclose()
    assert result.provider == "backup"
    assert isinstance(result.attempts[0].error, Unauthorized)
    assert c.breaker("gemini-sdk").state.value == "open"


async def collect(stream: AsyncIterator[str], into: list[str]) -> None:
    async for chunk in stream:
        into.append(chunk)


@pytest.mark.asyncio
async def test_a_stream_cut_mid_way_is_interrupted(
    server: fake.FakeGemini, sdk: GeminiSDKProvider
) -> None:
    server.script(fake.stream(["a", "b", "c", "d"], cut_after=2))
    c, other = coordinator(sdk)
    received: list[str] = []
    with pytest.raises(StreamInterrupted) as caught:
        await collect(c.stream("Hi"), received)
    assert received == ["a", "b"]
    assert isinstance(caught.value.cause, Unavailable)
    assert other.requests == []


@pytest.mark.asyncio
async def test_a_stream_error_before_the_first_chunk_fails_over(
    server: fake.FakeGemini, sdk: GeminiSDKProvider
) -> None:
    server.script(fake.overloaded())
    c, _ = coordinator(sdk)
    assert [chunk async for chunk in c.stream("Hi")] == ["from ", "backup"]


@pytest.mark.asyncio
async def test_a_dead_server_is_unavailable_and_an_unhealthy_check() -> None:
    async with fake.FakeGemini() as server:
        provider = sdk_provider(server)
    with pytest.raises(Unavailable) as caught:
        await provider.generate("Hi")
    result = await provider.health_check()
    await provider.aclose()
    assert fake.KEY not in str(caught.value)
    assert not result.healthy
    assert result.error is not None
    assert result.error.startswith("Unavailable")


@pytest.mark.parametrize(
    "exc",
    [
        generation_types.BlockedPromptException("blocked"),
        generation_types.StopCandidateException("stopped"),
    ],
)
def test_the_sdk_s_block_exceptions_are_content_blocked(exc: Exception) -> None:
    mapped = translate_sdk_error("gemini-sdk", exc)
    assert type(mapped) is ContentBlocked


def test_other_exceptions_pass_through() -> None:
    assert translate_sdk_error("gemini-sdk", KeyError("x")) is None


NO_POOL: Any = None  # urllib3's exceptions name their pool or connection; none is needed here


@pytest.mark.parametrize(
    ("exc", "answered", "error"),
    [
        pytest.param(KeyError("x"), True, Unavailable, id="any-exception-once-answered"),
        pytest.param(
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), True, Unavailable, id="utf8"
        ),
        pytest.param(
            generation_types.BlockedPromptException("b"), True, ContentBlocked, id="blocked"
        ),
        pytest.param(
            requests.exceptions.ConnectionError(
                urllib3.exceptions.ReadTimeoutError(NO_POOL, "/", "t")
            ),
            True,
            ProviderTimeout,
            id="read-timeout-mid-body",
        ),
        pytest.param(
            requests.exceptions.ReadTimeout("t"), False, ProviderTimeout, id="read-timeout"
        ),
        pytest.param(
            requests.exceptions.ConnectionError(
                urllib3.exceptions.NewConnectionError(NO_POOL, "refused")  # a ConnectTimeoutError
            ),
            False,
            Unavailable,
            id="refused-is-no-timeout",
        ),
        pytest.param(requests.exceptions.InvalidHeader("h"), False, Unavailable, id="requests"),
    ],
)
def test_sdk_exceptions_translated(
    exc: Exception, answered: bool, error: type[ProviderError]
) -> None:
    assert type(translate_sdk_error("gemini-sdk", exc, answered=answered)) is error


def test_a_model_object_is_wrapped_as_is() -> None:
    model = genai.GenerativeModel("gemini-2.5-pro", system_instruction="Be brief.")
    with pytest.warns(DeprecationWarning, match="gemini-genai"):
        provider = GeminiSDKProvider(model, api_key=fake.KEY, name="pro")
    assert provider.model is model
    assert repr(provider) == "GeminiSDKProvider(name='pro', model='gemini-2.5-pro')"
    assert fake.KEY not in repr(provider)
    assert isinstance(provider, LLMProvider)


@pytest.mark.asyncio
async def test_a_system_instruction_per_call_is_refused(sdk: GeminiSDKProvider) -> None:
    request = {"contents": [], "systemInstruction": {"parts": [{"text": "S"}]}}
    with pytest.raises(BadRequest, match="system_instruction="):
        await sdk.generate(request)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": 42}, "GenerativeModel"),
        ({"name": ""}, "name"),
        ({"timeout": -1}, "timeout"),
        ({"api_key": " "}, "api_key"),
    ],
)
def test_bad_settings_are_configuration_errors(kwargs: dict[str, Any], match: str) -> None:
    with (
        pytest.raises(ConfigurationError, match=match),
        pytest.warns(DeprecationWarning, match="gemini-genai"),
    ):
        GeminiSDKProvider(**kwargs)


def test_without_the_sdk_building_one_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.generativeai", None)
    with (
        pytest.raises(ConfigurationError, match=r"failover\[gemini-sdk\]"),
        pytest.warns(DeprecationWarning, match="gemini-genai"),
    ):
        GeminiSDKProvider()


def test_importing_the_module_does_not_import_the_sdk() -> None:
    code = (
        "import sys, providers, providers.gemini_sdk\n"
        "assert 'google.generativeai' not in sys.modules, 'imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
