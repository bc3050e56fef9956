"""The OpenAI-compatible provider decodes totally, reads boundedly and shows no key.

Property tests put arbitrary JSON (None, bools, ints up to 10**400, floats with inf and nan,
strings, nested lists and objects) in every field of a chat completion, of a stream chunk and
of an error body, and arbitrary bytes and header values: each decoder gives its record or the
library's error, never anything else. Loopback servers check the size limits and the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import MAX_RETRY_AFTER
from failover.errors import (
    ConfigurationError,
    ContentBlocked,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.provider import LLMResponse, QuotaReport, Usage
from providers._http import MAX_COUNT
from providers._openai_wire import (
    error_of,
    parse_chunk,
    parse_completion,
    quota_of,
    retry_after_of,
)
from providers._reading import ERROR_BODY_BYTES
from providers.openai import OpenAICompatibleProvider
from providers.testing._server import FakeServer, Reply
from providers.testing.openai import FakeOpenAI, chunk, collect, completion, error, provider

NAME = "openai"
T = TypeVar("T")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
COMPLETION_PATHS = [
    (),
    ("model",),
    ("choices",),
    ("choices", 0),
    ("choices", 0, "message"),
    ("choices", 0, "message", "content"),
    ("choices", 0, "finish_reason"),
    ("usage",),
    ("usage", "prompt_tokens"),
    ("usage", "completion_tokens"),
    ("usage", "total_tokens"),
]
CHUNK_PATHS = [
    (),
    ("choices",),
    ("choices", 0),
    ("choices", 0, "delta"),
    ("choices", 0, "delta", "content"),
    ("choices", 0, "finish_reason"),
    ("error",),
]


def put(record: Any, path: tuple[Any, ...], value: object) -> Any:
    """``record`` with ``value`` at ``path`` (the whole record for the empty path)."""
    if not path:
        return value
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return record


def outcome(call: Callable[[], T]) -> T | ProviderError:
    """What ``call`` returns, or the ProviderError it raises (anything else propagates)."""
    try:
        return call()
    except ProviderError as exc:
        return exc


def is_count(value: object) -> bool:
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        value = int(value) if value.is_integer() else value
    return value is None or (type(value) is int and 0 <= value <= MAX_COUNT)


# --- completions --------------------------------------------------------------------------------


@given(st.sampled_from(COMPLETION_PATHS), JSON)
def test_any_json_in_any_field_of_a_completion_gives_a_response_or_unavailable(
    path: tuple[Any, ...], value: object
) -> None:
    body = json.dumps(put(completion(), path, value)).encode()
    found = outcome(lambda: parse_completion(body, NAME, "gpt-test", 0.5))
    if path[:1] == ("usage",) and len(path) == 2:  # a count is refused iff out of range
        assert isinstance(found, LLMResponse) == is_count(value)
    if isinstance(found, ContentBlocked):
        assert value == "content_filter"
        return
    if isinstance(found, ProviderError):
        assert type(found) is Unavailable
        assert found.provider == NAME
        assert "not the expected JSON" in str(found)
        return
    assert isinstance(found.text, str)
    assert isinstance(found.model, str)
    counts = (found.usage.prompt_tokens, found.usage.output_tokens, found.usage.total_tokens)
    assert all(type(n) is int and 0 <= n <= MAX_COUNT for n in counts)


@given(st.binary(max_size=300))
def test_any_bytes_give_a_response_or_unavailable(content: bytes) -> None:
    found = outcome(lambda: parse_completion(content, NAME, "m", 0.0))
    if isinstance(found, ProviderError):
        assert type(found) is Unavailable
        assert "not the expected JSON" in str(found)
    else:
        assert isinstance(found, LLMResponse)


@pytest.mark.parametrize(
    ("usage", "shown"),
    [
        ("1e400", "usage.prompt_tokens is not a count"),
        ("-1e400", "usage.prompt_tokens is not a count"),
        ("-3", "usage.prompt_tokens is not a count"),
        ("2.5", "usage.prompt_tokens is not a count"),
        ('"many"', "usage.prompt_tokens is not a count"),
        ("true", "usage.prompt_tokens is not a count"),
        (str(10**19), "usage.prompt_tokens is not a count"),
        ("1" * 5000, "not JSON"),  # beyond Python's int digit limit
    ],
)
def test_a_usage_count_out_of_range_is_unavailable_naming_it(usage: str, shown: str) -> None:
    text = json.dumps(completion()).replace('"prompt_tokens": 5', f'"prompt_tokens": {usage}')
    with pytest.raises(Unavailable, match=shown):
        parse_completion(text.encode(), NAME, "m", 0.0)


def test_counts_in_range_are_read_and_integral_floats_accepted() -> None:
    body = completion(usage=(10**18, 0, 3))
    body["usage"]["completion_tokens"] = 2.0
    response = parse_completion(json.dumps(body).encode(), NAME, "m", 0.0)
    assert response.usage == Usage(10**18, 2, 3)


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_json_is_unavailable_not_a_recursion_error(depth: int) -> None:
    content = b'{"choices": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(Unavailable, match="not the expected JSON"):
        parse_completion(content, NAME, "m", 0.0)


# --- stream chunks ------------------------------------------------------------------------------


@given(st.sampled_from(CHUNK_PATHS), JSON)
def test_any_json_in_any_field_of_a_chunk_gives_text_or_a_provider_error(
    path: tuple[Any, ...], value: object
) -> None:
    found = outcome(lambda: parse_chunk(json.dumps(put(chunk("x"), path, value)), NAME))
    if isinstance(found, ContentBlocked):
        assert value == "content_filter"
    elif isinstance(found, QuotaExhausted | Unauthorized):
        assert path == ("error",)
        assert isinstance(value, dict)
        assert value.get("code") in ("insufficient_quota", "invalid_api_key")
    elif isinstance(found, ProviderError):
        assert type(found) is Unavailable
    else:
        assert isinstance(found, str)


@given(st.text(max_size=200))
def test_any_text_as_a_chunk_gives_text_or_unavailable(data: str) -> None:
    found = outcome(lambda: parse_chunk(data, NAME))
    assert isinstance(found, str) or type(found) is Unavailable


def test_a_chunk_with_non_string_content_is_unavailable() -> None:
    with pytest.raises(Unavailable, match=r"content is not a string"):
        parse_chunk(json.dumps(put(chunk("x"), ("choices", 0, "delta", "content"), 3)), NAME)


# --- error bodies and headers -------------------------------------------------------------------

HEADER_TEXT = st.text(max_size=30) | st.sampled_from(["1e400", "9" * 5000, "-5", "nan", "1h2m"])
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "retry-after",
            "retry-after-ms",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
        ]
    ),
    HEADER_TEXT,
)


@given(
    st.integers(min_value=400, max_value=599),
    HEADERS,
    st.one_of(
        JSON.map(lambda v: json.dumps(v).encode()),
        JSON.map(lambda v: json.dumps({"error": {"message": v}}).encode()),  # any message
        JSON.map(lambda v: json.dumps({"error": {"message": "m", "code": v}}).encode()),
        st.binary(max_size=200),
    ),
)
def test_any_error_answer_gives_a_provider_error_with_a_valid_wait(
    status: int, headers: dict[str, str], content: bytes
) -> None:
    found = error_of(NAME, status, headers, content)
    assert isinstance(found, ProviderError)
    assert found.provider == NAME
    assert found.status == status
    assert found.retry_after is None or 0 <= found.retry_after <= MAX_RETRY_AFTER
    assert len(str(found)) < 600


@given(HEADERS)
def test_header_parsers_never_raise_and_stay_in_range(headers: dict[str, str]) -> None:
    wait = retry_after_of(headers)
    assert wait is None or 0 <= wait <= MAX_RETRY_AFTER
    report = quota_of(headers)
    if report is not None:
        assert 0 <= report.remaining <= MAX_COUNT
        assert report.reset_after is None or 0 <= report.reset_after <= MAX_RETRY_AFTER


@pytest.mark.parametrize(
    ("reset", "seconds"),
    [
        ("1" * 9999 + "s", MAX_RETRY_AFTER),
        ("9" * 9999, MAX_RETRY_AFTER),
        ("1m" * 9999 + "x", None),  # matched once from the start, not at every position
        ("1" * 9999 + "x", None),
    ],
    ids=["long-duration", "long-number", "long-broken-duration", "long-digits-then-junk"],
)
def test_a_long_reset_header_is_read_or_ignored(reset: str, seconds: float | None) -> None:
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": reset}
    assert quota_of(headers) == QuotaReport(0, seconds)


def test_a_429_keeps_its_wait_and_class_whatever_the_body() -> None:
    found = error_of(NAME, 429, {"retry-after-ms": "1" + "0" * 400}, b"[" * 10_000)
    assert type(found) is RateLimited
    assert found.retry_after == MAX_RETRY_AFTER


# --- bounded reads (loopback) -------------------------------------------------------------------

LIMIT = 64 * 1024


def big_completion(size: int) -> bytes:
    return json.dumps(completion("x" * size)).encode()


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_answer_over_max_response_bytes_is_unavailable(chunked: bool) -> None:
    content = big_completion(4 * LIMIT)
    if chunked:  # 16 KiB chunks, then the connection is cut: reading on would fail differently
        pieces = [content[i : i + 16384] for i in range(0, len(content), 16384)]
        reply = Reply(200, {"content-type": "application/json"}, chunks=pieces, cut_after=8)
    else:
        reply = Reply(200, {"content-type": "application/json"}, content)
    async with FakeServer(FakeOpenAI(reply)) as server:
        p = provider(server, max_response_bytes=LIMIT)
        with pytest.raises(
            Unavailable, match=f"larger than {LIMIT} bytes \\(max_response_bytes\\)"
        ):
            await p.generate("hi")
        await p.aclose()


@pytest.mark.asyncio
async def test_an_answer_within_max_response_bytes_is_read() -> None:
    async with FakeServer(FakeOpenAI(Reply(200, {}, big_completion(LIMIT - 1024)))) as server:
        p = provider(server, max_response_bytes=LIMIT)
        assert len((await p.generate("hi")).text) == LIMIT - 1024
        await p.aclose()


@pytest.mark.asyncio
async def test_an_error_body_is_read_only_up_to_error_body_bytes() -> None:
    # The body's first chunk is longer than ERROR_BODY_BYTES, then the connection is cut: a
    # reader going on to the end would meet the cut (Unavailable), not the 429.
    head = json.dumps(error("Rate limit reached " + "x" * ERROR_BODY_BYTES, "requests"))
    reply = Reply(429, {"retry-after": "7"}, chunks=[head.encode(), b"more" * 1000], cut_after=1)
    async with FakeServer(FakeOpenAI(reply)) as server:
        p = provider(server)
        with pytest.raises(RateLimited, match="Rate limit reached") as caught:
            await p.generate("hi")
        await p.aclose()
    assert caught.value.retry_after == 7.0


@pytest.mark.asyncio
async def test_a_stream_event_over_max_response_bytes_is_unavailable() -> None:
    events: list[str | dict[str, Any]] = [chunk("a"), chunk("b" * (2 * LIMIT)), "[DONE]"]
    async with FakeServer(FakeOpenAI(Reply.sse(events))) as server:
        p = provider(server, max_response_bytes=LIMIT)
        received: list[str] = []
        with pytest.raises(Unavailable, match="max_event_bytes"):
            await collect(p.stream("hi"), received)
        await p.aclose()
    assert received == ["a"]


@pytest.mark.parametrize("value", [0, 1023, 2**31, True, 8.0, "8"])
def test_max_response_bytes_is_checked(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_response_bytes must be an int from 1024"):
        OpenAICompatibleProvider("http://x", None, "m", max_response_bytes=value)  # type: ignore[arg-type]
