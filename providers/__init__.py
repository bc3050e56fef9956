"""I/O adapters: the providers a ``failover`` coordinator calls.

It will hold adapters for Gemini (REST over httpx, and the google-generativeai SDK), Brave
Search, OpenAI-compatible chat APIs and any Python callable, each mapping its own errors onto the
library's error tree at the boundary. It builds on ``failover``.

Nothing is public yet: the code lands in later issues.
"""

from __future__ import annotations

__all__: list[str] = []
