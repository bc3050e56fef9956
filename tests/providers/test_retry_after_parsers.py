"""Every parser of a wait the providers read (Retry-After in seconds and as an HTTP-date,
retry-after-ms, Gemini's retryDelay and "retry in N s", OpenAI's x-ratelimit-reset-*, Brave's
X-RateLimit-Reset) gives None or seconds in [0, MAX_RETRY_AFTER], on any text: digits of any
length, 10**400, digits of other scripts, garbage. None of them raises."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import MAX_RETRY_AFTER
from failover.errors import ProviderError, clamp_retry_after, parse_seconds
from providers import _gemini_wire as wire
from providers._brave_wire import parse_rate_limit_windows
from providers._http import MAX_COUNT, parse_count, parse_retry_after
from providers.brave import brave_error, quota_report_of
from providers.openai import _quota, _retry_after, parse_duration

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
HUGE = "1" + "0" * 400  # 10**400: a finite number far beyond a float
TRICKY = [
    HUGE,
    "9" * 5000,  # beyond int()'s 4300 digits
    "0" * 5000 + "7",
    "1e400",
    "1e-400",
    "1" + "0" * 12,
    "inf",
    "-inf",
    "Infinity",
    "nan",
    "NaN",
    "-5",
    "-0",
    "+7",
    ".5",
    "5.",
    "1_000",
    "\u0663\u0660",  # Arabic-Indic 30
    "\u00b2",  # superscript 2: isdigit() but not int()
    "\U0001d7d7",  # mathematical bold 9
    "\u0661, \u0662",
    "0x10",
    "Sat, 01 Mar 2025 12:00:30 GMT",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Mon, 01 Jan 0001 00:00:00 +0100",
    "Sat, 01 Mar 2025 12:00:30 +9999",
    "",
    " ",
]
decimals = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}{frac}{exp}",
    st.sampled_from(["", "+", "-"]),
    st.text("0123456789", min_size=1, max_size=600),
    st.sampled_from(["", ".", ".5", ".000340"]),
    st.sampled_from(["", "e3", "E-2", "e400", "e-400"]),
)
texts = st.one_of(
    st.text(),
    st.sampled_from(TRICKY),
    decimals,
    st.text("0123456789", min_size=1, max_size=6000),
    st.integers(-(10**500), 10**500).map(str),
    st.floats().map(repr),
    st.text("0123456789.,;=smh- \u0663\u00b2", max_size=40),
)


def wire_headers(headers: dict[str, str]) -> httpx.Headers:
    """Headers as they come off the wire: bytes, any of them (httpx decodes them)."""
    return httpx.Headers(
        {k.encode(): v.encode("utf-8", "surrogatepass") for k, v in headers.items()}
    )


def in_range(seconds: float | None) -> bool:
    return seconds is None or (
        isinstance(seconds, float) and math.isfinite(seconds) and 0.0 <= seconds <= MAX_RETRY_AFTER
    )


# --- the shared primitives ------------------------------------------------------------------------


@given(texts, st.sampled_from([1.0, 0.001, 60.0, 3600.0]))
def test_parse_seconds_is_none_or_in_range(text: str, unit: float) -> None:
    assert in_range(parse_seconds(text, unit))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30.0),
        (" 2.5 ", 2.5),
        ("1e3", 1000.0),
        ("-3", 0.0),
        (HUGE, MAX_RETRY_AFTER),
        ("9" * 5000, MAX_RETRY_AFTER),
        ("1e400", MAX_RETRY_AFTER),
        ("inf", None),
        ("nan", None),
        ("\u0663\u0660", None),
        ("soon", None),
    ],
)
def test_parse_seconds(text: str, seconds: float | None) -> None:
    assert parse_seconds(text) == seconds


@given(st.floats())
def test_clamp_retry_after_is_in_range(value: float) -> None:
    clamped = clamp_retry_after(value)
    assert in_range(clamped)
    if 0.0 <= value <= MAX_RETRY_AFTER:
        assert clamped == value


@given(texts)
def test_parse_count_is_none_or_a_bounded_count(text: str) -> None:
    count = parse_count(text)
    assert count is None or 0 <= count <= MAX_COUNT
    if count is not None and text.strip().isascii() and len(text.strip()) < 18:
        assert count == int(text)


# --- Retry-After and retry-after-ms ---------------------------------------------------------------


@given(texts)
def test_retry_after_is_none_or_in_range(text: str) -> None:
    assert in_range(parse_retry_after(text, NOW))
    assert in_range(parse_retry_after(text))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (HUGE, MAX_RETRY_AFTER),
        ("1" + "0" * 12, MAX_RETRY_AFTER),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),  # a date far ahead
        ("Sat, 01 Mar 2025 12:00:30 +9999", None),  # no such offset
    ],
)
def test_a_retry_after_beyond_the_cap_is_the_cap(text: str, seconds: float | None) -> None:
    assert parse_retry_after(text, NOW) == seconds


@given(st.one_of(st.none(), texts), st.one_of(st.none(), texts))
def test_openai_retry_after_headers_are_none_or_in_range(
    millis: str | None, header: str | None
) -> None:
    headers = {k: v for k, v in (("retry-after-ms", millis), ("retry-after", header)) if v}
    assert in_range(_retry_after(wire_headers(headers)))


def test_retry_after_ms_is_clamped_after_its_unit() -> None:
    assert _retry_after(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert _retry_after(httpx.Headers({"retry-after-ms": "1" + "0" * 12})) == MAX_RETRY_AFTER
    assert _retry_after(httpx.Headers({"retry-after-ms": "soon", "retry-after": "7"})) == 7.0


# --- Gemini: retryDelay and "retry in N s" --------------------------------------------------------


@given(st.one_of(texts, st.builds(lambda t: t + "s", texts)))
def test_parse_delay_is_none_or_in_range(text: str) -> None:
    assert in_range(wire.parse_delay(text))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(HUGE + "s", MAX_RETRY_AFTER), ("-1.5s", 0.0), ("\u0663\u0660s", None), ("infs", None)],
)
def test_parse_delay_clamps(text: str, seconds: float | None) -> None:
    assert wire.parse_delay(text) == seconds


def gemini_429(delay: object, message: str) -> bytes:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
    error = {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": message, "details": [retry]}
    return json.dumps({"error": error}).encode()


@given(texts, st.sampled_from(["s", "ms", " seconds", ""]), st.one_of(st.none(), texts))
def test_any_gemini_429_waits_in_range(text: str, unit: str, header: str | None) -> None:
    for body in (gemini_429(text, "quota"), gemini_429(None, f"Please retry in {text}{unit}.")):
        error = wire.error_for(429, body, provider="g", retry_after=parse_retry_after(header))
        assert isinstance(error, ProviderError)
        assert in_range(error.retry_after)


def test_a_message_delay_of_400_digits_is_the_cap() -> None:
    error = wire.error_for(429, gemini_429(None, f"Please retry in {HUGE}ms."), provider="g")
    assert error.retry_after == MAX_RETRY_AFTER


# --- OpenAI: x-ratelimit-reset-* ------------------------------------------------------------------


@given(texts)
def test_parse_duration_is_none_or_in_range(text: str) -> None:
    assert in_range(parse_duration(text))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (HUGE + "h", MAX_RETRY_AFTER),
        ("1" + "0" * 12 + "ms", MAX_RETRY_AFTER),
        ("25h", MAX_RETRY_AFTER),
        ("inf", None),
        ("\u0663s", None),
    ],
)
def test_parse_duration_clamps(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


@given(st.dictionaries(st.sampled_from(["remaining", "reset"]), texts))
def test_openai_quota_headers_never_raise(parts: dict[str, str]) -> None:
    headers = wire_headers({f"x-ratelimit-{k}-requests": v for k, v in parts.items()})
    report = _quota(headers)
    assert report is None or (0 <= report.remaining <= MAX_COUNT and in_range(report.reset_after))


# --- Brave: X-RateLimit-* -------------------------------------------------------------------------

BRAVE_HEADERS = ["X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Limit", "Retry-After"]


@given(st.dictionaries(st.sampled_from(BRAVE_HEADERS), texts))
def test_brave_headers_never_raise_and_every_reset_is_in_range(headers: dict[str, str]) -> None:
    for window in parse_rate_limit_windows(headers):
        assert 0 <= window.reset <= MAX_RETRY_AFTER
    report = quota_report_of(headers)
    assert report is None or in_range(report.reset_after)
    body = json.dumps({"error": {"code": "QUOTA_LIMITED", "detail": "quota"}}).encode()
    error = brave_error("brave", 429, headers, body)
    assert in_range(error.retry_after)


def test_a_brave_reset_of_5000_digits_is_the_cap() -> None:
    headers = {"X-RateLimit-Remaining": "0, 0", "X-RateLimit-Reset": "1, " + "9" * 5000}
    report = quota_report_of(headers)
    assert report is not None
    assert (report.remaining, report.reset_after) == (0, MAX_RETRY_AFTER)
