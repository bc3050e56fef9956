"""Attempt and Result: what a coordinated request returns, and each try it made."""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, TypeVar

from failover._coordinator.trace import Skip

__all__ = ["Attempt", "Result", "traced_result"]

T = TypeVar("T")


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
