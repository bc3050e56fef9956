"""Reading a provider's answer without trusting its size: bounded bodies and stream events.

- ``read_body(response, provider, limit)`` reads a streamed response's body as it arrives and
  stops with Unavailable past ``limit`` bytes (``max_response_bytes``, 8 MiB by default).
- ``read_error_body(response)`` reads at most ``ERROR_BODY_BYTES`` of an error answer: enough
  for its error object and the excerpt an error shows, never the whole of a huge body.
- ``iter_sse(response, provider)`` yields each Server-Sent Event's data, holding no line or
  event longer than ``max_event_bytes`` (1 MiB by default).

The memory a provider holds for one answer is therefore bounded by its limits, whatever the
server sends (tests/providers/test_bounded_reads.py serves 200 MiB).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

import httpx

from failover.errors import ConfigurationError, Unavailable
from providers._http import parse_count

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ERROR_BODY_BYTES",
    "MAX_EVENT_BYTES",
    "check_max_response_bytes",
    "iter_sse",
    "read_body",
    "read_error_body",
]

DEFAULT_MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
"""The most bytes of one answer a provider reads by default (``max_response_bytes``)."""
_RESPONSE_BYTES_RANGE: Final = (1024, 1024**3)
MAX_EVENT_BYTES: Final = 1024 * 1024
"""The most bytes of one line, or of one event's data, of a streamed answer."""
ERROR_BODY_BYTES: Final = 64 * 1024
"""The most bytes of an error answer's body read (to find its error object and excerpt)."""


def check_max_response_bytes(value: object, provider: str) -> int:
    """``max_response_bytes`` checked: an int from 1 KiB to 1 GiB.

    Raises:
        ConfigurationError: Anything else, naming the provider and the range.
    """
    low, high = _RESPONSE_BYTES_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(
            f"provider {provider!r}: max_response_bytes must be an int from {low} to {high} "
            f"(bytes), got {value!r}"
        )
    return value


def _too_large(
    provider: str, limit: int, what: str = "an answer", setting: str = "max_response_bytes"
) -> Unavailable:
    return Unavailable(
        f"provider {provider!r} sent {what} larger than {limit} bytes ({setting}); it was not "
        "read further",
        provider=provider,
    )


async def read_body(response: httpx.Response, provider: str, limit: int) -> bytes:
    """The body of a streamed response, read as it arrives and refused past ``limit`` bytes.

    The limit applies to the decoded body (after any Content-Encoding), so a compressed
    answer cannot expand past it. A Content-Length above the limit is refused before reading.

    Raises:
        Unavailable: The body is larger than ``limit``.
    """
    declared = parse_count(response.headers.get("content-length"))
    if declared is not None and declared > limit and not response.headers.get("content-encoding"):
        raise _too_large(provider, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(provider, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_error_body(response: httpx.Response, limit: int = ERROR_BODY_BYTES) -> bytes:
    """At most ``limit`` bytes of an error answer's body (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return b"".join(chunks)


async def iter_sse(
    response: httpx.Response, provider: str, *, max_event_bytes: int = MAX_EVENT_BYTES
) -> AsyncIterator[str]:
    """The ``data:`` payload of each Server-Sent Event of a streamed response, as it arrives.

    Lines of one event's data are joined with "\\n"; comments, ``event:``, ``id:`` and
    ``retry:`` fields are skipped; an event without data yields nothing. A last event not
    followed by a blank line is still yielded when the body ends. Bytes that are not UTF-8
    read as U+FFFD.

    Raises:
        Unavailable: A line, or one event's data, longer than ``max_event_bytes`` (no more
            than that is held in memory).
    """
    data: list[str] = []
    size = 0
    async for line in _bounded_lines(response, provider, max_event_bytes):
        if not line:
            if data:
                yield "\n".join(data)
                data, size = [], 0
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
            size += len(data[-1])
            if size > max_event_bytes:
                raise _too_large(provider, max_event_bytes, "a stream event", "max_event_bytes")
    if data:
        yield "\n".join(data)


async def _bounded_lines(response: httpx.Response, provider: str, limit: int) -> AsyncIterator[str]:
    """The lines of a body (split at \\r\\n, \\n or \\r), none longer than ``limit`` bytes."""
    pending = b""
    async for chunk in response.aiter_bytes():
        pending += chunk
        held = b"\r" if pending.endswith(b"\r") else b""  # its \n may be in the next chunk
        lines = pending[: len(pending) - len(held)].replace(b"\r\n", b"\n")
        split = lines.replace(b"\r", b"\n").split(b"\n")
        pending = split.pop() + held
        for line in split:
            if len(line) > limit:
                raise _too_large(provider, limit, "a stream line", "max_event_bytes")
            yield line.decode("utf-8", errors="replace")
        if len(pending) > limit:
            raise _too_large(provider, limit, "a stream line", "max_event_bytes")
    if pending:
        yield pending.decode("utf-8", errors="replace")
