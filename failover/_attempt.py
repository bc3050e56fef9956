"""Attempt: one try of one provider within a coordinated request."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Attempt"]


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
