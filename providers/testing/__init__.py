"""Fake Gemini, Brave and OpenAI-compatible servers on a real loopback socket, speaking each
API's wire format: what the how-tos (docs/how-to/providers/) and the tests run the providers
against, shipped so that an installed package can run them too (no network, no key).

Each fake is an async context manager that listens on 127.0.0.1 at a free port::

    async with FakeGemini() as server:
        provider = GeminiProvider(api_key=KEY, base_url=server.url)

and is scripted per test (``server.script(*replies)``); the reply builders of each module
(``providers.testing.gemini.overloaded``, ``providers.testing.brave.brave_error``, ...) make
real-shaped answers and errors. They are test doubles: never point a real client at them
expecting a real answer.
"""

from __future__ import annotations

from providers.testing._server import FakeRequest, FakeServer, Reply, sequence
from providers.testing.brave import FakeBrave
from providers.testing.gemini import FakeGemini
from providers.testing.openai import FakeOpenAI

__all__ = [
    "FakeBrave",
    "FakeGemini",
    "FakeOpenAI",
    "FakeRequest",
    "FakeServer",
    "Reply",
    "sequence",
]
