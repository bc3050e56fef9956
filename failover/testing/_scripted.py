"""ScriptedProvider: a provider whose every answer comes from a function (as httpx's
MockTransport is); re-exported by failover.testing."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Literal, TypeAlias

import attrs

from failover.provider import HealthCheckResult, LLMResponse, SearchResults, Usage

RequestKind: TypeAlias = Literal["generate", "stream", "search", "health_check"]


@attrs.frozen
class ScriptedRequest:
    """What a ScriptedProvider's handler is asked.

    Attributes:
        provider: The provider's name.
        kind: "generate", "stream", "search" or "health_check".
        payload: The prompt (str or mapping) or the query; None for a health check.
        options: The keyword options of the call.
    """

    provider: str
    kind: RequestKind
    payload: object = None
    options: Mapping[str, object] = attrs.field(factory=dict)


Handler: TypeAlias = Callable[[ScriptedRequest], object]
"""Returns (or raises, or awaits to) the answer: a str or LLMResponse for generate; an iterable
of str chunks (or an async iterator) for stream; SearchResults or an iterable of SearchResult for
search; a bool or HealthCheckResult for health_check."""


class ScriptedProvider:
    """A provider whose every answer comes from ``handler(request)``.

    It is an LLMProvider and a SearchProvider at once. Every request is kept in ``requests``;
    ``closed`` says whether ``aclose`` was called.
    """

    def __init__(self, name: str, handler: Handler, *, model: str = "scripted") -> None:
        if not callable(handler):
            raise TypeError(
                f"ScriptedProvider(name, handler) needs a callable handler, got {handler!r}"
            )
        self._name = name
        self.handler = handler
        self.model = model
        self.requests: list[ScriptedRequest] = []
        self.closed = False

    @property
    def name(self) -> str:
        """The provider's name."""
        return self._name

    async def _ask(
        self, kind: RequestKind, payload: object, options: Mapping[str, object]
    ) -> object:
        request = ScriptedRequest(self._name, kind, payload, dict(options))
        self.requests.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer

    async def generate(self, prompt: str | Mapping[str, object], **options: object) -> LLMResponse:
        """Ask the handler; a str answer becomes an LLMResponse."""
        answer = await self._ask("generate", prompt, options)
        if isinstance(answer, LLMResponse):
            return answer
        return LLMResponse(str(answer), self._name, self.model, Usage(), "stop")

    async def stream(
        self, prompt: str | Mapping[str, object], **options: object
    ) -> AsyncIterator[str]:
        """Ask the handler for chunks and yield them (the handler may raise mid-way)."""
        answer = await self._ask("stream", prompt, options)
        if hasattr(answer, "__aiter__"):
            async for chunk in answer:
                yield str(chunk)
            return
        for chunk in _iterable(answer):
            yield str(chunk)

    async def search(self, query: str, **options: object) -> SearchResults:
        """Ask the handler; an iterable of SearchResult becomes SearchResults."""
        answer = await self._ask("search", query, options)
        if isinstance(answer, SearchResults):
            return answer
        return SearchResults(query, tuple(_iterable(answer)), self._name)  # type: ignore[arg-type]

    async def health_check(self) -> HealthCheckResult:
        """Ask the handler; a bool becomes a HealthCheckResult."""
        answer = await self._ask("health_check", None, {})
        if isinstance(answer, HealthCheckResult):
            return answer
        return HealthCheckResult(self._name, bool(answer))

    async def aclose(self) -> None:
        """Mark the provider closed."""
        self.closed = True

    def __repr__(self) -> str:
        return f"ScriptedProvider({self._name!r})"


def _iterable(answer: object) -> Iterable[object]:
    if isinstance(answer, Iterable) and not isinstance(answer, str | bytes):
        return answer
    raise TypeError(f"ScriptedProvider handler returned {answer!r}; expected an iterable")
