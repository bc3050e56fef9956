"""The records a coordinated request leaves (internal; public in ``failover``): each
``Attempt``, the ``Result``, and the decision trace's ``Skip`` and ``SkipReason``.

They sit in the base layer because the errors carry them too (``AllProvidersFailed.attempts``,
``.skipped``); ``failover._coordinator.trace`` finds why a provider is skipped. The reasons are
listed in docs/reference/failover.md ("Decision trace").
"""

from __future__ import annotations

import enum
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = ["Attempt", "Result", "Skip", "SkipReason", "traced_result"]

T = TypeVar("T")


class SkipReason(enum.Enum):
    """Why a request did not attempt a provider."""

    NOT_SERVING = "not_serving"
    """The provider lacks the capability asked for (a search provider for generate)."""
    OPEN = "open"
    """Its breaker is OPEN (or HALF_OPEN past its probe window) until ``retry_at``."""
    PROBES_TAKEN = "probes_taken"
    """Its breaker is HALF_OPEN and every probe slot is taken (here or, shared, elsewhere)."""
    FORCED_OPEN = "forced_open"
    """An operator forced it open: only an operator's reset lifts it."""
    NO_QUOTA = "no_quota"
    """A client-side rate limit, the provider's Retry-After or its reported quota refuses a
    request until ``retry_at``; ``detail`` names which."""
    OUTRANKED = "outranked"
    """It would have admitted the call, but the request's attempts (or deadline) ran out on
    providers ranked before it."""


class Skip(NamedTuple):
    """One provider a request passed over (an immutable record).

    Attributes:
        provider: The provider's name.
        reason: Why.
        retry_at: When it may be tried again, on the coordinator's monotonic clock (None: not
            foreseeable, or now).
        retry_after: Seconds from the decision until ``retry_at`` (None when unknown).
        detail: What a person should read, such as "client-side limit per_minute = 60".
    """

    provider: str
    reason: SkipReason
    retry_at: float | None = None
    retry_after: float | None = None
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.provider}: {self.reason.value}"
        if self.detail:
            text += f" ({self.detail})"
        if self.retry_after is not None and self.reason is not SkipReason.NO_QUOTA:
            text += f", retry in {self.retry_after:.1f} s"  # NO_QUOTA's detail says each time
        return text


class Attempt(NamedTuple):
    """One attempt of a request at one provider (an immutable record).

    Attributes:
        provider: The provider tried.
        started_at: When, in the clock's monotonic seconds.
        duration: How long it took, in seconds.
        error: The provider's own error, or None for the answering attempt.
    """

    provider: str
    started_at: float
    duration: float
    error: BaseException | None = None

    @property
    def succeeded(self) -> bool:
        """Whether this attempt answered."""
        return self.error is None


class Result(NamedTuple, Generic[T]):
    """The answer of a coordinated request and how it was reached (an immutable record).

    A named tuple of three (``value, provider, attempts = result`` works); ``skipped`` is the
    decision trace beside them.

    Attributes:
        value: What the answering provider returned.
        provider: The provider that answered.
        attempts: Every attempt in order, the answering one last (its error is None).
    """

    value: T
    provider: str
    attempts: tuple[Attempt, ...]

    @property
    def skipped(self) -> tuple[Skip, ...]:
        """The providers the request examined and passed over before the answering attempt,
        each with why and when it may be tried again (``failover.Skip``); empty when its first
        pick answered (the others were ranked after it)."""
        found: tuple[Skip, ...] = getattr(self, "_skipped", ())
        return found


class _TracedResult(Result[Any]):
    """A Result that passed providers over: the same tuple, with its trace beside it (a plain
    Result, the common case, carries none and costs nothing for it)."""

    _skipped: tuple[Skip, ...]

    def __repr__(self) -> str:
        text = super().__repr__()
        return "Result" + text[text.index("(") :]


def traced_result(
    value: T, provider: str, attempts: tuple[Attempt, ...], skipped: tuple[Skip, ...]
) -> Result[T]:
    """``Result(value, provider, attempts)`` with ``skipped`` as its decision trace."""
    if not skipped:
        return Result(value, provider, attempts)
    result = _TracedResult(value, provider, attempts)
    result._skipped = skipped
    return result
