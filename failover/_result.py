"""Result: what a coordinated request returns."""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs

from failover._attempt import Attempt

__all__ = ["Result"]

T = TypeVar("T")


@attrs.frozen
class Result(Generic[T]):
    """The answer of a coordinated request and how it was reached.

    Attributes:
        value: What the answering provider returned.
        provider: The provider that answered.
        attempts: Every attempt in order, the answering one last (its error is None).
    """

    value: T
    provider: str
    attempts: tuple[Attempt, ...]
