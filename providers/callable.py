"""Any Python callable as a provider: ``CallableProvider(fn, name)``.

``kind="llm"`` (the default) makes an LLMProvider: ``generate(prompt, **options)`` calls
``fn(prompt, **options)``, which returns a str or an LLMResponse; ``stream`` calls it too and
yields what it returns: the chunks of an (async) iterable or generator, or a str or
LLMResponse as one chunk. ``kind="search"`` makes a SearchProvider instead: ``search(query,
**options)`` calls ``fn(query, **options)``, which returns SearchResults or an iterable of
SearchResult. Each kind has only its own methods, so the coordinator sends it only the requests
it serves.

``fn`` may be sync or async (a coroutine function, an async generator function, or anything
returning an awaitable). A sync ``fn`` runs in a worker thread (``asyncio.to_thread``) so that a
blocking call does not stall the event loop; pass ``blocking=False`` for a quick function that
may run on the loop. Whatever ``fn`` raises propagates unchanged: raise the library's errors
(``RateLimited``, ``Unavailable``, ...) to say how it failed; any other exception counts as a
failure. A return value of the wrong type is an Unavailable.

``health``: an optional (sync or async) callable returning a bool, called by ``health_check``;
without one a CallableProvider is always healthy.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from failover.errors import ConfigurationError, Unavailable
from failover.provider import HealthCheckResult, LLMResponse, SearchResult, SearchResults

__all__ = ["CallableKind", "CallableProvider"]

CallableKind = Literal["llm", "search"]
_KINDS: tuple[CallableKind, ...] = ("llm", "search")
_DONE = object()


def _is_async(fn: Callable[..., Any]) -> bool:
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object's async __call__
    return any(inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f) for f in (fn, call))


class CallableProvider:
    """A provider around a callable (see the module docstring).

    Args:
        fn: The callable: ``fn(prompt, **options)`` or ``fn(query, **options)``.
        name: The provider's name.
        kind: "llm" (generate and stream) or "search".
        health: A callable returning whether the provider is healthy; None: always healthy.
        blocking: Run a sync ``fn`` (and ``health``) in a worker thread (default); False runs
            it on the event loop.
        model: The model named in the LLMResponses built from a str.

    Raises:
        ConfigurationError: ``fn`` or ``health`` is not callable, a bad kind or name.
    """

    def __new__(
        cls,
        fn: Callable[..., Any],
        name: str,
        *,
        kind: CallableKind = "llm",
        health: Callable[[], Any] | None = None,
        blocking: bool = True,
        model: str = "",
    ) -> CallableProvider:
        if cls is not CallableProvider:
            return super().__new__(cls)
        if kind not in _KINDS:
            raise ConfigurationError(f"kind must be one of {list(_KINDS)!r}, got {kind!r}")
        target = _CallableLLMProvider if kind == "llm" else _CallableSearchProvider
        return super().__new__(target)

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str,
        *,
        kind: CallableKind = "llm",
        health: Callable[[], Any] | None = None,
        blocking: bool = True,
        model: str = "",
    ) -> None:
        if not callable(fn):
            raise ConfigurationError(f"fn must be callable, got {fn!r}")
        if health is not None and not callable(health):
            raise ConfigurationError(f"health must be callable or None, got {health!r}")
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a provider name must be a non-empty string, got {name!r}")
        self.fn = fn
        self.kind: CallableKind = kind
        self.health = health
        self.blocking = blocking
        self.model = model
        self._name = name

    @property
    def name(self) -> str:
        """The provider's name."""
        return self._name

    async def _invoke(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``: in a thread when sync and blocking; awaited if awaitable."""
        if self.blocking and not _is_async(fn):
            result = await asyncio.to_thread(fn, *args, **kwargs)
        else:
            result = fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def health_check(self) -> HealthCheckResult:
        """Ask ``health`` (always healthy without one); an exception is unhealthy."""
        started = time.perf_counter()
        error: str | None = None
        if self.health is not None:
            try:
                if not await self._invoke(self.health):
                    error = "health() returned a false value"
            except Exception as exc:
                error = f"health() raised {type(exc).__name__}"
        latency = time.perf_counter() - started
        return HealthCheckResult(self._name, error is None, latency, time.monotonic(), error)

    async def aclose(self) -> None:
        """Nothing to release."""

    def _wrong(self, what: str, value: object) -> Unavailable:
        return Unavailable(
            f"provider {self._name!r}: fn returned a {type(value).__name__}; {what}",
            provider=self._name,
        )

    def __repr__(self) -> str:
        fn = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        return f"CallableProvider({fn}, name={self._name!r}, kind={self.kind!r})"


class _CallableLLMProvider(CallableProvider):
    """A CallableProvider of kind "llm"."""

    async def generate(self, prompt: str | Mapping[str, object], **options: object) -> LLMResponse:
        """``fn(prompt, **options)`` as an LLMResponse (a str is its text)."""
        started = time.perf_counter()
        value = await self._invoke(self.fn, prompt, **options)
        latency = time.perf_counter() - started
        if isinstance(value, LLMResponse):
            return value
        if isinstance(value, str):
            return LLMResponse(value, self._name, self.model, latency=latency)
        raise self._wrong("generate needs a str or an LLMResponse", value)

    async def stream(
        self, prompt: str | Mapping[str, object], **options: object
    ) -> AsyncIterator[str]:
        """The chunks ``fn(prompt, **options)`` produces (a str or LLMResponse: one chunk)."""
        if inspect.isasyncgenfunction(self.fn):
            value: Any = self.fn(prompt, **options)
        else:
            value = await self._invoke(self.fn, prompt, **options)
        if isinstance(value, LLMResponse):
            value = value.text
        if isinstance(value, str):
            if value:
                yield value
        elif isinstance(value, AsyncIterable):
            async for chunk in value:
                yield self._chunk(chunk)
        elif isinstance(value, Iterable):
            chunks = iter(value)
            while (chunk := await self._next(chunks)) is not _DONE:
                yield self._chunk(chunk)
        else:
            raise self._wrong("stream needs a str, an LLMResponse or an iterable of str", value)

    async def _next(self, chunks: Iterator[object]) -> object:
        if self.blocking:
            return await asyncio.to_thread(next, chunks, _DONE)
        return next(chunks, _DONE)

    def _chunk(self, chunk: object) -> str:
        if isinstance(chunk, str):
            return chunk
        raise self._wrong("each chunk of a stream must be a str", chunk)


class _CallableSearchProvider(CallableProvider):
    """A CallableProvider of kind "search"."""

    async def search(self, query: str, **options: object) -> SearchResults:
        """``fn(query, **options)`` as SearchResults."""
        value = await self._invoke(self.fn, query, **options)
        if isinstance(value, SearchResults):
            return value
        if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
            results = tuple(value)
            if all(isinstance(r, SearchResult) for r in results):
                return SearchResults(query, results, self._name)
        raise self._wrong("search needs SearchResults or an iterable of SearchResult", value)
