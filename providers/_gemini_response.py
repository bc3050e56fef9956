"""Decoding Gemini's 200 answers, total: a record, ContentBlocked, or Unavailable, for any input.

Pure (no I/O): ``providers/gemini.py`` (REST) and ``providers/gemini_sdk.py`` (the SDK) both
decode through these functions, re-exported by ``providers/_gemini_wire.py``.

What a field may hold, and what anything else becomes:

===========================  ========================================  ========================
field                        read as                                    otherwise
===========================  ========================================  ========================
the body                     a JSON object (UTF-8, not nested too       Unavailable, its first
                             deeply for the parser)                     bytes in the message
``promptFeedback``           absent, null or an object                  Unavailable
``.blockReason``             absent, null, "" or a string (set:          Unavailable
                             ContentBlocked)
``candidates``               absent, null or a list (the first one      Unavailable
                             read; an object)
``.content``                 absent, null or an object                  Unavailable
``.content.parts``           absent, null or a list of objects          Unavailable
``.parts[].text``            absent, null or a string                   Unavailable
``.finishReason``            absent, null or a string                   Unavailable
``modelVersion``             absent, null or a string                   Unavailable
``usageMetadata``            absent, null or an object                  Unavailable
its token counts             absent, null or an int in 0..``MAX_TOKENS``  Unavailable
``totalTokens`` (count)      absent or an int in 0..``MAX_TOKENS``       Unavailable
===========================  ========================================  ========================

Fields the library does not read are ignored, whatever they hold. Every message built here
goes through ``failover.secrets.redact`` and shows at most a short excerpt of the answer.
"""

from __future__ import annotations

import json
from typing import Any, Final, NamedTuple, TypeAlias

from failover.errors import ContentBlocked, Unavailable
from failover.provider import LLMResponse, Usage
from failover.secrets import redact
from providers._http import body_excerpt

__all__ = [
    "BLOCKED_FINISH_REASONS",
    "MAX_TOKENS",
    "Json",
    "StreamEvent",
    "check_blocked",
    "decode_event",
    "excerpt",
    "finish_reason",
    "llm_response",
    "model_resource",
    "parse_json",
    "response_text",
    "token_total",
    "usage_of",
]

Json: TypeAlias = dict[str, Any]

MAX_TOKENS: Final = 10**12
"""The largest token count read from the wire (a larger one makes the answer malformed)."""
_SHOWN: Final = 120  # characters of a wire value shown in a message

BLOCKED_FINISH_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
"""Finish reasons that mean the provider refused the content (ContentBlocked)."""

_FINISH_NAMES = {"STOP": "stop", "MAX_TOKENS": "length"}
_KINDS: Final[dict[type, str]] = {dict: "an object", list: "an array", str: "a string"}
_USAGE_FIELDS = ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount")


def excerpt(body: bytes | str) -> str:
    """The first bytes of a body, for an error message (secrets masked)."""
    raw = body.encode("utf-8", errors="replace") if isinstance(body, str) else body
    return redact(body_excerpt(raw))


def _shown(value: object) -> str:
    """A short, safe description of a wire value (never a deep or huge repr)."""
    if isinstance(value, list | dict):
        kind = "an array" if isinstance(value, list) else "an object"
        return f"{kind} of {len(value)} items"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return "an int too large to show"
    if isinstance(value, str):
        value = value[: _SHOWN + 1]
    text = redact(repr(value))
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _malformed(provider: str, what: str, value: object) -> Unavailable:
    return Unavailable(
        f"Gemini answered a malformed response: {what}, got {_shown(value)}", provider=provider
    )


def parse_json(body: bytes | str, provider: str, what: str = "response") -> Json:
    """A JSON object body, or Unavailable quoting its first bytes (also for one nested too
    deeply for the parser)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        value = None
    if not isinstance(value, dict):
        raise Unavailable(f"Gemini {what} is not a JSON object: {excerpt(body)}", provider=provider)
    return value


def _optional(data: Json, key: str, kind: type, provider: str, where: str) -> Any:
    """``data[key]`` when absent or null (None) or of ``kind``; else Unavailable."""
    value = data.get(key)
    if value is None or isinstance(value, kind):
        return value
    raise _malformed(provider, f"{where}{key} must be {_KINDS[kind]}", value)


def check_blocked(data: Json, provider: str) -> None:
    """Raise ContentBlocked when the prompt or the first candidate was blocked.

    Raises:
        Unavailable: promptFeedback, its blockReason or the candidates are malformed.
    """
    feedback = _optional(data, "promptFeedback", dict, provider, "") or {}
    reason = _optional(feedback, "blockReason", str, provider, "promptFeedback.")
    if reason and reason != "BLOCK_REASON_UNSPECIFIED":
        raise ContentBlocked(
            f"Gemini blocked the prompt: blockReason={_shown(reason)}", provider=provider
        )
    finish = _optional(_first_candidate(data, provider), "finishReason", str, provider, "")
    if finish in BLOCKED_FINISH_REASONS:
        raise ContentBlocked(f"Gemini stopped the answer: finishReason={finish}", provider=provider)


def _first_candidate(data: Json, provider: str) -> Json:
    candidates = _optional(data, "candidates", list, provider, "")
    if not candidates:
        return {}
    first = candidates[0]
    if not isinstance(first, dict):
        raise _malformed(provider, "candidates[0] must be an object", first)
    return first


def _parts(candidate: Json, provider: str) -> list[Json]:
    content = _optional(candidate, "content", dict, provider, "candidates[0].") or {}
    parts = _optional(content, "parts", list, provider, "candidates[0].content.") or []
    for part in parts:
        if not isinstance(part, dict):
            what = "each of candidates[0].content.parts must be an object"
            raise _malformed(provider, what, part)
        _optional(part, "text", str, provider, "candidates[0].content.parts[].")
    return parts


def response_text(data: Json, provider: str, *, require: bool = True) -> str:
    """The text of the first candidate's parts (thought parts left out).

    Args:
        data: A GenerateContentResponse.
        provider: For the error.
        require: Whether a response without candidates is an error (a whole response) or
            not (a stream chunk, e.g. the last one holding only usage).

    Raises:
        ContentBlocked: The prompt or answer was blocked.
        Unavailable: ``require`` and no candidate at all, or a field read is malformed.
    """
    check_blocked(data, provider)
    candidate = _first_candidate(data, provider)
    if require and not candidate:
        keys = redact(", ".join(sorted(str(k)[:40] for k in data)[:10]))
        raise Unavailable(f"Gemini answered no candidates (keys: {keys})", provider=provider)
    parts = _parts(candidate, provider)
    return "".join(p.get("text") or "" for p in parts if not p.get("thought"))


def _count(meta: Json, key: str, provider: str, where: str = "usageMetadata.") -> int:
    value = meta.get(key)
    if value is None:
        return 0  # proto3 JSON leaves a 0 out
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        raise _malformed(provider, f"{where}{key} must be an int from 0 to {MAX_TOKENS}", value)
    return value


def usage_of(data: Json, provider: str = "") -> Usage | None:
    """Usage from ``usageMetadata`` (output counts thinking tokens too); None if absent.

    Raises:
        Unavailable: usageMetadata is not an object, or a count is not an int in
            0..MAX_TOKENS.
    """
    meta = _optional(data, "usageMetadata", dict, provider, "")
    if meta is None:
        return None
    prompt, candidates, thoughts = (_count(meta, key, provider) for key in _USAGE_FIELDS)
    total = _count(meta, "totalTokenCount", provider) if "totalTokenCount" in meta else None
    output = candidates + thoughts
    return Usage(prompt, output, prompt + output if total is None else total)


def finish_reason(data: Json, provider: str = "") -> str | None:
    """The first candidate's finishReason: "stop", "length", or the lowercased enum name.

    Raises:
        Unavailable: The candidates or the finishReason are malformed.
    """
    candidate = _first_candidate(data, provider)
    finish: str | None = _optional(candidate, "finishReason", str, provider, "")
    if not finish or finish == "FINISH_REASON_UNSPECIFIED":
        return None
    return _FINISH_NAMES.get(finish, finish.lower())


def llm_response(data: Json, provider: str, model: str, latency: float) -> LLMResponse:
    """A generateContent answer as an LLMResponse; usage is zeros when the answer has none.

    Raises:
        ContentBlocked: The prompt or answer was blocked.
        Unavailable: No candidate, or a field read is malformed (see the module's table).
    """
    text = response_text(data, provider)
    version = _optional(data, "modelVersion", str, provider, "")
    return LLMResponse(
        text=text,
        provider=provider,
        model=version or model,
        usage=usage_of(data, provider) or Usage(),
        finish_reason=finish_reason(data, provider),
        latency=latency,
    )


class StreamEvent(NamedTuple):
    """One decoded event of streamGenerateContent."""

    text: str
    """The event's text ("" for one holding only usage)."""
    usage: Usage | None
    """Its (cumulative) usage, if it has one."""
    finished: bool
    """Whether it carries a finishReason (the stream is complete)."""


def decode_event(event: str, provider: str) -> StreamEvent:
    """One SSE event's data (a GenerateContentResponse chunk), decoded.

    Raises:
        ContentBlocked: The prompt or answer was blocked.
        Unavailable: Not a JSON object, or a field read is malformed.
    """
    data = parse_json(event, provider, "stream event")
    text = response_text(data, provider, require=False)
    usage = usage_of(data, provider)
    return StreamEvent(text, usage, finish_reason(data, provider) is not None)


def token_total(data: Json, provider: str) -> int:
    """countTokens' ``totalTokens`` (absent: 0, which proto3 JSON leaves out).

    Raises:
        Unavailable: Not an int in 0..MAX_TOKENS.
    """
    return _count(data, "totalTokens", provider, "countTokens' ")


def model_resource(data: Json, provider: str) -> str:
    """The ``name`` of a Model resource (models.get), as a health check reads it.

    Raises:
        Unavailable: No name, or not a non-empty string.
    """
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise _malformed(provider, "the model resource needs a name (a non-empty string)", name)
    return name
