"""A fake Gemini API (generativelanguage.googleapis.com) on a FakeServer, speaking its wire format.

Scriptable per test: ``FakeGemini.script(*replies)`` queues the answers to the next requests
(any endpoint but the model GET); once the queue is empty each endpoint answers by default:

- ``POST /v1beta/models/{model}:generateContent`` -> a GenerateContentResponse with ``text``;
- ``POST .../{model}:streamGenerateContent?alt=sse`` -> SSE events (``data: {...}`` + CRLF CRLF),
  one word of ``text`` per event, usage cumulative, the last one with finishReason and totals;
  without ``alt=sse`` (the SDK's REST transport) the same records as one JSON array;
- ``POST .../{model}:countTokens`` -> ``{"totalTokens": n}``;
- ``GET /v1beta/models/{model}`` -> the Model resource (404 NOT_FOUND for another model).

Like Google, it checks the ``x-goog-api-key`` header first: a missing or wrong key is answered
400 INVALID_ARGUMENT with an ErrorInfo of reason API_KEY_INVALID. The reply builders below
(``rate_limited``, ``overloaded``, ``blocked_prompt``, ...) make real-shaped google.rpc errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from providers.testing._server import FakeRequest, FakeServer, Reply

__all__ = [
    "KEY",
    "MODEL",
    "FakeGemini",
    "bad_key",
    "blocked_answer",
    "blocked_prompt",
    "deadline_exceeded",
    "error_body",
    "error_info",
    "failed_precondition",
    "garbage",
    "html_page",
    "internal",
    "invalid_argument",
    "not_found",
    "ok",
    "overloaded",
    "permission_denied",
    "quota_failure",
    "rate_limited",
    "reset_mid_body",
    "response_body",
    "retry_info",
    "slow",
    "stream",
    "stream_chunks",
    "unauthenticated",
]

KEY = "AIzaSyFAKE-test-key-0123456789abcdef"
"""The key the fake accepts by default (shaped like a real one, so leaks are easy to grep)."""
MODEL = "gemini-2.5-flash"
VERSION = "v1beta"
RPC = "type.googleapis.com/google.rpc."

# --- google.rpc.Status bodies --------------------------------------------------------------------


def retry_info(delay: str) -> dict[str, Any]:
    """A google.rpc.RetryInfo detail (``delay`` a Duration in JSON: "26s", "1.5s")."""
    return {"@type": RPC + "RetryInfo", "retryDelay": delay}


def quota_failure(*quota_ids: str) -> dict[str, Any]:
    """A google.rpc.QuotaFailure detail with one violation per quotaId."""
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    return {
        "@type": RPC + "QuotaFailure",
        "violations": [
            {
                "quotaMetric": metric,
                "quotaId": quota_id,
                "quotaDimensions": {"location": "global", "model": MODEL},
                "quotaValue": "10",
            }
            for quota_id in quota_ids
        ],
    }


def error_info(reason: str) -> dict[str, Any]:
    """A google.rpc.ErrorInfo detail."""
    return {
        "@type": RPC + "ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }


def _help() -> dict[str, Any]:
    return {
        "@type": RPC + "Help",
        "links": [
            {
                "description": "Learn more about Gemini API quotas",
                "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
            }
        ],
    }


def error_body(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    """A google.rpc.Status error body, as Google sends it."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}


def _error(code: int, status: str, message: str, *details: dict[str, Any], **kw: Any) -> Reply:
    return Reply.json(error_body(code, status, message, *details), status=code, **kw)


# --- error replies -------------------------------------------------------------------------------

_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)


def rate_limited(
    delay: str | None = "26s",
    *,
    per_day: bool = False,
    message_delay: str | None = None,
    retry_after_header: str | None = None,
) -> Reply:
    """429 RESOURCE_EXHAUSTED: QuotaFailure (per minute, or per day too), Help, RetryInfo.

    Args:
        delay: RetryInfo's retryDelay; None leaves RetryInfo out.
        per_day: Whether the daily request quota is among the violations.
        message_delay: Appended to the message as "Please retry in <it>." (e.g. "20.5s").
        retry_after_header: A Retry-After header.
    """
    ids = ["GenerateRequestsPerMinutePerProjectPerModel-FreeTier"]
    if per_day:
        ids.append("GenerateRequestsPerDayPerProjectPerModel-FreeTier")
    details = [quota_failure(*ids), _help()]
    if delay is not None:
        details.append(retry_info(delay))
    message = _QUOTA_MESSAGE + (f" Please retry in {message_delay}." if message_delay else "")
    headers = {"retry-after": retry_after_header} if retry_after_header else None
    return _error(429, "RESOURCE_EXHAUSTED", message, *details, headers=headers)


def bad_key() -> Reply:
    """Google's answer to a missing or invalid key: 400 with ErrorInfo API_KEY_INVALID."""
    message = "API key not valid. Please pass a valid API key."
    localized = {"@type": RPC + "LocalizedMessage", "locale": "en-US", "message": message}
    return _error(400, "INVALID_ARGUMENT", message, error_info("API_KEY_INVALID"), localized)


def failed_precondition(message: str = "User location is not supported for the API use.") -> Reply:
    """400 FAILED_PRECONDITION (an unsupported region, or billing not enabled)."""
    return _error(400, "FAILED_PRECONDITION", message)


def invalid_argument(message: str = "Invalid JSON payload received.") -> Reply:
    """400 INVALID_ARGUMENT: the request itself is wrong."""
    return _error(400, "INVALID_ARGUMENT", message)


def unauthenticated() -> Reply:
    """401 UNAUTHENTICATED."""
    return _error(
        401, "UNAUTHENTICATED", "Request had invalid authentication credentials.",
        error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    )  # fmt: skip


def permission_denied() -> Reply:
    """403 PERMISSION_DENIED (the API is disabled for the key's project)."""
    message = "Generative Language API has not been used in project 1234 before or it is disabled."
    return _error(403, "PERMISSION_DENIED", message, error_info("SERVICE_DISABLED"))


def not_found(model: str = "gemini-9-ultra") -> Reply:
    """404 NOT_FOUND for a model."""
    message = f"models/{model} is not found for API version {VERSION}, or is not supported."
    return _error(404, "NOT_FOUND", message)


def internal() -> Reply:
    """500 INTERNAL."""
    return _error(500, "INTERNAL", "An internal error has occurred. Please retry.")


def overloaded(retry_after_header: str | None = None) -> Reply:
    """503 UNAVAILABLE: the model is overloaded."""
    headers = {"retry-after": retry_after_header} if retry_after_header else None
    message = "The model is overloaded. Please try again later."
    return _error(503, "UNAVAILABLE", message, headers=headers)


def deadline_exceeded() -> Reply:
    """504 DEADLINE_EXCEEDED."""
    return _error(504, "DEADLINE_EXCEEDED", "The request timed out. Please try again.")


def html_page(status: int = 200) -> Reply:
    """An HTML page instead of JSON (a proxy's, a captive portal's)."""
    return Reply.html("<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>",
                      status=status)  # fmt: skip


def garbage() -> Reply:
    """A 200 whose body is JSON but not a GenerateContentResponse."""
    return Reply.json(["not", "a", "response"])


# --- successes -----------------------------------------------------------------------------------


def response_body(
    text: str,
    *,
    finish: str | None = "STOP",
    usage: tuple[int, int] = (5, 7),
    model_version: str = MODEL,
    block_reason: str | None = None,
) -> dict[str, Any]:
    """A GenerateContentResponse (usage as (prompt tokens, candidate tokens))."""
    prompt, output = usage
    body: dict[str, Any] = {
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": output,
            "totalTokenCount": prompt + output,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        },
        "modelVersion": model_version,
        "responseId": "fake-response-id",
    }
    if block_reason is not None:
        body["promptFeedback"] = {"blockReason": block_reason}
        del body["usageMetadata"]["candidatesTokenCount"]
        body["usageMetadata"]["totalTokenCount"] = prompt
        return body
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    body["candidates"] = [{**candidate, "index": 0}]
    return body


def ok(text: str = "Hello from Gemini", **kw: Any) -> Reply:
    """A 200 GenerateContentResponse."""
    return Reply.json(response_body(text, **kw))


def blocked_prompt(reason: str = "SAFETY") -> Reply:
    """A 200 whose promptFeedback.blockReason is set (no candidates)."""
    return Reply.json(response_body("", block_reason=reason))


def blocked_answer(finish: str = "SAFETY", text: str = "") -> Reply:
    """A 200 whose candidate stopped for a safety reason."""
    return Reply.json(response_body(text, finish=finish))


def stream_chunks(
    pieces: Sequence[str], *, prompt_tokens: int = 5, finish: str = "STOP"
) -> list[dict[str, Any]]:
    """The records of a stream: one per piece, usage cumulative, the last with finishReason."""
    records = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        record = response_body(
            piece, finish=finish if last else None, usage=(prompt_tokens, index + 1)
        )
        records.append(record)
    return records


def stream(pieces: Sequence[str], *, cut_after: int | None = None, finish: str = "STOP") -> Reply:
    """An SSE stream of ``stream_chunks(pieces)``; ``cut_after=n`` cuts it after n events."""
    chunks = [
        b"data: " + json.dumps(r).encode() + b"\r\n\r\n"
        for r in stream_chunks(pieces, finish=finish)
    ]
    headers = {"content-type": "text/event-stream"}
    return Reply(200, headers, b"", chunks=chunks, cut_after=cut_after)


def slow(reply: Reply, release: asyncio.Event) -> Reply:
    """``reply`` held back until ``release`` is set (a slow first byte)."""
    reply.hold = release
    return reply


def reset_mid_body(reply: Reply | None = None) -> Reply:
    """``reply`` (a success by default) cut by a TCP reset halfway through its body."""
    reply = reply or ok("a long answer that will never arrive whole " * 4)
    reply.reset_mid_body = True
    return reply


# --- the server ----------------------------------------------------------------------------------

_FINISH_NUMBERS = {"STOP": 1, "MAX_TOKENS": 2, "SAFETY": 3, "RECITATION": 4, "OTHER": 5}
_BLOCK_NUMBERS = {"SAFETY": 1, "OTHER": 2, "BLOCKLIST": 3, "PROHIBITED_CONTENT": 4}


class FakeGemini:
    """The fake API; ``async with FakeGemini() as gemini:`` then point a provider at
    ``gemini.base_url``.

    Attributes:
        api_key: The only key accepted.
        model: The only model served.
        text: The default answer.
        queue: Scripted replies for the next requests, in order.
        server: The FakeServer (its ``requests`` are every request received).
    """

    def __init__(self, *, api_key: str = KEY, model: str = MODEL, text: str = "Hello from Gemini"):
        self.api_key = api_key
        self.model = model
        self.text = text
        self.queue: list[Reply] = []
        self.server = FakeServer(self.handle)

    async def __aenter__(self) -> FakeGemini:
        await self.server.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.server.__aexit__(*exc_info)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.base_url

    @property
    def requests(self) -> list[FakeRequest]:
        """Every request received."""
        return self.server.requests

    def script(self, *replies: Reply) -> FakeGemini:
        """Queue ``replies`` for the next requests (then the defaults again)."""
        self.queue.extend(replies)
        return self

    def handle(self, request: FakeRequest) -> Reply:
        """Answer one request (see the module docstring)."""
        if request.headers.get("x-goog-api-key") != self.api_key:
            return bad_key()
        model_path = f"/{VERSION}/models/{self.model}"
        if request.method == "GET" and request.path.startswith(f"/{VERSION}/models/"):
            return self._model(request, model_path)
        if self.queue:
            return self._encoded(request, self.queue.pop(0))
        if not request.path.startswith(model_path + ":"):
            return not_found(request.path.rsplit("/", 1)[-1].split(":")[0])
        return self._encoded(request, self._default(request.path.rsplit(":", 1)[-1]))

    def _model(self, request: FakeRequest, model_path: str) -> Reply:
        if request.path != model_path:
            return not_found(request.path.rsplit("/", 1)[-1])
        return Reply.json(
            {
                "name": f"models/{self.model}",
                "version": "001",
                "displayName": "Gemini 2.5 Flash",
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
        )

    def _default(self, method: str) -> Reply:
        if method == "generateContent":
            return ok(self.text)
        if method == "streamGenerateContent":
            words = self.text.split(" ")
            return stream([w + " " for w in words[:-1]] + words[-1:])
        if method == "countTokens":
            return Reply.json({"totalTokens": max(1, len(self.text) // 4)})
        return invalid_argument(f"Unknown method {method!r}.")

    def _encoded(self, request: FakeRequest, reply: Reply) -> Reply:
        """``reply`` as the request asked it: SSE for ``alt=sse``; for the SDK's
        ``$alt=json;enum-encoding=int``, a stream is one JSON array and enums are numbers."""
        alt = request.query.get("$alt", "")
        if reply.chunks is None or request.query.get("alt") == "sse":
            if "enum-encoding=int" in alt and isinstance(reply.body, dict):
                reply.body = _numbered(reply.body)
            return reply
        records = [json.loads(c.decode().removeprefix("data: ")) for c in reply.chunks]
        if "enum-encoding=int" in alt:
            records = [_numbered(r) for r in records]
        pieces = [json.dumps(r).encode() for r in records]
        chunks = [b"[" + pieces[0]] + [b",\r\n" + p for p in pieces[1:]]
        chunks[-1] += b"]"
        headers = {"content-type": "application/json; charset=UTF-8"}
        return Reply(200, headers, b"", chunks=chunks, cut_after=reply.cut_after, hold=reply.hold)


def _numbered(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with finishReason and blockReason as enum numbers (enum-encoding=int)."""
    record = json.loads(json.dumps(record))
    for candidate in record.get("candidates", []):
        if candidate.get("finishReason") in _FINISH_NUMBERS:
            candidate["finishReason"] = _FINISH_NUMBERS[candidate["finishReason"]]
    feedback = record.get("promptFeedback", {})
    if feedback.get("blockReason") in _BLOCK_NUMBERS:
        feedback["blockReason"] = _BLOCK_NUMBERS[feedback["blockReason"]]
    return record
