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
200 with Brave's error object  an error, not an empty search: by its code as above, else by
                               its ``status`` (400-599), else Unavailable
200 not a web search answer    Unavailable naming what is wrong (web.results not a list, a
                               result without a string title, url or description)
a body over max_response_bytes Unavailable naming max_response_bytes (read no further); an
                               error status's body is read up to 64 KiB only
connection errors, timeouts    ``providers._http.map_httpx_errors``
=============================  ================================================================

The decoders are in ``providers._brave_wire`` (the request, results and rate-limit windows) and
``providers._brave_errors`` (errors and bodies); every text they take from an answer goes
through ``failover.secrets.redact``. The key is checked with ``check_secret`` when the provider
is built.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

import httpx

from failover.errors import BadRequest, ConfigurationError, ProviderError, RateLimited
from failover.provider import HealthCheckResult, QuotaReport, SearchResults
from failover.secrets import check_secret, redact
from providers._brave_errors import brave_error, decode_answer, quota_report_of
from providers._brave_wire import parse_results, search_params
from providers._http import BaseHTTPProvider, map_httpx_errors
from providers._reading import (
    DEFAULT_MAX_RESPONSE_BYTES,
    check_max_response_bytes,
    read_body,
    read_error_body,
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


# --- the provider -------------------------------------------------------------------------------


class BraveSearchProvider(BaseHTTPProvider):
    """A SearchProvider over Brave's Web Search API (and a ReportsQuota).

    Args:
        api_key: The subscription token (sent as X-Subscription-Token; never logged or shown);
            surrounding whitespace is stripped (a key read from a file ends with a newline).
        name: The provider's name.
        base_url: The API's root (a fake server's URL in tests).
        client: An httpx.AsyncClient to use (not closed by ``aclose``); by default the provider
            builds and owns a pooled one.
        timeout: Seconds for connect, read, write and pool of the provider's own client.
        health_query: What ``health_check`` searches for (one result; it counts against the
            quota: Brave has no free health endpoint).
        max_response_bytes: The most bytes of one answer read (1 KiB to 1 GiB); a larger
            answer is Unavailable.

    Raises:
        ConfigurationError: An empty key or one with a control character (never shown), a bad
            timeout or max_response_bytes, or a health_query Brave would reject.
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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
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
        key = check_secret(api_key, "BraveSearchProvider's api_key")
        headers = {"X-Subscription-Token": key, "Accept": "application/json"}
        super().__init__(name, base_url=base_url, headers=headers, timeout=timeout, client=client)
        self.max_response_bytes = check_max_response_bytes(max_response_bytes, name)
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
            async with self.client.stream(
                "GET", self.url(SEARCH_PATH), params=params, headers=self.headers
            ) as response:
                status = response.status_code
                if status != 200:
                    content = await read_error_body(response)
                else:
                    content = await read_body(response, self.name, self.max_response_bytes)
        self._quota = quota_report_of(response.headers)  # an answer read whole, error or not
        if status != 200:
            raise brave_error(self.name, status, response.headers, content)
        return decode_answer(self.name, response.headers, content)

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
            shown = type(exc).__name__ + ("" if exc.status is None else f" (HTTP {exc.status})")
            error = redact(shown)
        latency = time.perf_counter() - started
        return HealthCheckResult(self.name, error is None, latency, 0.0, error)
