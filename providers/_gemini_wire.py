"""Gemini's wire format, pure: request bodies, responses, and errors onto the library's tree.

No I/O here: ``providers/gemini.py`` (REST) and ``providers/gemini_sdk.py`` (the SDK, whose
errors carry the same JSON body) both call these functions.

Error rows (``error_for``):

=====  ===========================================  ==========================================
HTTP   body                                         error
=====  ===========================================  ==========================================
429    a QuotaFailure violation whose quotaId has    QuotaExhausted, retry_after = until the
       "PerDay"                                     daily reset (midnight Pacific time)
429    anything else                                RateLimited, retry_after = RetryInfo's
                                                    retryDelay, else "retry in N s" of the
                                                    message, else the Retry-After header
400    ErrorInfo reason API_KEY_INVALID             Unauthorized
400    status FAILED_PRECONDITION (billing, region)  Unauthorized (the account cannot use the
                                                    API: the breaker opens, AUTH_FAILED)
400    anything else (INVALID_ARGUMENT)             BadRequest
401,   -                                            Unauthorized
403
404    -                                            NotFound
408,   -                                            ProviderTimeout
504
5xx    -                                            Unavailable
4xx    other                                        BadRequest
=====  ===========================================  ==========================================

Any body gives one of these errors, whatever it holds (not JSON, not UTF-8, nested too deeply,
fields of any type): a body that is not Google's error JSON is mapped by status alone, keeping
the Retry-After header (a 429 RateLimited, a 503 Unavailable). Messages show at most
``MESSAGE_CHARS`` of Google's message, secrets masked (``failover.secrets.redact``).

A 200 is decoded by ``providers/_gemini_response.py`` (re-exported here): ContentBlocked when
``promptFeedback.blockReason`` is set or the candidate stopped for a safety reason
(``BLOCKED_FINISH_REASONS``); Unavailable when the body is not the expected JSON or a field the
library reads is malformed (its module docstring holds the table).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from failover.errors import (
    BadRequest,
    NotFound,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
    clamp_retry_after,
    parse_seconds,
)
from failover.secrets import redact
from providers._gemini_response import (
    BLOCKED_FINISH_REASONS,
    Json,
    StreamEvent,
    check_blocked,
    decode_event,
    excerpt,
    finish_reason,
    llm_response,
    model_resource,
    parse_json,
    response_text,
    token_total,
    usage_of,
)

__all__ = [
    "BLOCKED_FINISH_REASONS",
    "CHARS_PER_TOKEN",
    "REQUEST_KEYS",
    "Json",
    "StreamEvent",
    "build_request",
    "check_blocked",
    "decode_event",
    "error_for",
    "estimate_tokens",
    "excerpt",
    "finish_reason",
    "llm_response",
    "model_resource",
    "parse_delay",
    "parse_json",
    "response_text",
    "seconds_to_daily_reset",
    "snake",
    "token_total",
    "usage_of",
]

MESSAGE_CHARS = 300
"""Characters of Google's error message shown in an error."""

REQUEST_KEYS = frozenset(
    {
        "contents",
        "systemInstruction",
        "generationConfig",
        "safetySettings",
        "tools",
        "toolConfig",
        "cachedContent",
    }
)
"""The keys a request mapping may hold (GenerateContentRequest's fields, camelCase)."""

_CONFIG_FIELDS = (  # noqa: SIM905 - one field list, read as such
    "stopSequences responseMimeType responseSchema responseJsonSchema responseModalities "
    "candidateCount maxOutputTokens temperature topP topK seed presencePenalty frequencyPenalty "
    "responseLogprobs logprobs enableEnhancedCivicAnswers speechConfig thinkingConfig "
    "mediaResolution"
).split()


def snake(name: str) -> str:
    """``maxOutputTokens`` -> ``max_output_tokens``."""
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


_OPTION_FIELDS = {**{f: f for f in _CONFIG_FIELDS}, **{snake(f): f for f in _CONFIG_FIELDS}}

CHARS_PER_TOKEN = 4
"""The offline estimate's ratio: Google's rule of thumb, about 4 characters per token."""

_DAILY_RESET_ZONE = "America/Los_Angeles"


# --- requests ------------------------------------------------------------------------------------


def build_request(prompt: str | Mapping[str, object], options: Mapping[str, object]) -> Json:
    """The JSON body of a generateContent / streamGenerateContent / countTokens request.

    Args:
        prompt: A text prompt (one user turn), or a mapping of ``REQUEST_KEYS``.
        options: generationConfig fields, snake_case or camelCase (``max_output_tokens=64``);
            they override the mapping's own generationConfig.

    Raises:
        BadRequest: An unknown key or option, or a prompt of another type.
    """
    if isinstance(prompt, str):
        body: Json = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    elif isinstance(prompt, Mapping):
        unknown = sorted(str(k) for k in prompt if k not in REQUEST_KEYS)
        if unknown:
            raise BadRequest(
                f"Gemini request keys {unknown!r} are not known; use {sorted(REQUEST_KEYS)}"
            )
        if "contents" not in prompt:
            raise BadRequest("a Gemini request mapping needs 'contents' (a list of Content)")
        body = dict(prompt)
    else:
        raise BadRequest(f"prompt must be a str or a mapping, got {type(prompt).__name__}")
    config = _generation_config(options)
    if config:
        base = body.get("generationConfig") or {}
        body["generationConfig"] = {**base, **config}
    return body


def _generation_config(options: Mapping[str, object]) -> Json:
    unknown = sorted(k for k in options if k not in _OPTION_FIELDS)
    if unknown:
        raise BadRequest(
            f"Gemini options {unknown!r} are not generationConfig fields; use e.g. "
            "temperature, max_output_tokens, top_p, top_k, stop_sequences, response_mime_type"
        )
    return {_OPTION_FIELDS[k]: v for k, v in options.items()}


def estimate_tokens(text: str) -> int:
    """Tokens in ``text`` by the offline rule of thumb (``CHARS_PER_TOKEN``), rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)


# --- errors --------------------------------------------------------------------------------------

_MESSAGE_DELAY = re.compile(
    r"retry in\s+([0-9]+(?:\.[0-9]+)?)\s*(ms|s|sec|secs|second|seconds)?\b", re.IGNORECASE
)
_DURATION = re.compile(r"\s*([+-]?[0-9]+(?:\.[0-9]+)?)s\s*")


def parse_delay(text: object) -> float | None:
    """Seconds of a google.protobuf.Duration in JSON ("26s", "1.5s", "-1s"), clamped to
    [0, MAX_RETRY_AFTER] (400 digits give MAX_RETRY_AFTER); None if not one. Never raises."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    return None if match is None else parse_seconds(match.group(1))


def _message_delay(message: str) -> float | None:
    """The "Please retry in 20.5s" (or "200ms") of a message, clamped like parse_delay."""
    match = _MESSAGE_DELAY.search(message)
    unit = 0.001 if match is not None and (match.group(2) or "").lower() == "ms" else 1.0
    return None if match is None else parse_seconds(match.group(1), unit)


def _text(value: object) -> str:
    """A wire value that should be a string: itself, or "" for anything else."""
    return value if isinstance(value, str) else ""


def _error_object(body: bytes | str) -> Json | None:
    """The ``error`` object of a google.rpc.Status body (also inside a one-item list)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deeply
        return None
    if isinstance(value, list) and value:
        value = value[0]
    error = value.get("error") if isinstance(value, dict) else None
    return error if isinstance(error, dict) else None


def _details(error: Json, kind: str) -> list[Json]:
    details = error.get("details")
    if not isinstance(details, list):
        return []
    suffix = f"google.rpc.{kind}"
    return [d for d in details if isinstance(d, dict) and _text(d.get("@type")).endswith(suffix)]


def _retry_delay(error: Json) -> float | None:
    for info in _details(error, "RetryInfo"):
        delay = parse_delay(info.get("retryDelay"))
        if delay is not None:
            return delay
    return _message_delay(_text(error.get("message")))


def _per_day(error: Json) -> bool:
    for failure in _details(error, "QuotaFailure"):
        violations = failure.get("violations")
        if isinstance(violations, list) and any(
            isinstance(v, dict) and "PerDay" in _text(v.get("quotaId")) for v in violations
        ):
            return True
    return False


def _reasons(error: Json) -> set[str]:
    return {_text(info.get("reason")) for info in _details(error, "ErrorInfo")}


def _message(status: int, error: Json) -> str:
    """ "Gemini answered HTTP 503 UNAVAILABLE: <Google's message>", shortened and redacted."""
    said = " ".join(_text(error.get("message")).split())
    if len(said) > MESSAGE_CHARS:
        said = said[:MESSAGE_CHARS] + "..."
    rpc_status = _text(error.get("status"))[:64]
    return redact(f"Gemini answered HTTP {status} {rpc_status}: {said}")


def seconds_to_daily_reset(now: datetime) -> float:
    """Seconds from ``now`` (aware, a current time: not datetime's first or last days) to the
    next midnight Pacific time, when daily quotas reset."""
    try:
        zone: ZoneInfo | timezone = ZoneInfo(_DAILY_RESET_ZONE)
    except ZoneInfoNotFoundError:  # no tz database: Pacific standard time
        zone = timezone(timedelta(hours=-8))
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
    return max((midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds(), 0.0)


def error_for(
    status: int,
    body: bytes | str,
    *,
    provider: str,
    retry_after: float | None = None,
    now: datetime | None = None,
) -> ProviderError:
    """The library's error for a Gemini error answer (see the module docstring's table).

    Args:
        status: The HTTP status (>= 400).
        body: The answer's body (a google.rpc.Status JSON, or anything else: then the
            error is the status's, with ``retry_after``).
        provider: The provider's name, for the error.
        retry_after: The Retry-After header, already parsed, if any.
        now: The wall-clock time (aware), for a daily quota's reset; default now.
    """
    error = _error_object(body)
    if error is None:
        message = f"Gemini answered HTTP {status}: {excerpt(body)}"
        return _by_status(status, message, provider, retry_after)
    rpc_status = _text(error.get("status"))
    message = _message(status, error)
    if status == 429:
        return _rate_limited(error, message, provider, retry_after, now)
    if status == 400:
        if "API_KEY_INVALID" in _reasons(error) or rpc_status == "FAILED_PRECONDITION":
            return Unauthorized(message, provider=provider, status=status)
        return BadRequest(message, provider=provider, status=status)
    return _by_status(status, message, provider, retry_after)


def _rate_limited(
    error: Json, message: str, provider: str, header: float | None, now: datetime | None
) -> ProviderError:
    delay = _retry_delay(error)
    if _per_day(error):
        until_reset = seconds_to_daily_reset(now or datetime.now(UTC))
        daily = clamp_retry_after(max(until_reset, delay or 0.0))  # a DST day lasts 25 h
        return QuotaExhausted(message, provider=provider, retry_after=daily, status=429)
    wait = delay if delay is not None else header
    return RateLimited(message, provider=provider, retry_after=wait, status=429)


_BY_STATUS: dict[int, type[ProviderError]] = {
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    408: ProviderTimeout,
    429: RateLimited,
    504: ProviderTimeout,
}


def _by_status(
    status: int, message: str, provider: str, retry_after: float | None = None
) -> ProviderError:
    default = BadRequest if 400 <= status < 500 else Unavailable
    cls = _BY_STATUS.get(status, default)
    return cls(message, provider=provider, status=status, retry_after=retry_after)
