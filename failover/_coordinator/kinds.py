"""The kinds of request a coordinator runs, numbered: an index into a slot's ``serves`` and the
telemetry's per-kind tables; ``KINDS`` names them (``call``, ``generate``, ``stream``,
``search``)."""

from __future__ import annotations

__all__ = ["CALL", "GENERATE", "KINDS", "SEARCH", "STREAM"]

CALL, GENERATE, STREAM, SEARCH = 0, 1, 2, 3
KINDS = ("call", "generate", "stream", "search")
