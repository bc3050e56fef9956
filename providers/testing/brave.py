"""A fake Brave Search API on a FakeServer: Brave's wire format, scriptable per test.

It serves ``GET /res/v1/web/search`` as Brave does: a request without the right
X-Subscription-Token gets 422 SUBSCRIPTION_TOKEN_INVALID, one without ``q`` gets 422
VALIDATION, another path 404; otherwise the next scripted reply is sent (when none is left, a
success with two results for the query). Every answer of Brave's carries the four
X-RateLimit-* headers (per second and per month)::

    async with FakeBrave() as brave:
        brave.script(brave_error("RATE_LIMITED", remaining=(0, 1000), reset=(60, 86400)))
        provider = BraveSearchProvider(brave.token, base_url=brave.base_url)

Replies: ``web_results``, ``brave_error`` (each code with its real status), ``html_page``, and
``Reply(...)`` for anything else; each accepts ``hold`` (a slow first byte) and
``reset_mid_body`` (a connection reset in the middle of the body).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from providers.testing._server import FakeRequest, FakeServer, Reply

__all__ = [
    "SEARCH_PATH",
    "TOKEN",
    "FakeBrave",
    "brave_error",
    "html_page",
    "rate_limit_headers",
    "web_result",
    "web_results",
]

SEARCH_PATH = "/res/v1/web/search"
TOKEN = "BSA-test-token-0123456789"
LIMIT = (20, 15000)
WINDOW = (1, 2592000)
_TIME = 1754364294

STATUS = {
    "RATE_LIMITED": 429,
    "QUOTA_LIMITED": 429,
    "SUBSCRIPTION_TOKEN_INVALID": 422,
    "VALIDATION": 422,
    "OPTION_NOT_IN_PLAN": 400,
}
DETAIL = {
    "RATE_LIMITED": "Request rate limit exceeded for plan.",
    "QUOTA_LIMITED": "Request quota limit exceeded for plan.",
    "SUBSCRIPTION_TOKEN_INVALID": "The provided subscription token is invalid.",
    "VALIDATION": "Unable to validate request parameter(s)",
    "OPTION_NOT_IN_PLAN": "The option is not subscribed in the plan.",
}


def rate_limit_headers(
    remaining: Sequence[int] = (19, 14000),
    reset: Sequence[int] = (1, 1419704),
    limit: Sequence[int] = LIMIT,
    window: Sequence[int] = WINDOW,
) -> dict[str, str]:
    """Brave's four X-RateLimit-* headers, one comma-separated entry per window."""

    def joined(values: Iterable[object]) -> str:
        return ", ".join(map(str, values))

    return {
        "X-RateLimit-Limit": joined(limit),
        "X-RateLimit-Policy": joined(f"{n};w={w}" for n, w in zip(limit, window, strict=True)),
        "X-RateLimit-Remaining": joined(remaining),
        "X-RateLimit-Reset": joined(reset),
    }


def web_result(n: int, query: str = "query") -> dict[str, Any]:
    """One item of ``web.results`` as Brave sends it."""
    return {
        "type": "search_result",
        "title": f"Result {n} for {query}",
        "url": f"https://example.com/{n}",
        "description": f"About <strong>{query}</strong>, part {n}.",
        "age": "2 days ago",
        "page_age": "2025-08-01T10:00:00",
        "language": "en",
        "family_friendly": True,
        "profile": {"name": "Example", "url": f"https://example.com/{n}"},
    }


def web_results(
    query: str = "query",
    results: Sequence[dict[str, Any]] | None = None,
    *,
    remaining: Sequence[int] = (19, 14000),
    reset: Sequence[int] = (1, 1419704),
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> Reply:
    """A 200 web search answer (two results by default) with its rate-limit headers."""
    items = [web_result(1, query), web_result(2, query)] if results is None else list(results)
    body = {
        "type": "search",
        "query": {"original": query, "more_results_available": True},
        "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": False}]},
        "web": {"type": "search", "results": items, "family_friendly": True},
    }
    merged = {**rate_limit_headers(remaining, reset), **(headers or {})}
    return Reply.json(body, headers=merged, **kw)


def brave_error(
    code: str,
    *,
    status: int | None = None,
    detail: str | None = None,
    meta: dict[str, Any] | None = None,
    remaining: Sequence[int] | None = (19, 14000),
    reset: Sequence[int] = (1, 1419704),
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> Reply:
    """Brave's ErrorResponse for ``code``, with its usual status (``remaining=None``: no
    rate-limit headers)."""
    code_status = status or STATUS.get(code, 500)
    error: dict[str, Any] = {
        "id": str(uuid.UUID(int=len(code))),
        "status": code_status,
        "code": code,
        "detail": detail if detail is not None else DETAIL.get(code, code),
        "meta": meta if meta is not None else {"component": "api"},
    }
    merged = {} if remaining is None else rate_limit_headers(remaining, reset)
    merged.update(headers or {})
    body = {"type": "ErrorResponse", "error": error, "time": _TIME}
    return Reply.json(body, status=code_status, headers=merged, **kw)


def html_page(status: int = 502, **kw: Any) -> Reply:
    """An HTML page where Brave's JSON should be (a proxy, a load balancer)."""
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    return Reply.html(page, status=status, **kw)


class FakeBrave:
    """The fake Brave API; ``async with FakeBrave(token) as brave``.

    Attributes:
        token: The subscription token it accepts.
        server: The FakeServer (its ``requests`` are every request received).
        replies: The scripted replies still to send, in order.
    """

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.server = FakeServer(self._handle)
        self.replies: list[Reply] = []
        self._arrived: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        """The server's URL, for ``BraveSearchProvider(base_url=...)``."""
        return self.server.base_url

    @property
    def requests(self) -> list[FakeRequest]:
        """Every request received, in order."""
        return self.server.requests

    def script(self, *replies: Reply) -> None:
        """Send ``replies`` to the next requests, in order (then successes again)."""
        self.replies.extend(replies)

    async def until_requests(self, count: int) -> None:
        """Return once ``count`` requests have been received (no polling, no sleep)."""
        while len(self.requests) < count:
            self._arrived = asyncio.Event()
            await self._arrived.wait()

    def _handle(self, request: FakeRequest) -> Reply:
        if self._arrived is not None:
            self._arrived.set()
        if request.path != SEARCH_PATH:
            return Reply.json({"type": "ErrorResponse", "error": {"status": 404}}, status=404)
        if request.headers.get("x-subscription-token") != self.token:
            auth: dict[str, Any] = {"component": "authentication"}
            return brave_error("SUBSCRIPTION_TOKEN_INVALID", meta=auth, remaining=None)
        query = request.query.get("q", "")
        if not query:
            meta = {"errors": [{"type": "missing", "loc": ["query", "q"], "msg": "Field required"}]}
            return brave_error("VALIDATION", meta=meta)
        if self.replies:
            return self.replies.pop(0)
        return web_results(query)

    async def __aenter__(self) -> FakeBrave:
        await self.server.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.server.__aexit__(*exc_info)
