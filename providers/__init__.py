"""I/O adapters: the providers a ``failover`` coordinator calls.

- ``GeminiProvider``: Gemini over its REST API (httpx); ``GeminiSDKProvider``: through the
  google-generativeai SDK (extra ``gemini-sdk``, deprecated); ``GeminiGenAIProvider``: through
  its successor, the google-genai SDK (extra ``genai``); both imported on first use.
- ``BraveSearchProvider``: Brave Web Search.
- ``OpenAICompatibleProvider``: OpenAI-compatible chat completions (OpenAI, Groq, Together,
  vLLM, Ollama).
- ``CallableProvider``: any sync or async Python callable.

Each maps its API's answers and failures onto the library's records and error tree at the
boundary (``providers._http`` for everything httpx raises). Importing the package registers the
kinds "gemini", "gemini-genai", "gemini-sdk", "brave", "openai" and "callable" with
``failover.registry``, so settings can build them (see ``register_builtin_kinds``).
"""

from __future__ import annotations

from typing import Any

from providers._registration import register_builtin_kinds
from providers.brave import BraveSearchProvider
from providers.callable import CallableProvider
from providers.gemini import GeminiProvider
from providers.openai import OpenAICompatibleProvider

__all__ = [
    "BraveSearchProvider",
    "CallableProvider",
    "GeminiGenAIProvider",
    "GeminiProvider",
    "GeminiSDKProvider",
    "OpenAICompatibleProvider",
    "register_builtin_kinds",
]

register_builtin_kinds()

_OPTIONAL = {
    "GeminiGenAIProvider": "providers.gemini_genai",
    "GeminiSDKProvider": "providers.gemini_sdk",
}


def __getattr__(name: str) -> Any:
    # GeminiSDKProvider and GeminiGenAIProvider need optional SDKs: imported on first use only.
    if name in _OPTIONAL:
        import importlib

        return getattr(importlib.import_module(_OPTIONAL[name]), name)
    raise AttributeError(f"module 'providers' has no attribute {name!r}")
