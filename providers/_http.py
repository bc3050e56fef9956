"""The HTTP boundary shared by the providers: httpx errors, statuses, Retry-After, SSE, clients.

Every provider built on httpx goes through this module, so that the coordinator sees the same
error classes whatever the transport said:

- ``map_httpx_errors(provider)`` turns every httpx exception into the library's errors (``from``
  the original): timeouts -> ProviderTimeout, connection and protocol failures -> Unavailable,
  an invalid URL -> ConfigurationError.
- ``error_for_status(provider, status, body_text, retry_after)`` is the generic HTTP status
  mapping (400/422 BadRequest, 401/403 Unauthorized, 404 NotFound, 408/504 ProviderTimeout,
  429 RateLimited, other 5xx Unavailable).
- ``parse_retry_after`` reads a Retry-After header (seconds or an HTTP-date), clamped to
  [0, MAX_RETRY_AFTER]; ``parse_count`` reads a count header (X-RateLimit-Remaining).
- Reading bodies (bounded) and Server-Sent Events is in ``providers._reading``.
- ``make_client`` builds the one pooled ``httpx.AsyncClient`` of a provider (or adopts an
  injected one, which the provider then does not close); ``BaseHTTPProvider`` holds it.

Messages name the provider and what went wrong; they never show headers (where the keys are)
nor a URL's query string.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Final

import httpx

from failover.errors import (
    BadRequest,
    ConfigurationError,
    FailoverError,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Unauthorized,
    Unavailable,
    clamp_retry_after,
    parse_seconds,
)
from failover.secrets import redact

__all__ = [
    "BODY_EXCERPT",
    "MAX_COUNT",
    "STATUS_EXCERPT",
    "BaseHTTPProvider",
    "body_excerpt",
    "error_for_status",
    "make_client",
    "map_httpx_errors",
    "parse_count",
    "parse_retry_after",
    "translate_httpx_error",
]

BODY_EXCERPT: Final = 120
"""Bytes of a body shown when it is not the expected JSON."""
STATUS_EXCERPT: Final = 200
"""Characters of an error body shown in an error for a status."""
MAX_COUNT: Final = 10**18
"""The largest count ``parse_count`` gives (a larger one reads as this)."""
_COUNT_DIGITS: Final = len(str(MAX_COUNT))

_QUERY = re.compile(r"\?[^\s'\"<>]*")

# Most specific first: the first class the exception is an instance of decides.
_TRANSLATION: Final[tuple[tuple[type[BaseException], type[FailoverError], str], ...]] = (
    (httpx.TimeoutException, ProviderTimeout, "timed out"),
    (httpx.InvalidURL, ConfigurationError, "has an invalid URL"),
    (httpx.UnsupportedProtocol, ConfigurationError, "has a URL of an unsupported scheme"),
    (httpx.ProxyError, Unavailable, "failed at the proxy"),
    (httpx.NetworkError, Unavailable, "connection failed"),
    (httpx.ProtocolError, Unavailable, "broke the HTTP protocol"),
    (httpx.DecodingError, Unavailable, "sent a body that cannot be decoded"),
    (httpx.TooManyRedirects, Unavailable, "redirected too many times"),
    (httpx.HTTPError, Unavailable, "failed"),
    (httpx.StreamError, Unavailable, "stream failed"),
    (httpx.CookieConflict, Unavailable, "set conflicting cookies"),
)


def _scrub(text: str) -> str:
    """``text`` without URL query strings, shortened."""
    text = _QUERY.sub("?...", text)
    return text if len(text) <= STATUS_EXCERPT else text[:STATUS_EXCERPT] + "..."


def _where(exc: BaseException) -> str:
    """' (METHOD /path)' for an httpx error that knows its request, else ''."""
    try:
        request = exc.request  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # RequestError.request raises when unset
        return ""
    if not isinstance(request, httpx.Request):
        return ""
    return f" ({request.method} {request.url.path})"


def translate_httpx_error(provider: str, exc: BaseException) -> FailoverError:
    """The library's error for an httpx exception (not raised; the caller chains it).

    Args:
        provider: The provider's name, put in the message and the error.
        exc: An httpx exception (``HTTPStatusError`` is mapped by its status).

    Returns:
        A ProviderError subclass, or ConfigurationError for an invalid or unsupported URL.
    """
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return error_for_status(provider, response.status_code, "", retry_after)
    cls: type[FailoverError] = Unavailable
    what = "failed"
    for kind, mapped, description in _TRANSLATION:
        if isinstance(exc, kind):
            cls, what = mapped, description
            break
    detail = _scrub(redact(str(exc)))
    message = f"provider {provider!r} {what}{_where(exc)}: {type(exc).__name__}"
    message += f": {detail}" if detail else ""
    if issubclass(cls, ProviderError):
        return cls(message, provider=provider)
    return cls(message + "; check the provider's base_url")


@contextlib.contextmanager
def map_httpx_errors(provider: str) -> Iterator[None]:
    """Translate every httpx exception raised inside the block (see translate_httpx_error).

    The library's own errors and everything else pass through unchanged.

    Args:
        provider: The provider's name, for the messages.

    Raises:
        ProviderTimeout: A connect, read, write or pool timeout.
        Unavailable: A connection, protocol, decoding, proxy, redirect or stream failure.
        ConfigurationError: An invalid URL or an unsupported scheme.
    """
    try:
        yield
    except (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, httpx.CookieConflict) as exc:
        raise translate_httpx_error(provider, exc) from exc


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a Retry-After header.

    Args:
        value: The header: delay seconds ("120", "1.5") or an HTTP-date.
        now: The current time for an HTTP-date (the wall clock when None).

    Returns:
        Seconds, clamped to [0, MAX_RETRY_AFTER]: a negative delay or a date in the past gives
        0, a longer delay (10**12, 400 digits) or a later date gives MAX_RETRY_AFTER. None when
        the header is missing or unreadable ("soon", "inf", "nan", digits of other scripts).
        Never raises, whatever the text.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    seconds = parse_seconds(value)
    return seconds if seconds is not None else _seconds_until(value.strip(), now)


def _seconds_until(text: str, now: datetime | None) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = datetime.now(UTC) if now is None else now
        if current.tzinfo is None:
            current = current.replace(tzinfo=UTC)
        seconds = (when - current).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):  # not a date, or out of range
        return None
    return clamp_retry_after(seconds)


def parse_count(text: str | None) -> int | None:
    """A count written in ASCII digits (``"19"``, ``" 0 "``), as X-RateLimit-Remaining writes
    it; None for anything else (a sign, a fraction, digits of other scripts). Never raises:
    a count beyond ``MAX_COUNT`` (thousands of digits) reads as ``MAX_COUNT``."""
    digits = text.strip() if isinstance(text, str) else ""
    if not (digits.isascii() and digits.isdigit()):
        return None
    significant = digits.lstrip("0") or "0"
    return MAX_COUNT if len(significant) > _COUNT_DIGITS else min(int(significant), MAX_COUNT)


def error_for_status(
    provider: str, status: int, body_text: str, retry_after: float | None
) -> ProviderError:
    """The library's error for an HTTP error status (the generic mapping).

    Args:
        provider: The provider's name.
        status: The HTTP status (>= 400).
        body_text: The response body (its first characters go in the message).
        retry_after: The Retry-After in seconds, if the response gave one.

    Returns:
        400/422 BadRequest, 401/403 Unauthorized, 404 NotFound, 408/504 ProviderTimeout,
        429 RateLimited, any other status Unavailable; each with ``status`` and ``retry_after``.
    """
    cls: type[ProviderError]
    if status in (400, 422):
        cls = BadRequest
    elif status in (401, 403):
        cls = Unauthorized
    elif status == 404:
        cls = NotFound
    elif status in (408, 504):
        cls = ProviderTimeout
    elif status == 429:
        cls = RateLimited
    else:
        cls = Unavailable
    excerpt = " ".join(body_text.split())
    if len(excerpt) > STATUS_EXCERPT:
        excerpt = excerpt[:STATUS_EXCERPT] + "..."
    message = f"provider {provider!r} answered HTTP {status}"
    if retry_after is not None:
        message += f" (retry after {retry_after:g} s)"
    message += f": {excerpt}" if excerpt else ""
    return cls(message, provider=provider, retry_after=retry_after, status=status)


def body_excerpt(raw: bytes) -> str:
    """The first BODY_EXCERPT bytes of a body, for "not the expected JSON" messages."""
    head = raw[:BODY_EXCERPT].decode("utf-8", errors="replace")
    shown = repr(head)
    return shown + ("..." if len(raw) > BODY_EXCERPT else "")


def make_client(
    *,
    base_url: str,
    headers: Mapping[str, str],
    timeout: float | httpx.Timeout = 30.0,
    max_connections: int = 20,
    max_keepalive: int = 10,
    client: httpx.AsyncClient | None = None,
) -> tuple[httpx.AsyncClient, bool]:
    """A provider's pooled client, and whether the provider owns (and so closes) it.

    Args:
        base_url: The provider's endpoint; requests use paths relative to it.
        headers: Sent with every request (the API key header goes here, never in a URL).
        timeout: Seconds for connect, read, write and pool, or an httpx.Timeout.
        max_connections: The pool's size.
        max_keepalive: Idle connections kept open.
        client: An injected client: used as is (``base_url`` and ``headers`` are then sent
            per request by the provider) and not closed by the provider.

    Returns:
        ``(client, owned)``.

    Raises:
        ConfigurationError: A bad timeout or pool size.
    """
    if client is not None:
        return client, False
    if isinstance(timeout, int | float) and not timeout > 0:
        raise ConfigurationError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if not (isinstance(max_connections, int) and max_connections >= 1):
        raise ConfigurationError(f"max_connections must be an int >= 1, got {max_connections!r}")
    if not (isinstance(max_keepalive, int) and max_keepalive >= 0):
        raise ConfigurationError(f"max_keepalive must be an int >= 0, got {max_keepalive!r}")
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive)
    built = httpx.AsyncClient(
        base_url=base_url,
        headers=dict(headers),
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        limits=limits,
        follow_redirects=False,
    )
    return built, True


_CAPABILITIES = {
    "generate": "generate text with an LLM provider (GeminiProvider, OpenAICompatibleProvider)",
    "stream": "stream text with an LLM provider (GeminiProvider, OpenAICompatibleProvider)",
    "search": "search with a search provider (BraveSearchProvider)",
}


class BaseHTTPProvider:
    """What every httpx-based provider shares: its name, base URL, client and closing.

    Subclasses send ``self.headers`` with each request (so an injected client, which may have
    its own base URL and headers, works too) and build URLs with ``self.url(path)``.

    Attributes:
        base_url: The endpoint, without a trailing slash.
        headers: The headers of every request (with the credential: never logged or shown).
    """

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float | httpx.Timeout = 30.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a provider name must be a non-empty string, got {name!r}")
        self._name = name
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self._client, self._owns_client = make_client(
            base_url=self.base_url, headers={}, timeout=timeout, client=client
        )

    @property
    def name(self) -> str:
        """The provider's name."""
        return self._name

    def __getattr__(self, attribute: str) -> object:
        # Only reached for a missing attribute: a capability this provider lacks is named as
        # such (still an AttributeError, so ``getattr(provider, "generate", None)`` is None).
        if attribute in _CAPABILITIES:
            serves = [c for c in _CAPABILITIES if callable(getattr(type(self), c, None))]
            raise AttributeError(
                f"{type(self).__name__} {self.__dict__.get('_name', '')!r} has no "
                f"{attribute}(): it serves {', '.join(serves) or 'no request kind'}; "
                f"{_CAPABILITIES[attribute]}"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attribute!r}")

    @property
    def client(self) -> httpx.AsyncClient:
        """The pooled client."""
        return self._client

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with "/") at this provider."""
        return self.base_url + path

    async def aclose(self) -> None:
        """Close the client if the provider created it (an injected one stays open)."""
        if self._owns_client:
            await self._client.aclose()

    def __repr__(self) -> str:
        shown = _QUERY.sub("?...", self.base_url)
        return f"{type(self).__name__}(name={self._name!r}, base_url={shown!r})"
