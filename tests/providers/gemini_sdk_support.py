"""Shared by the Gemini SDK adapters' hardening tests (GeminiSDKProvider, GeminiGenAIProvider): a
loopback server answering exactly the bytes a test gives, the provider built on it, leak
checks, and the JSON the totality properties feed them."""

from __future__ import annotations

import json
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import strategies as st

from providers.gemini_sdk import GeminiSDKProvider
from providers.testing import gemini as fake
from providers.testing._server import FakeRequest, FakeServer, Reply

KEY = "AIzaSy-SDK-HARDENING-9d8c7b6a5f4e3d2c1b"
LIMIT = 16 * 1024
JSON_TYPE = {"content-type": "application/json; charset=UTF-8"}

# Any JSON, and records shaped like a GenerateContentResponse with any values in their fields:
# what the totality properties of the SDK adapters feed them.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "candidates": JSON | st.lists(st.fixed_dictionaries({}, optional={
            "content": JSON | st.fixed_dictionaries({}, optional={"parts": JSON, "role": JSON}),
            "finishReason": JSON,
        }), max_size=2),
        "usageMetadata": JSON | st.dictionaries(
            st.sampled_from(["promptTokenCount", "candidatesTokenCount", "totalTokenCount"]), JSON
        ),
        "promptFeedback": JSON,
    },
)  # fmt: skip


class Raw:
    """What the server answers next: ``reply`` to every request (its ``requests`` kept)."""

    def __init__(self) -> None:
        self.reply = Reply(200, JSON_TYPE, b"{}")
        self.requests: list[FakeRequest] = []

    def __call__(self, request: FakeRequest) -> Reply:
        self.requests.append(request)
        return self.reply

    def body(self, body: bytes, *, status: int = 200, chunked: bool = False) -> None:
        """Answer ``body`` (in 1 KiB chunks of a chunked body when ``chunked``)."""
        if chunked:
            pieces = [body[i : i + 1024] for i in range(0, len(body), 1024)] or [b""]
            self.reply = Reply(status, dict(JSON_TYPE), b"", chunks=pieces)
        else:
            self.reply = Reply(status, dict(JSON_TYPE), body)


@asynccontextmanager
async def raw_provider() -> AsyncIterator[tuple[Raw, GeminiSDKProvider]]:
    """A ``Raw`` script, and a provider (max_response_bytes=LIMIT) on a server answering it."""
    script = Raw()
    async with FakeServer(script) as server:
        with pytest.warns(DeprecationWarning, match="gemini-genai"):
            provider = GeminiSDKProvider(
                fake.MODEL, api_key=KEY, base_url=server.base_url, max_response_bytes=LIMIT
            )
        yield script, provider
        await provider.aclose()


def answer(text: str = "hi", finish: str | None = "STOP", **extra: Any) -> dict[str, Any]:
    """A GenerateContentResponse record."""
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **extra}


def array(*records: object) -> bytes:
    """A stream as the SDK's REST transport receives it: one JSON array."""
    return ("[" + ",\r\n".join(json.dumps(r) for r in records) + "]").encode()


async def read(provider: GeminiSDKProvider, into: list[str] | None = None) -> list[str]:
    received = [] if into is None else into
    async for chunk in provider.stream("Hi"):
        received.append(chunk)
    return received


WINDOW = 12


def leaks(text: str, key: str = KEY) -> list[str]:
    """The pieces of ``key`` (WINDOW characters) found in ``text``."""
    return [
        key[i : i + WINDOW] for i in range(len(key) - WINDOW + 1) if key[i : i + WINDOW] in text
    ]


def shown(exc: BaseException) -> str:
    """Everything an exception shows: its traceback (chained ones too), str, repr, args."""
    texts = ["".join(traceback.format_exception(exc))]
    current: BaseException | None = exc
    while current is not None:
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(texts)
