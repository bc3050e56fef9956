"""Result: what a coordinated request returns."""

from __future__ import annotations

from typing import Generic, NamedTuple, TypeVar

from failover._attempt import Attempt

__all__ = ["Result"]

T = TypeVar("T")


class Result(NamedTuple, Generic[T]):
    """The answer of a coordinated request and how it was reached (an immutable record).

    Attributes:
        value: What the answering provider returned.
        provider: The provider that answered.
        attempts: Every attempt in order, the answering one last (its error is None).
    """

    value: T
    provider: str
    attempts: tuple[Attempt, ...]
