"""GeminiSDKProvider's hold on the SDK's REST transport: bounded reads, errors read at the wire.

The SDK's REST transport sends every request through a google-auth ``AuthorizedSession`` (a
``requests.Session``). ``install(client)`` adds a response hook to that session. The hook acts
only inside ``exchange(...)`` (the provider's own calls; any other user of a shared client is
left alone) and sees each answer before the SDK reads it:

- an error status (>= 400): at most ``ERROR_BODY_BYTES`` of its body are read and the library's
  error is raised from them, mapped as GeminiProvider maps them (``_gemini_wire.error_for``),
  its message redacted; google.api_core never parses it;
- a whole answer: its body is read as it arrives and refused (Unavailable) past the exchange's
  ``limit`` (``max_response_bytes``), before the SDK parses it;
- a streamed answer (a JSON array): the SDK's reader gets the body as UTF-8 text (bytes that
  are not UTF-8 read as U+FFFD), and the stream is refused (Unavailable) once it has sent more
  than ``limit`` bytes in all.

``Exchange.answered`` records that an answer arrived: any exception the SDK raises after that
is a malformed answer (see ``GeminiSDKProvider``). ``is_timeout`` finds a read timeout that
requests reports as a ConnectionError (a stream that stops sending).

No module of requests, urllib3 or the SDK is imported here (``import providers`` must work
without the ``gemini-sdk`` extra): exceptions are recognised by their class names.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from failover.errors import Unavailable
from failover.secrets import redact
from providers import _gemini_wire as wire
from providers._http import parse_count, parse_retry_after
from providers._reading import ERROR_BODY_BYTES

__all__ = ["Exchange", "exchange", "install", "is_timeout"]

_READ_CHUNK: Final = 64 * 1024
_STREAM_CHUNK: Final = 8 * 1024  # a chunked stream yields each HTTP chunk as soon as it arrives
_TIMEOUT_NAMES: Final = frozenset({"Timeout", "ReadTimeoutError"})
"""requests' Timeout (ReadTimeout, ConnectTimeout) and urllib3's ReadTimeoutError; not urllib3's
TimeoutError, which NewConnectionError (a refused connection) is a subclass of."""


@dataclass
class Exchange:
    """One call of the provider: what the hook needs, and what it saw.

    Attributes:
        provider: The provider's name, for errors.
        limit: The most bytes of an answer read (``max_response_bytes``).
        answered: Whether an answer (status line and headers) arrived.
    """

    provider: str
    limit: int
    answered: bool = False


_CURRENT: ContextVar[Exchange | None] = ContextVar("failover_gemini_sdk_exchange", default=None)


@contextmanager
def exchange(provider: str, limit: int, *, answered: bool = False) -> Iterator[Exchange]:
    """The hook's settings for the calls made inside (a worker thread started inside sees them:
    ``asyncio.to_thread`` copies the context)."""
    current = Exchange(provider, limit, answered)
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)


def install(client: Any) -> bool:
    """Add the response hook to ``client``'s REST session, once; False when it has none (the
    gRPC transport, whose reads are not bounded)."""
    session = getattr(getattr(client, "_transport", None), "_session", None)
    hooks = getattr(session, "hooks", None)
    if not isinstance(hooks, dict):
        return False
    listed = hooks.setdefault("response", [])
    if _on_response not in listed:
        listed.append(_on_response)
    return True


def is_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is, wraps or was raised from a timeout (requests raises a read timeout
    in the middle of a body as ConnectionError(ReadTimeoutError))."""
    todo: list[object] = [exc]
    for _ in range(8):  # a few levels are enough; never loops on a cyclic chain
        if not todo:
            return False
        current = todo.pop()
        if not isinstance(current, BaseException):
            continue
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & _TIMEOUT_NAMES or type(current) is TimeoutError:  # socket.timeout too
            return True
        todo += [*current.args[:2], current.__cause__, current.__context__]
    return False


def _on_response(response: Any, *args: object, stream: bool = False, **kwargs: object) -> Any:
    current = _CURRENT.get()
    if current is None:
        return response
    current.answered = True
    if response.status_code >= 400:
        raise _error_answer(response, current.provider)
    if stream:
        _bound_stream(response, current)
    else:
        response._content = _read_whole(response, current)
    return response


def _too_large(current: Exchange) -> Unavailable:
    return Unavailable(
        f"provider {current.provider!r} sent an answer larger than {current.limit} bytes "
        "(max_response_bytes); it was not read further",
        provider=current.provider,
    )


def _error_answer(response: Any, provider: str) -> Exception:
    """The library's error for an error answer, from at most ERROR_BODY_BYTES of its body."""
    body = b""
    for chunk in response.iter_content(_READ_CHUNK):
        body += chunk[: ERROR_BODY_BYTES - len(body)]
        if len(body) >= ERROR_BODY_BYTES:
            break
    response.close()
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    error = wire.error_for(response.status_code, body, provider=provider, retry_after=retry_after)
    error.args = tuple(redact(str(arg)) for arg in error.args)
    return error


def _read_whole(response: Any, current: Exchange) -> bytes:
    """The body, read as it arrives; Unavailable past the limit (a Content-Length above it is
    refused before reading)."""
    declared = parse_count(response.headers.get("content-length"))
    encoded = response.headers.get("content-encoding")
    if declared is not None and declared > current.limit and not encoded:
        response.close()
        raise _too_large(current)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_READ_CHUNK):
        size += len(chunk)
        if size > current.limit:
            response.close()
            raise _too_large(current)
        chunks.append(chunk)
    return b"".join(chunks)


def _bound_stream(response: Any, current: Exchange) -> None:
    """Make ``response.iter_content`` (what the SDK's stream reader calls) yield UTF-8 text,
    refused past the limit."""
    raw_chunks = response.iter_content

    def bounded(chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        size = 0
        for chunk in raw_chunks(_STREAM_CHUNK):
            size += len(chunk)
            if size > current.limit:
                response.close()
                raise _too_large(current)
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    response.iter_content = bounded
