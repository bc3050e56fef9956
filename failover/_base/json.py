"""Strict JSON for what the runtime writes: never NaN, Infinity or -Infinity.

JSON has no such numbers; Python's ``json.dumps`` writes them by default, and a strict parser
(``JSON.parse``, ``jq``, Go, Rust) then rejects the whole document. ``dumps`` writes a float
that is not finite as ``null``, as JavaScript's ``JSON.stringify`` does, and calls
``json.dumps`` with ``allow_nan=False``, so what it writes is always JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps", "finite"]


def finite(data: Any) -> Any:
    """``data`` with every float that is not finite replaced by None, in dicts, lists and
    tuples at any depth (a key by the name json gives it: "Infinity", "NaN"); anything else
    as it is."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {_key(key): finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [finite(value) for value in data]
    return data


def _key(key: Any) -> Any:
    return json.dumps(key) if isinstance(key, float) and not math.isfinite(key) else key


def dumps(data: Any, **kwargs: Any) -> str:
    """``json.dumps(data, allow_nan=False, **kwargs)``, with non-finite floats as null."""
    return json.dumps(finite(data), allow_nan=False, **kwargs)
