"""A fake OpenAI-compatible server (on providers.testing._server): bodies shaped as OpenAI's.

    fake = FakeOpenAI(Reply.json(completion("Hi")), key="sk-test")
    async with FakeServer(fake) as server:
        provider = OpenAICompatibleProvider(server.base_url, "sk-test", "gpt-test")

``FakeOpenAI(*replies, key=None)`` answers ``POST /v1/chat/completions`` with ``replies`` in
order (the last one repeats) and ``GET /v1/models`` with a model list; with ``key`` set, a
request without ``Authorization: Bearer <key>`` gets OpenAI's 401 ``invalid_api_key`` (whose
message shows the key masked, as OpenAI's does). Anything else is a 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from failover import BreakerPolicy, Coordinator, ManualClock, RetryPolicy
from failover.testing import ScriptedProvider, ScriptedRequest
from providers.openai import OpenAICompatibleProvider
from providers.testing._server import FakeRequest, FakeServer, Reply

__all__ = [
    "CALM",
    "KEY",
    "MODELS",
    "FakeOpenAI",
    "backup",
    "chunk",
    "collect",
    "completion",
    "coordinator",
    "error",
    "provider",
    "stream_events",
]

MODELS = {"object": "list", "data": [{"id": "gpt-test", "object": "model", "owned_by": "fake"}]}


def completion(
    text: str | None = "Hello!",
    *,
    model: str = "gpt-test",
    finish_reason: str | None = "stop",
    usage: tuple[int, int, int] | None = (5, 2, 7),
) -> dict[str, Any]:
    """A chat.completion body."""
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage is not None:
        prompt, output, total = usage
        body["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": output,
            "total_tokens": total,
        }
    return body


def chunk(
    content: str | None = None, *, role: str | None = None, finish_reason: str | None = None
) -> dict[str, Any]:
    """One chat.completion.chunk event."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def stream_events(*texts: str, done: bool = True) -> list[str | dict[str, Any]]:
    """The events of a streamed answer: a role chunk, one chunk per text, a finish chunk, a
    usage-only chunk and (unless ``done`` is false) ``[DONE]``."""
    events: list[str | dict[str, Any]] = [chunk(role="assistant", content="")]
    events += [chunk(text) for text in texts]
    events.append(chunk(finish_reason="stop"))
    events.append({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": []})
    return [*events, "[DONE]"] if done else events


def error(
    message: str, type_: str = "invalid_request_error", code: str | None = None
) -> dict[str, Any]:
    """OpenAI's error body."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class FakeOpenAI:
    """The handler (see the module docstring).

    Attributes:
        replies: The chat replies still to give (the last one repeats).
        key: The key requests must carry, or None to accept any.
    """

    def __init__(self, *replies: Reply, key: str | None = None) -> None:
        self.replies = list(replies) or [Reply.json(completion())]
        self.key = key

    def __call__(self, request: FakeRequest) -> Reply:
        if self.key is not None and request.headers.get("authorization") != f"Bearer {self.key}":
            given = request.headers.get("authorization", "").removeprefix("Bearer ")
            masked = f"{given[:3]}{'*' * 8}{given[-4:]}" if len(given) > 8 else "(none)"
            body = error(f"Incorrect API key provided: {masked}.", code="invalid_api_key")
            return Reply.json(body, status=401)
        if (request.method, request.path) == ("GET", "/v1/models"):
            return Reply.json(MODELS)
        if (request.method, request.path) == ("POST", "/v1/chat/completions"):
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return Reply.json(error(f"Unknown path {request.path}", code="unknown_url"), status=404)


# --- a test kit for coordinated runs (tests/providers/test_openai*.py) ---------------------------

KEY = "sk-test-0123456789"
"""The key the tests give their providers."""
CALM = BreakerPolicy(
    max_consecutive_failures=100, minimum_calls=100, open_jitter=0.0, open_duration=1.0
)
"""A policy that does not trip on plain failures (signals still open it, for 1 s at least)."""


def backup() -> ScriptedProvider:
    """A second provider that always answers "backup" (also as a one-chunk stream)."""

    def handler(request: ScriptedRequest) -> object:
        return ["backup"] if request.kind == "stream" else "backup"

    return ScriptedProvider("backup", handler)


def coordinator(*providers: Any, **kwargs: Any) -> tuple[Coordinator, ManualClock]:
    """A Coordinator on a fresh ManualClock: the first provider preferred, one attempt each."""
    clock = ManualClock()
    kwargs.setdefault("policy", CALM)
    kwargs.setdefault("strategy", "priority")
    kwargs.setdefault("priorities", {providers[0].name: 1})
    kwargs.setdefault("retry", RetryPolicy(max_attempts=len(providers)))
    return Coordinator(providers, clock=clock, hooks=(), seed=0, **kwargs), clock


def provider(server: FakeServer, **kwargs: Any) -> OpenAICompatibleProvider:
    """An OpenAICompatibleProvider of ``server`` with KEY and model "gpt-test"."""
    return OpenAICompatibleProvider(server.base_url, KEY, "gpt-test", **kwargs)


async def collect(stream: AsyncIterator[str], into: list[str]) -> None:
    """Read ``stream`` to its end into ``into``."""
    async for text in stream:
        into.append(text)
