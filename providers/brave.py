"""Brave Search: ``BraveSearchProvider``, a SearchProvider over Brave's Web Search REST API.

One attempt per call: ``GET {base_url}/res/v1/web/search`` with the key in the
X-Subscription-Token header (never in a URL). Every option is checked before anything is sent.
Every answer's X-RateLimit-Remaining / X-RateLimit-Reset windows become the provider's
``quota_report()``, which the coordinator reads after each attempt, so that a window with
nothing left skips the provider until it resets, without a request. Every reset and Retry-After
is clamped to [0, MAX_RETRY_AFTER] (one day), and no header value makes the parsers raise.

Errors, by Brave's ``error.code`` first, then by status:

=============================  ================================================================
RATE_LIMITED (429)             RateLimited; retry_after = the exhausted window's reset, else
                               Retry-After
QUOTA_LIMITED (429)            QuotaExhausted; retry_after likewise (else the longest window's
                               reset)
SUBSCRIPTION_TOKEN_INVALID     Unauthorized (Brave answers a bad key with 422, not 401)
OPTION_NOT_IN_PLAN             Unauthorized: the key is valid but its plan does not cover the
                               request; the breaker opens at once (AUTH_FAILED) and the request
                               fails over
VALIDATION (422)               BadRequest (the request ends: it would fail anywhere)
another code, or none          the generic status mapping (5xx Unavailable, ...)
a body that is not JSON        Unavailable with its first bytes (an HTML page from a proxy);
                               a 429 stays RateLimited
connection errors, timeouts    ``providers._http.map_httpx_errors``
=============================  ================================================================
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Final

import httpx

from failover.errors import (
    BadRequest,
    ConfigurationError,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.provider import HealthCheckResult, QuotaReport, SearchResults
from providers._brave_wire import (
    RateLimitWindow,
    binding_window,
    parse_rate_limit_windows,
    parse_results,
    search_params,
)
from providers._http import (
    BaseHTTPProvider,
    body_excerpt,
    error_for_status,
    map_httpx_errors,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "SEARCH_PATH",
    "BraveSearchProvider",
    "brave_error",
    "quota_report_of",
]

DEFAULT_BASE_URL: Final = "https://api.search.brave.com"
SEARCH_PATH: Final = "/res/v1/web/search"
_CODES: Final[Mapping[str, type[ProviderError]]] = {
    "RATE_LIMITED": RateLimited,
    "QUOTA_LIMITED": QuotaExhausted,
    "SUBSCRIPTION_TOKEN_INVALID": Unauthorized,
    "OPTION_NOT_IN_PLAN": Unauthorized,
    "VALIDATION": BadRequest,
}
_DETAIL = 300
_NOT_JSON: Final = object()


def quota_report_of(headers: Mapping[str, str]) -> QuotaReport | None:
    """The QuotaReport of an answer's X-RateLimit-* headers (None when they are missing or
    malformed): the binding window's remaining and reset (see ``binding_window``)."""
    window = binding_window(parse_rate_limit_windows(headers))
    return None if window is None else QuotaReport(window.remaining, float(window.reset))


# --- errors -------------------------------------------------------------------------------------


def _decode(content: bytes) -> object:
    """The decoded JSON body, or _NOT_JSON."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def _error_object(body: object) -> Mapping[str, object] | None:
    """Brave's error object: ``{"error": {...}}`` (or the first of ``{"errors": [...]}``)."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    errors = body.get("errors")
    if error is None and isinstance(errors, list) and errors:
        error = errors[0]
    return error if isinstance(error, dict) and isinstance(error.get("code"), str) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name."""
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _wait(
    code: str | None, windows: tuple[RateLimitWindow, ...], headers: Mapping[str, str]
) -> float | None:
    """Seconds to leave Brave alone after a 429: the exhausted window's reset, else
    Retry-After, else (QUOTA_LIMITED) the longest window's reset."""
    window = binding_window(windows)
    if window is not None and window.remaining == 0:
        return float(window.reset)
    retry_after = parse_retry_after(_header(headers, "retry-after"))
    if retry_after is None and code == "QUOTA_LIMITED" and windows:
        return float(max(w.reset for w in windows))
    return retry_after


def _coded(
    provider: str, status: int, error: Mapping[str, object], retry_after: float | None
) -> ProviderError:
    code = str(error["code"])
    detail = " ".join(str(error.get("detail", "")).split())
    meta = error.get("meta")
    if code == "VALIDATION" and meta:
        detail += f" {json.dumps(meta, sort_keys=True)}"
    if len(detail) > _DETAIL:
        detail = detail[:_DETAIL] + "..."
    message = f"provider {provider!r}: Brave answered HTTP {status} {code}: {detail}"
    if retry_after is not None:
        message += f" (retry after {retry_after:g} s)"
    cls = _CODES.get(code)
    if cls is None:
        return error_for_status(provider, status, f"{code}: {detail}", retry_after)
    return cls(message, provider=provider, retry_after=retry_after, status=status)


def brave_error(
    provider: str, status: int, headers: Mapping[str, str], content: bytes
) -> ProviderError:
    """The library's error for one of Brave's error answers (see the module docstring).

    Args:
        provider: The provider's name.
        status: The HTTP status (not 200).
        headers: The answer's headers (X-RateLimit-*, Retry-After).
        content: The raw body.
    """
    body = _decode(content)
    error = _error_object(body)
    code = None if error is None else str(error["code"])
    retry_after = None
    if status == 429 or code in ("RATE_LIMITED", "QUOTA_LIMITED"):
        retry_after = _wait(code, parse_rate_limit_windows(headers), headers)
    if error is not None:
        return _coded(provider, status, error, retry_after)
    if status == 429 or body is not _NOT_JSON:
        text = content[:_DETAIL].decode("utf-8", errors="replace")
        return error_for_status(provider, status, text, retry_after)
    return Unavailable(
        f"provider {provider!r}: Brave answered HTTP {status} with a body that is not JSON: "
        f"{body_excerpt(content)}",
        provider=provider,
        status=status,
    )


# --- the provider -------------------------------------------------------------------------------


class BraveSearchProvider(BaseHTTPProvider):
    """A SearchProvider over Brave's Web Search API (and a ReportsQuota).

    Args:
        api_key: The subscription token (sent as X-Subscription-Token; never logged or shown).
        name: The provider's name.
        base_url: The API's root (a fake server's URL in tests).
        client: An httpx.AsyncClient to use (not closed by ``aclose``); by default the provider
            builds and owns a pooled one.
        timeout: Seconds for connect, read, write and pool of the provider's own client.
        health_query: What ``health_check`` searches for (one result; it counts against the
            quota: Brave has no free health endpoint).

    Raises:
        ConfigurationError: An empty key, a bad timeout, or a health_query Brave would reject.
    """

    def __init__(
        self,
        api_key: str,
        *,
        name: str = "brave",
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        health_query: str = "brave search",
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError(
                "BraveSearchProvider needs api_key, the subscription token of the Brave Search "
                f"API (a non-empty str), got a {type(api_key).__name__} that is empty or blank"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigurationError(
                f"BraveSearchProvider timeout must be a number of seconds > 0, got {timeout!r}"
            )
        try:
            search_params(health_query, {}, name)
        except BadRequest as exc:
            raise ConfigurationError(f"health_query: {exc}") from None
        headers = {"X-Subscription-Token": api_key, "Accept": "application/json"}
        super().__init__(name, base_url=base_url, headers=headers, timeout=timeout, client=client)
        self.health_query = health_query
        self._quota: QuotaReport | None = None

    def quota_report(self) -> QuotaReport | None:
        """The quota Brave's most recent answer reported (None when unknown: before any
        answer, after a connection failure, or when the headers were missing)."""
        return self._quota

    async def search(self, query: str, **options: object) -> SearchResults:
        """One web search.

        Args:
            query: The search terms: at most 400 characters and 50 words.
            **options: ``count`` (1-20), ``offset`` (0-9), ``country`` ("US", "ALL"),
                ``search_lang`` ("en", "pt-br"), ``safesearch`` ("off", "moderate",
                "strict"), ``freshness`` ("pd", "pw", "pm", "py" or
                "2024-01-01to2024-06-30"); None leaves Brave's default.

        Raises:
            BadRequest: An option Brave would reject (nothing is sent), or Brave's VALIDATION.
            RateLimited, QuotaExhausted, Unauthorized, Unavailable, ProviderTimeout: see the
                module docstring.
        """
        params = search_params(query, options, self.name)
        body = await self._get(params)
        return parse_results(query, body, self.name)

    async def _get(self, params: Mapping[str, str]) -> object:
        self._quota = None
        with map_httpx_errors(self.name):
            response = await self.client.get(
                self.url(SEARCH_PATH), params=params, headers=self.headers
            )
        self._quota = quota_report_of(response.headers)
        if response.status_code != 200:
            error = brave_error(self.name, response.status_code, response.headers, response.content)
            raise self._scrubbed(error)
        body = _decode(response.content)
        if body is _NOT_JSON:
            raise Unavailable(
                f"provider {self.name!r}: Brave answered HTTP 200 with a body that is not JSON: "
                f"{body_excerpt(response.content)}",
                provider=self.name,
                status=200,
            )
        return body

    def _scrubbed(self, error: ProviderError) -> ProviderError:
        """``error`` with the key masked, should Brave ever echo it in an error body."""
        key = self.headers["X-Subscription-Token"]
        if key in str(error):
            error.args = (str(error).replace(key, "***"),)
        return error

    async def health_check(self) -> HealthCheckResult:
        """Search ``health_query`` for one result: healthy when Brave answers it.

        Brave has no free health endpoint, so each check is one (billed) request. A per-second
        RateLimited counts as healthy (Brave answered, the key works); any other provider
        error is unhealthy, its ``error`` naming the error class and HTTP status only.
        """
        started = time.perf_counter()
        error: str | None = None
        try:
            await self.search(self.health_query, count=1)
        except RateLimited:
            pass
        except ProviderError as exc:
            error = type(exc).__name__ + ("" if exc.status is None else f" (HTTP {exc.status})")
        latency = time.perf_counter() - started
        return HealthCheckResult(self.name, error is None, latency, 0.0, error)
