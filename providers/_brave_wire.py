"""Brave Search's wire format, as pure functions: the request's parameters (validated before
anything is sent), the answer's results, and the X-RateLimit-* windows.

Nothing here does I/O; ``providers/brave.py`` sends the request and maps the errors.
"""

from __future__ import annotations

import datetime
import re
import reprlib
from collections.abc import Mapping
from typing import Final

import attrs

from failover import MAX_RETRY_AFTER
from failover.errors import BadRequest, Unavailable
from failover.provider import SearchResult, SearchResults
from failover.secrets import redact
from providers._http import parse_count

__all__ = [
    "FRESHNESS_PERIODS",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_WORDS",
    "OPTIONS",
    "SAFESEARCH",
    "RateLimitWindow",
    "binding_window",
    "parse_rate_limit_windows",
    "parse_results",
    "search_params",
]

MAX_QUERY_CHARS: Final = 400
MAX_QUERY_WORDS: Final = 50
SAFESEARCH: Final = ("off", "moderate", "strict")
FRESHNESS_PERIODS: Final = ("pd", "pw", "pm", "py")
OPTIONS: Final = ("count", "offset", "country", "search_lang", "safesearch", "freshness")
"""The keyword options ``BraveSearchProvider.search`` accepts."""

_COUNTRY = re.compile(r"[A-Za-z]{2}|ALL|all")
_LANGUAGE = re.compile(r"[A-Za-z]{2}(?:-[A-Za-z]{2,4})?")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})to(\d{4}-\d{2}-\d{2})")
_EXCERPT = 200
_SHORT = reprlib.Repr()  # bounded by depth and size, whatever the nesting of the answer
_SHORT.maxlevel = 4
_SHORT.maxstring = _SHORT.maxother = _EXCERPT


# --- the request --------------------------------------------------------------------------------


def _bad(provider: str, name: str, value: object, accepted: str) -> BadRequest:
    return BadRequest(
        f"Brave search option {name}={value!r} is not accepted: {accepted}; nothing was sent",
        provider=provider,
    )


def _query(query: object, provider: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise _bad(provider, "q", query, "a non-empty string")
    if len(query) > MAX_QUERY_CHARS:
        raise _bad(
            provider,
            "q",
            query[:40] + "...",
            f"at most {MAX_QUERY_CHARS} characters (got {len(query)})",
        )
    words = len(query.split())
    if words > MAX_QUERY_WORDS:
        raise _bad(
            provider, "q", query[:40] + "...", f"at most {MAX_QUERY_WORDS} words (got {words})"
        )
    return query


def _integer(provider: str, name: str, value: object, low: int, high: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(provider, name, value, f"an int from {low} to {high}")
    return str(value)


def _choice(provider: str, name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _bad(provider, name, value, "one of " + ", ".join(map(repr, choices)))
    assert isinstance(value, str)
    return value


def _pattern(provider: str, name: str, value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise _bad(provider, name, value, what)
    return value


def _date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def _freshness(provider: str, value: object) -> str:
    if value in FRESHNESS_PERIODS:
        assert isinstance(value, str)
        return value
    match = _RANGE.fullmatch(value) if isinstance(value, str) else None
    start, end = (_date(match.group(1)), _date(match.group(2))) if match else (None, None)
    if start is None or end is None or start > end:
        raise _bad(
            provider,
            "freshness",
            value,
            "one of 'pd', 'pw', 'pm', 'py' or a date range 'YYYY-MM-DDtoYYYY-MM-DD' whose "
            "start is not after its end",
        )
    return f"{start.isoformat()}to{end.isoformat()}"


def _option(provider: str, name: str, value: object) -> str:
    if name == "count":
        return _integer(provider, name, value, 1, 20)
    if name == "offset":
        return _integer(provider, name, value, 0, 9)
    if name == "country":
        what = "a 2-letter country code such as 'US', or 'ALL'"
        return _pattern(provider, name, value, _COUNTRY, what).upper()
    if name == "search_lang":
        what = "a language code such as 'en', 'de' or 'pt-br'"
        return _pattern(provider, name, value, _LANGUAGE, what).lower()
    if name == "safesearch":
        return _choice(provider, name, value, SAFESEARCH)
    return _freshness(provider, value)


def search_params(query: object, options: Mapping[str, object], provider: str) -> dict[str, str]:
    """The query string of a web search, every option checked.

    Args:
        query: The search terms (at most 400 characters and 50 words).
        options: Some of ``OPTIONS``; a None value means "Brave's default".
        provider: The provider's name, for the errors.

    Returns:
        The parameters to send, as strings.

    Raises:
        BadRequest: An option is unknown or its value is not accepted (the message names the
            option, its value and what is accepted).
    """
    params = {"q": _query(query, provider)}
    for name, value in options.items():
        if name not in OPTIONS:
            raise _bad(provider, name, value, "an unknown option; known: " + ", ".join(OPTIONS))
        if value is not None:
            params[name] = _option(provider, name, value)
    return params


# --- the answer ---------------------------------------------------------------------------------


def _garbage(provider: str, why: str, body: object) -> Unavailable:
    excerpt = redact(_SHORT.repr(body))[:_EXCERPT]
    return Unavailable(
        f"Brave answered 200 with a body that is not a web search result ({why}): {excerpt}",
        provider=provider,
        status=200,
    )


def _result(item: object, provider: str) -> SearchResult:
    if not isinstance(item, dict):
        raise _garbage(provider, "a result is not an object", item)
    title, url = item.get("title"), item.get("url")
    description, age = item.get("description", ""), item.get("age")
    if not (isinstance(title, str) and isinstance(url, str) and isinstance(description, str)):
        raise _garbage(provider, "a result lacks a string title, url or description", item)
    return SearchResult(title, url, description, age if isinstance(age, str) else None)


def parse_results(query: str, body: object, provider: str) -> SearchResults:
    """The web results of a decoded 200 answer (none when it has no ``web`` section).

    Raises:
        Unavailable: The body is not a web search answer (the message shows its start).
    """
    if not isinstance(body, dict):
        raise _garbage(provider, "not a JSON object", body)
    web = body.get("web")
    if web is None:
        return SearchResults(query, (), provider)
    results = web.get("results") if isinstance(web, dict) else None
    if not isinstance(results, list):
        raise _garbage(provider, "web.results is not a list", web)
    hits = tuple(_result(item, provider) for item in results)
    return SearchResults(query, hits, provider)  # type: ignore[arg-type]  # attrs converter=tuple


# --- the rate-limit headers ---------------------------------------------------------------------


@attrs.frozen
class RateLimitWindow:
    """One of the windows Brave reports in its X-RateLimit-* headers (per second, per month).

    Attributes:
        remaining: Requests left in the window (X-RateLimit-Remaining).
        reset: Seconds until the window's quota is whole again (X-RateLimit-Reset), at most
            MAX_RETRY_AFTER (a month's window is waited for a day at a time).
        limit: Requests the plan allows in the window (X-RateLimit-Limit), if given.
        window: The window's length in seconds (X-RateLimit-Policy ``w=``), if given.
    """

    remaining: int
    reset: int
    limit: int | None = None
    window: int | None = None


_MAX_RESET: Final = int(MAX_RETRY_AFTER)
_POLICY_WINDOW = re.compile(r";\s*w=([0-9]+)")


def _numbers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    counts = [parse_count(part) for part in text.split(",")]
    return None if None in counts else [n for n in counts if n is not None]


def _policy_windows(text: str | None) -> list[int] | None:
    if text is None:
        return None
    found = [_POLICY_WINDOW.search(part) for part in text.split(",")]
    counts = [None if m is None else parse_count(m.group(1)) for m in found]
    return None if None in counts else [n for n in counts if n is not None]


def _aligned(values: list[int] | None, count: int) -> list[int | None]:
    return list(values) if values is not None and len(values) == count else [None] * count


def parse_rate_limit_windows(headers: Mapping[str, str]) -> tuple[RateLimitWindow, ...]:
    """The windows of X-RateLimit-Remaining and X-RateLimit-Reset, in header order.

    Remaining and Reset must both be present with as many non-negative integers each,
    comma-separated (``"0, 14000"`` and ``"1, 1419704"``); otherwise nothing is known and the
    result is empty (a malformed header never fails an answer: nothing raises, whatever the
    text). Each reset is clamped to MAX_RETRY_AFTER (``1419704`` gives ``86400``), so that no
    header can keep the provider skipped for longer. Limit and Policy are attached when they
    have the same number of entries, else left None.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    remaining = _numbers(lowered.get("x-ratelimit-remaining"))
    reset = _numbers(lowered.get("x-ratelimit-reset"))
    if remaining is None or reset is None or len(remaining) != len(reset):
        return ()
    reset = [min(seconds, _MAX_RESET) for seconds in reset]
    count = len(remaining)
    limits = _aligned(_numbers(lowered.get("x-ratelimit-limit")), count)
    windows = _aligned(_policy_windows(lowered.get("x-ratelimit-policy")), count)
    return tuple(
        RateLimitWindow(r, s, lim, w)
        for r, s, lim, w in zip(remaining, reset, limits, windows, strict=True)
    )


def binding_window(windows: tuple[RateLimitWindow, ...]) -> RateLimitWindow | None:
    """The window that limits the provider: the fewest requests remaining, and among those the
    latest reset (None when there is no window).

    So when any window is exhausted (remaining 0) the binding one is the exhausted window that
    resets last: no request can succeed before every exhausted window has reset.
    """
    return min(windows, key=lambda w: (w.remaining, -w.reset), default=None)
