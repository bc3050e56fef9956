"""The provider port: what the coordinator needs from a provider, and the records it returns.

A provider is small (as httpx's transport is): a ``name``, ``async health_check()`` and
``async aclose()``. An LLM provider adds ``generate`` and ``stream``; a search provider adds
``search``. Providers make exactly one attempt per call: retries belong to the coordinator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol, runtime_checkable

import attrs

__all__ = [
    "HealthCheckResult",
    "LLMProvider",
    "LLMResponse",
    "Provider",
    "QuotaReport",
    "ReportsQuota",
    "SearchProvider",
    "SearchResult",
    "SearchResults",
    "Usage",
]


@attrs.frozen
class Usage:
    """Token counts of one LLM call (0 when the provider did not say)."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@attrs.frozen
class LLMResponse:
    """A generated answer.

    Attributes:
        text: The generated text.
        provider: The provider that answered.
        model: The model that answered.
        usage: Token counts.
        finish_reason: Why generation stopped ("stop", "length", ...), if known.
        latency: Seconds from request to answer.
    """

    text: str
    provider: str
    model: str = ""
    usage: Usage = attrs.field(factory=Usage)
    finish_reason: str | None = None
    latency: float = 0.0


@attrs.frozen
class SearchResult:
    """One web search hit."""

    title: str
    url: str
    description: str = ""
    age: str | None = None


@attrs.frozen
class SearchResults:
    """The hits for one query."""

    query: str
    results: tuple[SearchResult, ...] = attrs.field(default=(), converter=tuple)
    provider: str = ""


@attrs.frozen
class HealthCheckResult:
    """The outcome of one active health check.

    Attributes:
        provider: The provider checked.
        healthy: Whether it answered as expected.
        latency: Seconds the check took.
        checked_at: When, in the clock's monotonic seconds.
        error: A short description of what went wrong (never a credential).
    """

    provider: str
    healthy: bool
    latency: float = 0.0
    checked_at: float = 0.0
    error: str | None = None


@attrs.frozen
class QuotaReport:
    """The quota a provider's response reported (from headers such as X-RateLimit-Remaining).

    Attributes:
        remaining: Requests left in the tightest window (0: none until the reset).
        reset_after: Seconds from the response until that window resets; None if unknown
            (a remaining of 0 without a reset time blocks nothing: there is no time to wait for).
    """

    remaining: int
    reset_after: float | None = None


@runtime_checkable
class Provider(Protocol):
    """What every provider offers."""

    @property
    def name(self) -> str:
        """A unique name (used for breakers, events, metrics, settings)."""
        ...

    async def health_check(self) -> HealthCheckResult:
        """Check the provider cheaply (no tokens spent where possible)."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once when the coordinator closes."""
        ...


@runtime_checkable
class LLMProvider(Provider, Protocol):
    """A provider that generates text."""

    async def generate(self, prompt: str | Mapping[str, object], **options: object) -> LLMResponse:
        """One generation: a prompt (or a provider-specific request mapping)."""
        ...

    def stream(self, prompt: str | Mapping[str, object], **options: object) -> AsyncIterator[str]:
        """The generated text as it arrives, chunk by chunk."""
        ...


@runtime_checkable
class SearchProvider(Provider, Protocol):
    """A provider that searches the web."""

    async def search(self, query: str, **options: object) -> SearchResults:
        """One search."""
        ...


@runtime_checkable
class ReportsQuota(Protocol):
    """A provider that learns its quota from its responses (optional, beside Provider).

    After every attempt, success or failure, the coordinator reads ``quota_report()``; a
    remaining of 0 skips the provider until the reset, without sending it a request.
    """

    def quota_report(self) -> QuotaReport | None:
        """The quota the most recent response reported; None when unknown."""
        ...
