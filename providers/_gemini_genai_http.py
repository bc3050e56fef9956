"""GeminiGenAIProvider's hold on its httpx client: bounded reads, errors read at the wire.

google-genai sends every request of the provider through the provider's pooled
``httpx.AsyncClient`` (``HttpOptions(httpx_async_client=...)``). ``install(client)`` adds a
response hook to that client. The hook acts only inside ``exchange(...)`` (the provider's own
calls: another user of an injected client is left alone) and sees each answer before the SDK
reads it:

- an error status (>= 400): at most 64 KiB of its body are read and the library's
  error is raised from them, mapped as GeminiProvider maps them (``_gemini_wire.error_for``,
  Retry-After and RetryInfo's retryDelay read), its message redacted; the SDK never parses it;
- any other answer: its body (decoded, a whole one or a stream in all) is refused
  (Unavailable) past the exchange's ``limit`` (``max_response_bytes``); a Content-Length above
  it is refused before reading.

``Exchange.answered`` records that an answer arrived: any exception raised after that is a
malformed answer (``translate``). No module of the SDK is imported here: its exceptions are
recognised by their class names, so ``import providers`` works without the ``genai`` extra.
See docs/reference/providers.md.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

import httpx

from failover.errors import BadRequest, FailoverError, ProviderError, Unavailable
from failover.secrets import redact
from providers import _gemini_wire as wire
from providers._gemini_sdk_errors import unchained
from providers._gemini_sdk_http import Exchange  # the same record: which call, what it saw
from providers._http import parse_count, parse_retry_after, translate_httpx_error
from providers._reading import read_error_body

__all__ = ["Exchange", "as_wire", "exchange", "install", "translate", "unchained"]

_SHOWN: Final = 300  # characters of an exception's text in a message


_CURRENT: ContextVar[Exchange | None] = ContextVar("failover_gemini_genai_exchange", default=None)


@contextmanager
def exchange(provider: str, limit: int, *, answered: bool = False) -> Iterator[Exchange]:
    """The hook's settings for the requests sent inside."""
    current = Exchange(provider, limit, answered)
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)


def install(client: httpx.AsyncClient) -> None:
    """Add the response hook to ``client``, once."""
    hooks = client.event_hooks
    listed = hooks.setdefault("response", [])
    if _on_response not in listed:
        listed.append(_on_response)
        client.event_hooks = hooks


def _too_large(current: Exchange) -> Unavailable:
    return Unavailable(
        f"provider {current.provider!r} sent an answer larger than {current.limit} bytes "
        "(max_response_bytes); it was not read further",
        provider=current.provider,
    )


async def _on_response(response: httpx.Response) -> None:
    current = _CURRENT.get()
    if current is None:
        return
    current.answered = True
    if response.status_code >= 400:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        body = await read_error_body(response)
        await response.aclose()
        raise _redacted(
            wire.error_for(
                response.status_code, body, provider=current.provider, retry_after=retry_after
            )
        )
    declared = parse_count(response.headers.get("content-length"))
    encoded = response.headers.get("content-encoding")
    if declared is not None and declared > current.limit and not encoded:
        await response.aclose()
        raise _too_large(current)
    _bound(response, current)


def _bound(response: httpx.Response, current: Exchange) -> None:
    """Make ``response.aiter_bytes`` (what ``aread`` and the SDK's stream reader call) refuse
    a body past the limit (counted after any Content-Encoding is undone)."""
    decoded = response.aiter_bytes

    async def bounded(chunk_size: int | None = None) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in decoded(chunk_size):
            size += len(chunk)
            if size > current.limit:
                await response.aclose()
                raise _too_large(current)
            yield chunk

    response.aiter_bytes = bounded  # type: ignore[method-assign]


def _redacted(error: ProviderError) -> ProviderError:
    error.args = tuple(redact(str(arg)) for arg in error.args)
    return error


def translate(provider: str, exc: BaseException, *, answered: bool) -> FailoverError | None:
    """The library's error for an exception raised by google-genai or httpx.

    Args:
        provider: The provider's name, for the error.
        exc: The exception (a FailoverError raised by the hook is not passed here).
        answered: Whether an answer had arrived: then any exception but httpx's (a timeout, a
            connection cut) is a malformed answer, Unavailable.

    Returns:
        The error, its message redacted; None for an exception raised before any answer that
        is neither httpx's, the SDK's API error, nor the SDK's refusal of a request field
        (raised unchanged).
    """
    if isinstance(exc, httpx.HTTPError | httpx.StreamError | httpx.InvalidURL):
        error = translate_httpx_error(provider, exc)
        error.args = tuple(redact(str(arg)) for arg in error.args)
        return error
    names = {cls.__name__ for cls in type(exc).__mro__}
    code = getattr(exc, "code", None)
    if "APIError" in names and isinstance(code, int) and code >= 400:
        # An error the SDK read itself (an {"error": ...} record inside a stream).
        details = getattr(exc, "details", None)
        body = json.dumps(details) if isinstance(details, dict | list) else ""
        return _redacted(wire.error_for(code, body, provider=provider))
    if answered:
        return Unavailable(_raised("could not read the answer", exc), provider=provider)
    if "ValidationError" in names:  # pydantic's: a request field the SDK refuses
        return BadRequest(_raised("refused the request", exc), provider=provider)
    return None


def _raised(what: str, exc: BaseException) -> str:
    """A message naming ``exc``: its class and (redacted, cut) text."""
    try:
        text = " ".join(str(exc).split())
    except Exception:
        text = "<unprintable>"
    detail = redact(text)
    detail = detail if len(detail) <= _SHOWN else detail[:_SHOWN] + "..."
    return f"Gemini (google-genai) {what} ({type(exc).__name__}): {detail}"


def as_wire(response: Any) -> wire.Json:
    """A google-genai GenerateContentResponse (or stream chunk) as Gemini's JSON, read by the
    same functions as REST (``_gemini_response``)."""
    dumped = response.model_dump(mode="json", by_alias=True, exclude_none=True)
    dumped.pop("sdkHttpResponse", None)
    dumped.pop("automaticFunctionCallingHistory", None)
    data: wire.Json = dumped
    return data
