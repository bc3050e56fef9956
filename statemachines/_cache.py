"""A cache keyed by object identity, for what is derived from a frozen policy.

Equal policies may hold equal but distinct CustomState objects; a cache keyed by equality would
hand one policy's machine the other's state objects (so ``machine.state is MY_STATE`` would be
False). Keyed by identity, each policy gets what was built from its own objects; an entry goes
when its policy is garbage-collected.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["IdentityCache"]

K = TypeVar("K")
V = TypeVar("V")


class IdentityCache(Generic[K, V]):
    """``cache(key)`` computes ``build(key)`` once per live key object."""

    def __init__(self, build: Callable[[K], V]) -> None:
        self._build = build
        self._entries: dict[int, tuple[weakref.ref[K], V]] = {}

    def __call__(self, key: K) -> V:
        entry = self._entries.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        value = self._build(key)
        ident = id(key)
        ref = weakref.ref(key, lambda _: self._forget(ident, ref))
        self._entries[ident] = (ref, value)  # a plain dict store: atomic, no lock needed
        return value

    def _forget(self, ident: int, ref: weakref.ref[K]) -> None:
        # A race with a new entry under a reused id can only drop that entry: a cache miss later.
        entry = self._entries.get(ident)
        if entry is not None and entry[0] is ref:
            self._entries.pop(ident, None)
