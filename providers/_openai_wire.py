"""The OpenAI-compatible wire format, as pure functions: answers, stream chunks, error bodies
and headers decoded totally.

Every decoder here returns a record or raises the library's error, whatever the bytes: a body
or chunk that is not the JSON of its shape (not JSON, nested too deeply, a field of the wrong
type, a token count that is not an integer from 0 to ``MAX_COUNT``) is Unavailable naming what
is wrong; header parsers never raise. Every text taken from an answer goes through
``failover.secrets.redact`` before it is put in a message. ``providers/openai.py`` does the I/O.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from collections.abc import Mapping
from typing import Final

import httpx

from failover.errors import (
    ContentBlocked,
    ProviderError,
    QuotaExhausted,
    Unauthorized,
    Unavailable,
    clamp_retry_after,
    parse_seconds,
)
from failover.provider import LLMResponse, QuotaReport, Usage
from failover.secrets import redact
from providers._http import (
    BODY_EXCERPT,
    MAX_COUNT,
    STATUS_EXCERPT,
    error_for_status,
    parse_count,
    parse_retry_after,
)

__all__ = [
    "decode",
    "error_of",
    "excerpt",
    "parse_chunk",
    "parse_completion",
    "parse_duration",
    "quota_of",
    "retry_after_of",
]

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)")
_WHOLE_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|h|m|s))+")
_UNITS: Final = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_CODES: Final[Mapping[str, type[ProviderError]]] = {
    "insufficient_quota": QuotaExhausted,
    "invalid_api_key": Unauthorized,
}
_USAGE: Final = ("prompt_tokens", "completion_tokens", "total_tokens")
_SHORT = reprlib.Repr()  # bounded by depth and size, whatever the nesting
_SHORT.maxlevel = 3
_SHORT.maxstring = _SHORT.maxother = STATUS_EXCERPT


# --- shared -------------------------------------------------------------------------------------


def excerpt(content: bytes) -> str:
    """The start of a body, redacted, quoted: what "not the expected JSON" messages show.

    A window four times longer than what is shown is redacted first, so that a secret crossing
    the cut is masked whole (never shown in part).
    """
    text = redact(content[: BODY_EXCERPT * 4].decode("utf-8", errors="replace"))
    longer = len(text) > BODY_EXCERPT or len(content) > BODY_EXCERPT * 4
    return repr(text[:BODY_EXCERPT]) + ("..." if longer else "")


def _garbage(provider: str, content: bytes, why: str) -> Unavailable:
    return Unavailable(
        f"provider {provider!r} answered a body that is not the expected JSON ({why}): "
        f"{excerpt(content)}",
        provider=provider,
    )


def decode(content: bytes, provider: str) -> object:
    """The JSON of a body.

    Raises:
        Unavailable: Not JSON (also: not UTF-8, or nested too deeply to decode).
    """
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _garbage(provider, content, "not JSON") from None


def _text(value: object) -> str:
    """A field's value as one line of at most STATUS_EXCERPT characters, redacted."""
    shown = value if isinstance(value, str) else _SHORT.repr(value)
    text = " ".join(redact(shown).split())
    return text if len(text) <= STATUS_EXCERPT else text[:STATUS_EXCERPT] + "..."


def _optional_str(record: Mapping[str, object], key: str) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{key} is not a string")


def _count(usage: Mapping[str, object], key: str) -> int:
    """A token count: a missing or null one is 0; an integral float is accepted."""
    value = usage.get(key)
    if value is None:
        return 0
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise TypeError(f"usage.{key} is not a count from 0 to 10**18")
    return value


def _usage(value: object) -> Usage:
    if value is None:
        return Usage()
    if not isinstance(value, dict):
        raise TypeError("usage is not an object")
    prompt, output, total = (_count(value, key) for key in _USAGE)
    return Usage(prompt, output, total)


def check_finish(finish: str | None, provider: str) -> None:
    """Raise ContentBlocked for finish_reason ``content_filter``."""
    if finish == "content_filter":
        raise ContentBlocked(
            f"provider {provider!r} stopped: finish_reason 'content_filter'", provider=provider
        )


# --- answers ------------------------------------------------------------------------------------


def _first_choice(data: object) -> dict[str, object]:
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise TypeError("choices is not a non-empty list")
    if not isinstance(choices[0], dict):
        raise TypeError("choices[0] is not an object")
    return choices[0]


def parse_completion(
    content: bytes, provider: str, default_model: str, latency: float
) -> LLMResponse:
    """The LLMResponse of a chat.completion body.

    Raises:
        Unavailable: The body is not a chat completion (the message says which field).
        ContentBlocked: finish_reason ``content_filter``.
    """
    data = decode(content, provider)
    try:
        choice = _first_choice(data)
        assert isinstance(data, dict)
        message = choice.get("message")
        if not isinstance(message, dict):
            raise TypeError("choices[0].message is not an object")
        text = _optional_str(message, "content") or ""
        finish = _optional_str(choice, "finish_reason")
        model = _optional_str(data, "model") or default_model
        usage = _usage(data.get("usage"))
    except TypeError as exc:
        raise _garbage(provider, content, str(exc)) from None
    check_finish(finish, provider)
    return LLMResponse(text, provider, model, usage, finish, latency)


def parse_chunk(data: str, provider: str) -> str:
    """The text of one chat.completion.chunk event ("" for a usage-only chunk).

    Raises:
        Unavailable: The event is not such a chunk; or an error object without a known code.
        ProviderError: An error object with a known code (QuotaExhausted, Unauthorized).
        ContentBlocked: finish_reason ``content_filter``.
    """
    raw = data.encode("utf-8", errors="replace")
    chunk = decode(raw, provider)
    if isinstance(chunk, dict) and isinstance(chunk.get("error"), dict):
        raise _coded(provider, chunk["error"], None, 200) or Unavailable(
            f"provider {provider!r} sent an error in the stream: {_message(chunk)}",
            provider=provider,
        )
    try:
        if isinstance(chunk, dict) and chunk.get("choices") == []:
            return ""  # a usage-only chunk
        choice = _first_choice(chunk)
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise TypeError("choices[0].delta is not an object")
        text = _optional_str(delta, "content") or ""
        finish = _optional_str(choice, "finish_reason")
    except TypeError as exc:
        raise _garbage(provider, raw, str(exc)) from None
    check_finish(finish, provider)
    return text


# --- errors -------------------------------------------------------------------------------------


def _message(data: Mapping[str, object]) -> str:
    error = data.get("error")
    message = error.get("message") if isinstance(error, Mapping) else None
    return _text(message if message is not None else data)


def _coded(
    provider: str, error: Mapping[str, object], retry_after: float | None, status: int
) -> ProviderError | None:
    code = error.get("code")
    cls = _CODES.get(code) if isinstance(code, str) else None
    if cls is None:
        return None
    message = f"provider {provider!r} answered HTTP {status} {code}: {_message({'error': error})}"
    return cls(message, provider=provider, retry_after=retry_after, status=status)


def error_of(
    provider: str, status: int, headers: httpx.Headers | Mapping[str, str], content: bytes
) -> ProviderError:
    """The error for an error status: OpenAI's error code first, then the status.

    Args:
        provider: The provider's name.
        status: The HTTP status (>= 400).
        headers: The answer's headers (Retry-After, retry-after-ms).
        content: The start of the body (at most ERROR_BODY_BYTES are read).
    """
    retry_after = retry_after_of(headers)
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        assert isinstance(data, dict)
        coded = _coded(provider, error, retry_after, status)
        if coded is not None:
            return coded
        return error_for_status(provider, status, _message(data), retry_after)
    text = redact(content[: STATUS_EXCERPT * 4].decode("utf-8", errors="replace"))
    return error_for_status(provider, status, text, retry_after)


# --- headers ------------------------------------------------------------------------------------


def parse_duration(value: str | None) -> float | None:
    """Seconds in an OpenAI reset duration ("1s", "6m0s", "20ms", "1h2m3.5s", or a bare
    number of seconds), clamped to [0, MAX_RETRY_AFTER]; None if unreadable. Never raises.

    The whole text is matched once from its start (linear in its length); searching for the
    duration's parts at every position took time quadratic in it (seconds of CPU for a
    64 KiB header of digits).
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    if not _WHOLE_DURATION.fullmatch(text):
        return parse_seconds(text)  # a bare number of seconds, or not a duration at all
    parts = (parse_seconds(n, _UNITS[unit]) or 0.0 for n, unit in _DURATION.findall(text))
    return clamp_retry_after(sum(parts))


def retry_after_of(headers: httpx.Headers | Mapping[str, str]) -> float | None:
    """retry-after-ms, else Retry-After; clamped to [0, MAX_RETRY_AFTER]. Never raises."""
    millis = headers.get("retry-after-ms")
    seconds = None if millis is None else parse_seconds(millis, 0.001)
    return seconds if seconds is not None else parse_retry_after(headers.get("retry-after"))


def quota_of(headers: httpx.Headers | Mapping[str, str]) -> QuotaReport | None:
    """The requests window of x-ratelimit-*; the tokens window instead when it has none left.
    Never raises."""
    windows: dict[str, QuotaReport] = {}
    for kind in ("requests", "tokens"):
        remaining = parse_count(headers.get(f"x-ratelimit-remaining-{kind}"))
        if remaining is not None:
            reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
            windows[kind] = QuotaReport(remaining, reset)
    exhausted = [w for w in windows.values() if w.remaining == 0]
    if exhausted:
        return max(exhausted, key=lambda w: w.reset_after or 0.0)
    return windows.get("requests")
