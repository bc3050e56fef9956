"""Total decoding of Gemini's answers: any input gives a record or the library's error.

Property tests put arbitrary JSON (null, booleans, huge ints, floats incl. inf and nan, strings,
arrays, objects) in every field of every response shape the provider reads: a
GenerateContentResponse (generateContent), a stream event, a google.rpc.Status error body, a
countTokens answer and a Model resource (health checks); and arbitrary bytes as whole bodies.
The loopback tests send the malformed answers found by the adversarial run through the REST
provider.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from failover.errors import ContentBlocked, ProviderError, Unavailable
from failover.provider import LLMResponse, Usage
from providers import _gemini_wire as wire
from providers._gemini_response import MAX_TOKENS
from providers._http import parse_retry_after
from providers.gemini import GeminiProvider
from providers.testing import gemini as fake
from providers.testing._server import FakeServer, Reply

HUGE = [10**400, -(10**400), 10**12 + 1, 2**63, -1, 1e400, -1e400, float("nan"), 1e300]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(HUGE)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["STOP", "SAFETY", "many", "12", "", "FINISH_REASON_UNSPECIFIED"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

Path = tuple[str | int, ...]

# Generating nested JSON costs Hypothesis a few ms an example: the ci profile's 1,000 would
# add a minute, so these properties run at most 300 (the dev profile's 50 as they are).
FIELD_EXAMPLES = settings()

PART = ("candidates", 0, "content", "parts", 0)
RESPONSE_PATHS: list[Path] = [
    (),
    ("candidates",),
    ("candidates", 0),
    ("candidates", 0, "content"),
    ("candidates", 0, "content", "parts"),
    PART,
    (*PART, "text"),
    (*PART, "thought"),
    ("candidates", 0, "finishReason"),
    ("promptFeedback",),
    ("promptFeedback", "blockReason"),
    ("modelVersion",),
    ("usageMetadata",),
    ("usageMetadata", "promptTokenCount"),
    ("usageMetadata", "candidatesTokenCount"),
    ("usageMetadata", "thoughtsTokenCount"),
    ("usageMetadata", "totalTokenCount"),
]

ERROR_PATHS: list[Path] = [
    (),
    ("error",),
    ("error", "code"),
    ("error", "message"),
    ("error", "status"),
    ("error", "details"),
    ("error", "details", 0),
    ("error", "details", 0, "@type"),
    ("error", "details", 0, "violations"),
    ("error", "details", 0, "violations", 0),
    ("error", "details", 0, "violations", 0, "quotaId"),
    ("error", "details", 1, "reason"),
    ("error", "details", 2, "retryDelay"),
]


def replaced(document: Any, path: Path, value: object) -> Any:
    """A copy of ``document`` with the value at ``path`` replaced (the root when empty)."""
    if not path:
        return value
    copied = copy.deepcopy(document)
    target = copied
    for key in path[:-1]:
        target = target[key]
    if isinstance(target, dict) or (isinstance(path[-1], int) and path[-1] < len(target)):
        target[path[-1]] = value
    return copied


def encoded(document: object) -> bytes:
    return json.dumps(document).encode()  # Infinity and NaN as Python writes them


def rich_response() -> dict[str, Any]:
    body = fake.response_body("Hello")
    body["promptFeedback"] = {"blockReason": None}
    body["candidates"][0]["content"]["parts"][0]["thought"] = False
    body["usageMetadata"]["thoughtsTokenCount"] = 2
    return body


def rich_error(status: int) -> dict[str, Any]:
    return fake.error_body(
        status,
        "RESOURCE_EXHAUSTED",
        "Please retry in 3s.",
        fake.quota_failure("GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
        fake.error_info("API_KEY_INVALID"),
        fake.retry_info("26s"),
    )


def check_response(response: LLMResponse) -> None:
    assert isinstance(response.text, str)
    assert isinstance(response.model, str)
    assert response.finish_reason is None or isinstance(response.finish_reason, str)
    check_usage(response.usage)


def check_usage(usage: Usage | None) -> None:
    if usage is not None:
        counts = (usage.prompt_tokens, usage.output_tokens, usage.total_tokens)
        assert all(type(n) is int and 0 <= n <= 2 * MAX_TOKENS for n in counts)


def decode_response(body: bytes) -> None:
    failed: ProviderError | None = None
    try:
        response = wire.llm_response(wire.parse_json(body, "gemini"), "gemini", "m", 0.1)
    except (Unavailable, ContentBlocked) as exc:
        failed = exc
    if failed is None:
        check_response(response)
    else:
        assert failed.provider == "gemini"


def decode_event(event: str) -> None:
    failed: ProviderError | None = None
    try:
        decoded = wire.decode_event(event, "gemini")
    except (Unavailable, ContentBlocked) as exc:
        failed = exc
    if failed is None:
        assert isinstance(decoded.text, str)
        assert isinstance(decoded.finished, bool)
        check_usage(decoded.usage)
    else:
        assert failed.provider == "gemini"


@FIELD_EXAMPLES
@given(st.sampled_from(RESPONSE_PATHS), json_values)
def test_any_value_in_any_field_of_a_response_or_event_gives_a_record_or_a_library_error(
    path: Path, value: object
) -> None:
    body = encoded(replaced(rich_response(), path, value))
    decode_response(body)
    decode_event(body.decode())


@given(st.binary(max_size=200))
def test_any_bytes_as_a_body_or_an_event_give_a_record_or_a_library_error(body: bytes) -> None:
    decode_response(body)
    decode_event(body.decode("utf-8", errors="replace"))


@FIELD_EXAMPLES
@given(
    st.sampled_from([400, 401, 403, 404, 408, 429, 500, 503, 504]),
    st.sampled_from(ERROR_PATHS),
    json_values,
    st.text(max_size=30) | st.sampled_from(["5", "1e400", "9" * 500, "Wed, 21 Oct 2015"]),
)
def test_any_value_in_any_field_of_an_error_body_gives_the_status_s_error(
    status: int, path: Path, value: object, header: str
) -> None:
    body = encoded(replaced(rich_error(status), path, value))
    err = wire.error_for(status, body, provider="gemini", retry_after=parse_retry_after(header))
    assert isinstance(err, ProviderError)
    assert (err.provider, err.status) == ("gemini", status)
    assert len(str(err)) < 1000


@FIELD_EXAMPLES
@given(json_values)
def test_count_tokens_and_the_model_resource_read_any_value(value: object) -> None:
    try:
        total = wire.token_total({"totalTokens": value}, "gemini")
    except Unavailable:
        assert value is not None
    else:
        assert type(total) is int
        assert 0 <= total <= MAX_TOKENS
    try:
        name = wire.model_resource({"name": value}, "gemini")
    except Unavailable:
        assert not (isinstance(value, str) and value)
    else:
        assert name == value


@pytest.mark.parametrize(
    ("path", "value", "what"),
    [
        (("usageMetadata", "promptTokenCount"), "many", "promptTokenCount"),
        (("usageMetadata", "totalTokenCount"), 1e400, "totalTokenCount"),
        (("usageMetadata", "candidatesTokenCount"), 10**13, "candidatesTokenCount"),
        (("candidates", 0, "content"), "a string", "content"),
        (("candidates", 0, "content", "parts"), 7, "parts"),
        (("candidates", 0, "finishReason"), ["STOP"], "finishReason"),
        ((*PART, "text"), {"nested": 1}, "text"),
        (("promptFeedback", "blockReason"), [1], "blockReason"),
        (("modelVersion",), 3, "modelVersion"),
        (("candidates",), {}, "candidates"),
    ],
)
def test_each_malformed_field_is_unavailable_naming_it(
    path: Path, value: object, what: str
) -> None:
    with pytest.raises(Unavailable, match=what):
        wire.llm_response(replaced(rich_response(), path, value), "gemini", "m", 0.1)


@pytest.mark.parametrize("body", [b"[" * 200_000, b'{"a":' * 200_000, b"\xff\xfe{}", b"1e400"])
def test_a_body_nested_too_deeply_or_not_utf8_is_unavailable(body: bytes) -> None:
    with pytest.raises(Unavailable, match="not a JSON object"):
        wire.parse_json(body, "gemini")
    assert type(wire.error_for(503, body, provider="gemini")) is Unavailable


# --- through the REST provider, on a loopback server ----------------------------------------------

MALFORMED = [
    (("usageMetadata", "promptTokenCount"), "many"),
    (("usageMetadata", "totalTokenCount"), 1e400),
    (("candidates", 0, "content"), "a string"),
    (("candidates", 0, "content", "parts"), 7),
    (("candidates", 0, "finishReason"), ["STOP"]),
]


@pytest_asyncio.fixture
async def server() -> AsyncIterator[fake.FakeGemini]:
    async with fake.FakeGemini() as running:
        yield running


@pytest_asyncio.fixture
async def gemini(server: fake.FakeGemini) -> AsyncIterator[GeminiProvider]:
    provider = GeminiProvider(fake.KEY, base_url=server.base_url)
    yield provider
    await provider.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "value"), MALFORMED)
async def test_a_malformed_answer_is_unavailable_from_generate_and_stream(
    server: fake.FakeGemini, gemini: GeminiProvider, path: Path, value: object
) -> None:
    body = encoded(replaced(fake.response_body("Hi"), path, value))
    server.script(Reply(200, {"content-type": "application/json"}, body))
    with pytest.raises(Unavailable, match="malformed"):
        await gemini.generate("Hi")
    event = b"data: " + body + b"\r\n\r\n"
    server.script(Reply(200, {"content-type": "text/event-stream"}, b"", chunks=[event]))
    with pytest.raises(Unavailable, match="malformed"):
        async for _ in gemini.stream("Hi"):
            pass


@pytest.mark.asyncio
@pytest.mark.parametrize("value", ["many", 1e400, -3, True])
async def test_count_tokens_of_a_malformed_total_is_unavailable(
    server: fake.FakeGemini, gemini: GeminiProvider, value: object
) -> None:
    server.script(Reply(200, {"content-type": "application/json"}, encoded({"totalTokens": value})))
    with pytest.raises(Unavailable, match="totalTokens"):
        await gemini.count_tokens("Hi")


@pytest.mark.asyncio
@pytest.mark.parametrize("resource", [{}, {"name": 5}, {"name": ""}, ["models/x"], "x"])
async def test_a_malformed_model_resource_is_an_unhealthy_check(resource: object) -> None:
    async with FakeServer(lambda _: Reply.json(resource)) as server:
        provider = GeminiProvider(fake.KEY, base_url=server.base_url)
        result = await provider.health_check()
        await provider.aclose()
    assert not result.healthy
    assert result.error is not None
    assert result.error.startswith("Unavailable: Gemini")
