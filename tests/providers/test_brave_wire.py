"""Brave's wire format as pure functions: parameters checked before sending, results parsed,
the X-RateLimit-* windows read and the binding window chosen, errors mapped by error.code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import MAX_RETRY_AFTER
from failover.errors import (
    BadRequest,
    NotFound,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.provider import QuotaReport, SearchResult
from providers._brave_wire import (
    RateLimitWindow,
    binding_window,
    parse_rate_limit_windows,
    parse_results,
    search_params,
)
from providers.brave import brave_error, quota_report_of
from providers.testing.brave import rate_limit_headers, web_result

DAY = int(MAX_RETRY_AFTER)

# --- parameters ---------------------------------------------------------------------------------


def test_every_option_is_sent_as_brave_spells_it() -> None:
    params = search_params(
        "rust web frameworks",
        {
            "count": 5,
            "offset": 9,
            "country": "de",
            "search_lang": "PT-BR",
            "safesearch": "strict",
            "freshness": "2024-01-01to2024-06-30",
        },
        "brave",
    )
    assert params == {
        "q": "rust web frameworks",
        "count": "5",
        "offset": "9",
        "country": "DE",
        "search_lang": "pt-br",
        "safesearch": "strict",
        "freshness": "2024-01-01to2024-06-30",
    }


def test_none_leaves_brave_s_default() -> None:
    assert search_params("q", {"count": None, "country": None}, "brave") == {"q": "q"}


@pytest.mark.parametrize("period", ["pd", "pw", "pm", "py"])
def test_freshness_periods_are_accepted(period: str) -> None:
    assert search_params("q", {"freshness": period}, "b")["freshness"] == period


BAD_OPTIONS = [
    ("count", 0, "an int from 1 to 20"),
    ("count", 21, "an int from 1 to 20"),
    ("count", True, "an int from 1 to 20"),
    ("count", "5", "an int from 1 to 20"),
    ("offset", -1, "an int from 0 to 9"),
    ("offset", 10, "an int from 0 to 9"),
    ("country", "USA", "2-letter country code"),
    ("country", 1, "2-letter country code"),
    ("search_lang", "english", "language code"),
    ("safesearch", "on", "'off', 'moderate', 'strict'"),
    ("safesearch", "OFF", "'off', 'moderate', 'strict'"),
    ("freshness", "pq", "YYYY-MM-DDtoYYYY-MM-DD"),
    ("freshness", "2024-02-30to2024-03-01", "YYYY-MM-DDtoYYYY-MM-DD"),
    ("freshness", "2024-06-01to2024-01-01", "not after its end"),
    ("freshness", "2024-1-1to2024-2-1", "YYYY-MM-DDtoYYYY-MM-DD"),
    ("units", "metric", "unknown option; known: count, offset"),
]


@pytest.mark.parametrize(("name", "value", "accepted"), BAD_OPTIONS)
def test_a_bad_option_is_a_bad_request_naming_it_its_value_and_what_is_accepted(
    name: str, value: object, accepted: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        search_params("q", {name: value}, "brave")
    message = str(caught.value)
    assert f"{name}={value!r}" in message
    assert accepted in message
    assert "nothing was sent" in message
    assert caught.value.provider == "brave"


@pytest.mark.parametrize("query", ["", "   ", None, 3])
def test_an_empty_or_non_string_query_is_rejected(query: object) -> None:
    with pytest.raises(BadRequest, match=r"q=.*a non-empty string"):
        search_params(query, {}, "brave")


def test_the_query_may_have_400_characters_and_50_words_but_no_more() -> None:
    assert search_params("x" * 400, {}, "b")["q"] == "x" * 400
    assert search_params(" ".join(["w"] * 50), {}, "b")
    with pytest.raises(BadRequest, match=r"at most 400 characters \(got 401\)"):
        search_params("x" * 401, {}, "b")
    with pytest.raises(BadRequest, match=r"at most 50 words \(got 51\)"):
        search_params(" ".join(["w"] * 51), {}, "b")


@given(st.text(max_size=450))
def test_a_query_is_accepted_exactly_when_brave_would_accept_it(query: str) -> None:
    fits = bool(query.strip()) and len(query) <= 400 and len(query.split()) <= 50
    try:
        assert search_params(query, {}, "b") == {"q": query}
        assert fits
    except BadRequest:
        assert not fits


# --- results ------------------------------------------------------------------------------------


def test_web_results_become_search_results() -> None:
    body = {"type": "search", "web": {"results": [web_result(1, "cats"), web_result(2, "cats")]}}
    found = parse_results("cats", body, "brave")
    assert found.query == "cats"
    assert found.provider == "brave"
    assert found.results[0] == SearchResult(
        "Result 1 for cats",
        "https://example.com/1",
        "About <strong>cats</strong>, part 1.",
        "2 days ago",
    )
    assert len(found.results) == 2


def test_an_answer_without_web_results_has_no_hits() -> None:
    assert parse_results("q", {"type": "search", "query": {}}, "b").results == ()


def test_a_result_without_description_or_age_keeps_the_defaults() -> None:
    body = {"web": {"results": [{"title": "t", "url": "https://u"}]}}
    assert parse_results("q", body, "b").results == (SearchResult("t", "https://u", "", None),)


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        "search",
        {"web": []},
        {"web": {"results": {"a": 1}}},
        {"web": {"results": [3]}},
        {"web": {"results": [{"title": "t"}]}},
        {"web": {"results": [{"title": "t", "url": "u", "description": 5}]}},
    ],
)
def test_a_body_that_is_not_a_web_answer_is_unavailable(body: object) -> None:
    with pytest.raises(Unavailable, match="not a web search result") as caught:
        parse_results("q", body, "b")
    assert caught.value.status == 200


# --- rate-limit windows -------------------------------------------------------------------------


def test_brave_s_documented_example_gives_two_windows() -> None:
    headers = {
        "X-RateLimit-Limit": "1, 15000",
        "X-RateLimit-Policy": "1;w=1, 15000;w=2592000",
        "X-RateLimit-Remaining": "1, 1000",
        "X-RateLimit-Reset": "1, 1419704",
    }
    assert parse_rate_limit_windows(headers) == (
        RateLimitWindow(remaining=1, reset=1, limit=1, window=1),
        RateLimitWindow(remaining=1000, reset=86400, limit=15000, window=2592000),  # clamped
    )
    assert quota_report_of(headers) == QuotaReport(remaining=1, reset_after=1.0)


def test_an_exhausted_second_gives_remaining_zero_until_its_reset() -> None:
    headers = rate_limit_headers(remaining=(0, 14000), reset=(1, 1419704))
    assert quota_report_of(headers) == QuotaReport(0, 1.0)


def test_when_both_windows_are_exhausted_the_later_reset_wins() -> None:
    headers = rate_limit_headers(remaining=(0, 0), reset=(1, 86400))
    assert quota_report_of(headers) == QuotaReport(0, 86400.0)


def test_an_exhausted_month_wins_over_a_fresh_second() -> None:
    headers = rate_limit_headers(remaining=(20, 0), reset=(1, 3600))
    assert quota_report_of(headers) == QuotaReport(0, 3600.0)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-RateLimit-Remaining": "0, 10"},
        {"X-RateLimit-Reset": "1, 10"},
        {"X-RateLimit-Remaining": "0, 10", "X-RateLimit-Reset": "1"},
        {"X-RateLimit-Remaining": "0, ten", "X-RateLimit-Reset": "1, 10"},
        {"X-RateLimit-Remaining": "-1, 10", "X-RateLimit-Reset": "1, 10"},
        {"X-RateLimit-Remaining": "0.5", "X-RateLimit-Reset": "1"},
        {"X-RateLimit-Remaining": "", "X-RateLimit-Reset": ""},
        {"X-RateLimit-Remaining": "\u0661", "X-RateLimit-Reset": "1"},
    ],
)
def test_missing_or_malformed_headers_mean_unknown(headers: dict[str, str]) -> None:
    assert parse_rate_limit_windows(headers) == ()
    assert quota_report_of(headers) is None


def test_header_names_are_case_insensitive_and_limit_and_policy_are_optional() -> None:
    headers = {"x-ratelimit-remaining": "3", "X-RATELIMIT-RESET": "7", "X-RateLimit-Limit": "1, 2"}
    assert parse_rate_limit_windows(headers) == (RateLimitWindow(3, 7, None, None),)


windows = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**7)), min_size=1, max_size=4)


@given(windows, st.sampled_from([", ", ",", " , "]))
def test_the_parser_reads_back_what_brave_writes(
    pairs: list[tuple[int, int]], separator: str
) -> None:
    headers = {
        "X-RateLimit-Remaining": separator.join(str(r) for r, _ in pairs),
        "X-RateLimit-Reset": separator.join(str(s) for _, s in pairs),
    }
    parsed = parse_rate_limit_windows(headers)
    assert [(w.remaining, w.reset) for w in parsed] == [(r, min(s, DAY)) for r, s in pairs]


@given(windows)
def test_the_report_is_the_fewest_remaining_and_then_the_latest_reset(
    pairs: list[tuple[int, int]],
) -> None:
    remaining, reset = zip(*pairs, strict=True)
    limit = [r + 1 for r in remaining]
    report = quota_report_of(rate_limit_headers(remaining, reset, limit, reset))
    assert report is not None
    fewest = min(r for r, _ in pairs)
    assert report.remaining == fewest
    assert report.reset_after == min(DAY, max(s for r, s in pairs if r == fewest))
    exhausted = [s for r, s in pairs if r == 0]
    if exhausted:  # skipped until every exhausted window has reset (or for a day at most)
        assert report.reset_after == min(DAY, max(exhausted))


@given(st.dictionaries(st.sampled_from(["X-RateLimit-Remaining", "X-RateLimit-Reset"]), st.text()))
def test_the_parser_never_raises(headers: dict[str, str]) -> None:
    report = quota_report_of(headers)
    assert report is None or report.remaining >= 0


def test_no_window_binds_nothing() -> None:
    assert binding_window(()) is None


# --- errors -------------------------------------------------------------------------------------


def error_body(code: str, status: int, **meta: Any) -> bytes:
    error = {"id": "x", "status": status, "code": code, "detail": f"{code} detail", "meta": meta}
    return json.dumps({"type": "ErrorResponse", "error": error, "time": 1}).encode()


CODED = [
    ("RATE_LIMITED", 429, RateLimited),
    ("QUOTA_LIMITED", 429, QuotaExhausted),
    ("SUBSCRIPTION_TOKEN_INVALID", 422, Unauthorized),
    ("OPTION_NOT_IN_PLAN", 400, Unauthorized),
    ("VALIDATION", 422, BadRequest),
]


@pytest.mark.parametrize(("code", "status", "cls"), CODED)
def test_errors_are_mapped_by_their_code(code: str, status: int, cls: type[ProviderError]) -> None:
    error = brave_error("brave", status, {}, error_body(code, status))
    assert type(error) is cls
    assert error.status == status
    assert error.provider == "brave"
    assert f"HTTP {status} {code}: {code} detail" in str(error)


def test_the_code_decides_not_the_status() -> None:
    assert type(brave_error("b", 422, {}, error_body("RATE_LIMITED", 422))) is RateLimited
    assert type(brave_error("b", 500, {}, error_body("VALIDATION", 500))) is BadRequest


def test_the_errors_list_shape_of_brave_s_reference_is_read_too() -> None:
    body = {"type": "ErrorResponse", "errors": [{"code": "QUOTA_LIMITED", "detail": "quota"}]}
    error = brave_error("b", 429, {}, json.dumps(body).encode())
    assert type(error) is QuotaExhausted


def test_rate_limited_waits_for_the_exhausted_window() -> None:
    headers = rate_limit_headers(remaining=(0, 900), reset=(1, 9000))
    error = brave_error("b", 429, {**headers, "Retry-After": "5"}, error_body("RATE_LIMITED", 429))
    assert error.retry_after == 1.0
    assert "(retry after 1 s)" in str(error)


def test_rate_limited_without_an_exhausted_window_uses_retry_after() -> None:
    headers = {**rate_limit_headers(remaining=(3, 900)), "Retry-After": "7"}
    assert brave_error("b", 429, headers, error_body("RATE_LIMITED", 429)).retry_after == 7.0
    assert brave_error("b", 429, {}, error_body("RATE_LIMITED", 429)).retry_after is None


def test_quota_limited_waits_for_the_month_even_when_no_window_says_zero() -> None:
    headers = rate_limit_headers(remaining=(3, 1), reset=(1, 86400))
    assert brave_error("b", 429, headers, error_body("QUOTA_LIMITED", 429)).retry_after == 86400
    exhausted = rate_limit_headers(remaining=(3, 0), reset=(1, 500))
    assert brave_error("b", 429, exhausted, error_body("QUOTA_LIMITED", 429)).retry_after == 500


def test_validation_shows_brave_s_meta() -> None:
    body = error_body("VALIDATION", 422, errors=[{"loc": ["query", "count"], "msg": "too big"}])
    assert "too big" in str(brave_error("b", 422, {}, body))


def test_an_unknown_code_falls_back_to_the_status() -> None:
    assert type(brave_error("b", 503, {}, error_body("INTERNAL", 503))) is Unavailable
    assert type(brave_error("b", 404, {}, error_body("NOT_FOUND", 404))) is NotFound


def test_json_without_a_code_falls_back_to_the_status() -> None:
    error = brave_error("b", 500, {}, b'{"message": "oops"}')
    assert type(error) is Unavailable
    assert error.status == 500


def test_an_html_page_is_unavailable_with_its_first_bytes_whatever_the_status() -> None:
    page = b"<html><body><h1>403 Forbidden</h1>" + b"x" * 500 + b"</body></html>"
    error = brave_error("b", 403, {}, page)
    assert type(error) is Unavailable
    assert error.status == 403
    assert "not JSON: '<html><body><h1>403 Forbidden</h1>" in str(error)
    assert len(str(error)) < 300


def test_an_html_429_is_still_rate_limited() -> None:
    error = brave_error("b", 429, {"Retry-After": "3"}, b"<html>slow down</html>")
    assert type(error) is RateLimited
    assert error.retry_after == 3.0
