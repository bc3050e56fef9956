"""BraveSearchProvider decodes totally, reads boundedly, shows no key, and takes a 200 holding
Brave's error object for the error it is.

Property tests put arbitrary JSON (None, bools, ints up to 10**400, floats with inf and nan,
strings, nested lists and objects) in every field of a web search answer and of an error body,
and arbitrary bytes and X-RateLimit-* values: a record or the library's error, never anything
else. Loopback servers (providers.testing.brave) check the headers, the limits and the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import MAX_RETRY_AFTER, BreakerState
from failover.errors import (
    ConfigurationError,
    NotFound,
    ProviderError,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.provider import QuotaReport, SearchResults
from providers._brave_errors import brave_error, decode_answer, quota_report_of
from providers._brave_wire import parse_results
from providers._http import MAX_COUNT
from providers._reading import ERROR_BODY_BYTES
from providers.brave import BraveSearchProvider
from providers.testing._server import Reply
from providers.testing.brave import TOKEN, FakeBrave, rate_limit_headers, web_result, web_results
from providers.testing.openai import coordinator
from tests.providers.test_brave_coordinator import backup_provider

NAME = "brave"
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
ANSWER_PATHS = [
    (),
    ("type",),
    ("web",),
    ("web", "results"),
    ("web", "results", 0),
    ("web", "results", 0, "title"),
    ("web", "results", 0, "url"),
    ("web", "results", 0, "description"),
    ("web", "results", 0, "age"),
    ("error",),
]
ERROR_PATHS = [
    (),
    ("type",),
    ("error",),
    ("error", "code"),
    ("error", "status"),
    ("error", "detail"),
    ("error", "meta"),
]
HEADER_NAMES = ("X-RateLimit-Limit", "X-RateLimit-Policy", "X-RateLimit-Remaining")
HEADER_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["1" + "0" * 400, "9" * 5000, "1, " + "9" * 5000, "-1, 2", "1e3", " 0 , 0 "]),
    st.lists(st.integers(min_value=-5, max_value=10**30), max_size=3).map(
        lambda ns: ", ".join(map(str, ns))
    ),
)
HEADERS = st.dictionaries(
    st.sampled_from([*HEADER_NAMES, "X-RateLimit-Reset", "Retry-After"]), HEADER_TEXT
)


def outcome(call: Callable[[], T]) -> T | ProviderError:
    """What ``call`` returns, or the ProviderError it raises (anything else propagates)."""
    try:
        return call()
    except ProviderError as exc:
        return exc


def put(record: Any, path: tuple[Any, ...], value: object) -> Any:
    """``record`` with ``value`` at ``path`` (the whole record for the empty path)."""
    if not path:
        return value
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return record


def answer(query: str = "q") -> dict[str, Any]:
    body = web_results(query).body
    assert isinstance(body, dict)
    return body


def error_body(code: str = "RATE_LIMITED", status: int = 429) -> dict[str, Any]:
    body = {"type": "ErrorResponse", "error": {"status": status, "code": code, "detail": "d"}}
    return {**body, "time": 1}


def decoded(headers: dict[str, str], content: bytes) -> SearchResults:
    return parse_results("q", decode_answer(NAME, headers, content), NAME)


def valid_wait(error: ProviderError) -> bool:
    return error.retry_after is None or 0 <= error.retry_after <= MAX_RETRY_AFTER


# --- 200 answers --------------------------------------------------------------------------------


@given(st.sampled_from(ANSWER_PATHS), JSON, HEADERS)
def test_any_json_in_any_field_of_an_answer_gives_results_or_a_provider_error(
    path: tuple[Any, ...], value: object, headers: dict[str, str]
) -> None:
    body = put(answer(), path, value)
    found = outcome(lambda: decoded(headers, json.dumps(body).encode()))
    error_object = isinstance(body, dict) and isinstance(body.get("error"), dict)
    if isinstance(found, ProviderError):
        assert found.provider == NAME
        assert valid_wait(found)
        if not error_object:
            assert type(found) is Unavailable  # only an error object maps to other classes
    else:
        assert isinstance(found, SearchResults)
        assert not error_object  # never an empty success
        assert all(isinstance(r.title, str) and isinstance(r.url, str) for r in found.results)


@given(st.binary(max_size=300), HEADERS)
def test_any_bytes_give_results_or_a_provider_error(
    content: bytes, headers: dict[str, str]
) -> None:
    found = outcome(lambda: decoded(headers, content))
    assert isinstance(found, SearchResults | ProviderError)
    if isinstance(found, ProviderError):
        assert valid_wait(found)


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_json_is_unavailable_not_a_recursion_error(depth: int) -> None:
    content = b'{"web": {"results": ' + b"[" * depth + b"]" * depth + b"}}"
    with pytest.raises(Unavailable, match="not"):
        decoded({}, content)


# --- the rate-limit headers ---------------------------------------------------------------------


@given(HEADERS)
def test_the_quota_report_of_any_headers_is_none_or_in_range(headers: dict[str, str]) -> None:
    report = quota_report_of(headers)
    if report is not None:
        assert 0 <= report.remaining <= MAX_COUNT
        assert report.reset_after is not None
        assert 0 <= report.reset_after <= MAX_RETRY_AFTER


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reset", "remaining", "report"),
    [
        ("1" + "0" * 400, "3", QuotaReport(3, MAX_RETRY_AFTER)),
        ("9" * 5000, "0", QuotaReport(0, MAX_RETRY_AFTER)),
        ("1, " + "9" * 5000, "2, 0", QuotaReport(0, MAX_RETRY_AFTER)),
        ("soon", "1", None),
    ],
    ids=["10^400", "5000-digits", "two-windows", "unreadable"],
)
async def test_a_huge_or_malformed_reset_never_fails_an_answer(
    reset: str, remaining: str, report: QuotaReport | None
) -> None:
    headers = {"X-RateLimit-Reset": reset, "X-RateLimit-Remaining": remaining}
    async with FakeBrave() as brave:
        brave.script(web_results("cats", headers=headers))
        provider = BraveSearchProvider(brave.token, base_url=brave.base_url)
        found = await provider.search("cats")
        await provider.aclose()
    assert len(found.results) == 2
    assert provider.quota_report() == report


# --- error answers ------------------------------------------------------------------------------


@given(
    st.integers(min_value=201, max_value=599),
    st.sampled_from(ERROR_PATHS),
    JSON,
    HEADERS,
)
def test_any_error_answer_gives_a_provider_error_with_a_valid_wait(
    status: int, path: tuple[Any, ...], value: object, headers: dict[str, str]
) -> None:
    content = json.dumps(put(error_body(), path, value)).encode()
    found = brave_error(NAME, status, headers, content)
    assert isinstance(found, ProviderError)
    assert found.status == status
    assert valid_wait(found)
    assert len(str(found)) < 800


@pytest.mark.parametrize("status", [429, 500])
def test_an_error_body_that_is_not_json_keeps_its_status_class(status: int) -> None:
    found = brave_error(NAME, status, {"Retry-After": "9" * 5000}, b"[" * 100_000)
    assert type(found) is (RateLimited if status == 429 else Unavailable)
    assert found.retry_after == (MAX_RETRY_AFTER if status == 429 else None)


# --- a 200 holding Brave's error object ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "cls", "status", "retry_after"),
    [
        (error_body("RATE_LIMITED", 429), RateLimited, 429, 60.0),
        (error_body("SUBSCRIPTION_TOKEN_INVALID", 422), Unauthorized, 422, None),
        (error_body("SOMETHING_NEW", 404), NotFound, 404, None),
        (error_body("SOMETHING_NEW", 503), Unavailable, 503, None),
        ({"type": "ErrorResponse", "error": {"status": 404}}, NotFound, 404, None),
        ({"type": "ErrorResponse", "error": {"status": "x"}}, Unavailable, 200, None),
        ({"type": "ErrorResponse"}, Unavailable, 200, None),
        ({"error": {"code": "QUOTA_LIMITED", "status": True}}, ProviderError, 200, 60.0),
    ],
    ids=["rate", "token", "unknown-404", "unknown-503", "no-code", "bad-status", "bare", "quota"],
)
def test_a_200_with_an_error_object_is_that_error(
    body: dict[str, Any], cls: type[ProviderError], status: int, retry_after: float | None
) -> None:
    headers = rate_limit_headers(remaining=(0, 100), reset=(60, 86400))
    with pytest.raises(ProviderError, match="HTTP 200 with an error object") as caught:
        decoded(headers, json.dumps(body).encode())
    expected = "QuotaExhausted" if cls is ProviderError else cls.__name__
    assert type(caught.value).__name__ == expected
    assert caught.value.status == status
    assert caught.value.retry_after == retry_after


@pytest.mark.asyncio
async def test_a_200_error_object_fails_over_instead_of_an_empty_search() -> None:
    async with FakeBrave() as brave:
        brave.script(Reply.json(error_body("RATE_LIMITED", 429), headers=rate_limit_headers()))
        provider = BraveSearchProvider(brave.token, base_url=brave.base_url)
        other = backup_provider()
        c, _ = coordinator(provider, other)
        result = await c.search("cats")
        await c.aclose()
    assert isinstance(result.attempts[0].error, RateLimited)
    assert result.provider == "backup"
    assert c.breaker(NAME).state is BreakerState.OPEN  # RATE_LIMITED, not a success


# --- bounded reads ------------------------------------------------------------------------------

LIMIT = 64 * 1024


def big_answer(size: int) -> bytes:
    result = web_result(1, "q")
    result["description"] = "x" * size
    return json.dumps({"type": "search", "web": {"results": [result]}}).encode()


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_answer_over_max_response_bytes_is_unavailable(chunked: bool) -> None:
    content = big_answer(4 * LIMIT)
    pieces = [content[i : i + 16384] for i in range(0, len(content), 16384)]
    reply = (
        Reply(200, {"content-type": "application/json"}, chunks=pieces, cut_after=8)
        if chunked
        else Reply(200, {"content-type": "application/json"}, content)
    )
    async with FakeBrave() as brave:
        brave.script(reply, Reply(200, {}, big_answer(LIMIT - 1024)))
        provider = BraveSearchProvider(
            brave.token, base_url=brave.base_url, max_response_bytes=LIMIT
        )
        with pytest.raises(Unavailable, match=rf"larger than {LIMIT} bytes \(max_response_bytes"):
            await provider.search("q")
        within = await provider.search("q")
        await provider.aclose()
    assert len(within.results[0].description) == LIMIT - 1024


@pytest.mark.asyncio
async def test_an_error_body_is_read_only_up_to_error_body_bytes() -> None:
    # The first chunk is longer than ERROR_BODY_BYTES, then the connection is cut: a reader
    # going on to the end would meet the cut (Unavailable), not the 503.
    head = b"<html>" + b"busy " * (ERROR_BODY_BYTES // 4)
    reply = Reply(503, {"content-type": "text/html"}, chunks=[head, b"more"], cut_after=1)
    async with FakeBrave() as brave:
        brave.script(reply)
        provider = BraveSearchProvider(brave.token, base_url=brave.base_url)
        with pytest.raises(Unavailable, match="HTTP 503 with a body that is not JSON") as caught:
            await provider.search("q")
        await provider.aclose()
    assert caught.value.status == 503


@pytest.mark.parametrize("value", [0, 1023, 2**31, True, 8.0])
def test_max_response_bytes_is_checked(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_response_bytes must be an int from 1024"):
        BraveSearchProvider("key", max_response_bytes=value)  # type: ignore[arg-type]


# --- secrets ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_echoed_request_headers_and_a_newline_key_never_show_the_key() -> None:
    echoed = f"X-Subscription-Token: {TOKEN}; x-subscription-token={TOKEN}"
    replies = [
        Reply.json({"type": "ErrorResponse", "error": {"code": "X", "detail": echoed}}, 500),
        Reply.json({"error": {"code": "VALIDATION", "meta": {"headers": [TOKEN]}}}, 200),
        Reply(502, {"content-type": "text/plain"}, ("x" * 110 + TOKEN).encode()),
        Reply(200, {"content-type": "text/plain"}, ("y" * 110 + TOKEN).encode()),
        Reply.json({"web": {"results": [{"title": TOKEN}]}}),
    ]
    async with FakeBrave() as brave:
        brave.script(*replies)
        provider = BraveSearchProvider(TOKEN + "\n", base_url=brave.base_url)
        texts = []
        for _ in replies:
            with pytest.raises(ProviderError) as caught:
                await provider.search("cats")
            texts += [str(caught.value), repr(caught.value)]
        assert (await provider.health_check()).healthy  # the stripped key is accepted
        await provider.aclose()
    assert brave.requests[0].headers["x-subscription-token"] == TOKEN
    assert "***" in texts[0]
    assert not [t for t in texts if TOKEN[:12] in t or TOKEN[-12:] in t]


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\r", "ü"])
def test_a_key_with_a_control_character_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="api_key holds") as caught:
        BraveSearchProvider(f"BSA-hidden{bad}value-98765")
    assert "hidden" not in str(caught.value)
    assert "98765" not in str(caught.value)
