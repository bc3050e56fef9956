"""Classification: what a finished call means for the breaker.

A classifier maps the exception a call raised (or its result, when it returned) to SUCCESS,
FAILURE or IGNORED, with an optional signal (RATE_LIMITED, AUTH_FAILED) and Retry-After. Rules
compose with ``|``: the first rule with an opinion wins, and ``default_classifier`` decides the
rest::

    classifier = ignore(KeyError) | failure_if_result(lambda r: r.status >= 500)

Default: the library's provider errors carry their own meaning (RateLimited -> FAILURE with
RATE_LIMITED and its retry_after; Unauthorized -> FAILURE with AUTH_FAILED; BadRequest and
ContentBlocked -> IGNORED, the caller's fault); any other Exception is a FAILURE; cancellation
(``asyncio.CancelledError``, ``KeyboardInterrupt``, ``GeneratorExit``) and other BaseExceptions
are IGNORED (a probe permit is released, nothing is recorded); a returned result is a SUCCESS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import attrs

from failover.errors import BadRequest, ContentBlocked, ProviderError
from statemachines import ConfigurationError, FailoverReason, Outcome

__all__ = [
    "FAILURE",
    "IGNORED",
    "NO_RESULT",
    "SUCCESS",
    "Classification",
    "Classifier",
    "Matcher",
    "Rule",
    "default_classifier",
    "failure",
    "failure_if_result",
    "ignore",
    "success",
]


@attrs.frozen
class Classification:
    """The verdict on one call.

    Attributes:
        outcome: SUCCESS, FAILURE or IGNORED (the breaker adds SLOW_ from the duration).
        signal: RATE_LIMITED or AUTH_FAILED when the provider said so.
        retry_after: The provider's Retry-After in seconds, if any.
    """

    outcome: Outcome
    signal: FailoverReason | None = None
    retry_after: float | None = None


SUCCESS = Classification(Outcome.SUCCESS)
FAILURE = Classification(Outcome.FAILURE)
IGNORED = Classification(Outcome.IGNORED)


class _NoResult:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_RESULT"


NO_RESULT: object = _NoResult()
"""The "result" of a guarded block (``with breaker.guard():``), which has none: result rules
(``failure_if_result``) leave it alone."""

Classifier: TypeAlias = Callable[[BaseException | None, object], Classification]
"""``(exception or None, result) -> Classification``."""

Matcher: TypeAlias = type[BaseException] | Callable[[BaseException], bool]


def default_classifier(exc: BaseException | None, result: object) -> Classification:
    """The default rules (see the module docstring)."""
    if exc is None:
        return SUCCESS
    if isinstance(exc, ProviderError):
        if isinstance(exc, BadRequest | ContentBlocked):
            return IGNORED
        if exc.signal is None and exc.retry_after is None:
            return FAILURE
        return Classification(Outcome.FAILURE, exc.signal, exc.retry_after)
    if isinstance(exc, Exception):
        return FAILURE
    return IGNORED  # cancellation, KeyboardInterrupt, GeneratorExit, SystemExit


class Rule:
    """A classification rule: an opinion on some calls, None on the others."""

    __slots__ = ("_describe", "_fn")

    def __init__(
        self, fn: Callable[[BaseException | None, object], Classification | None], describe: str
    ) -> None:
        self._fn = fn
        self._describe = describe

    def opinion(self, exc: BaseException | None, result: object) -> Classification | None:
        """This rule's verdict, or None when it has none."""
        return self._fn(exc, result)

    def __call__(self, exc: BaseException | None, result: object) -> Classification:
        return self.opinion(exc, result) or default_classifier(exc, result)

    def __or__(self, other: Rule) -> Rule:
        if not isinstance(other, Rule):
            return NotImplemented
        first, second = self.opinion, other.opinion
        return Rule(
            lambda e, r: first(e, r) or second(e, r), f"{self._describe} | {other._describe}"
        )

    def __repr__(self) -> str:
        return self._describe


def _matchers(name: str, matchers: tuple[Matcher, ...]) -> Callable[[BaseException], bool]:
    if not matchers:
        raise ConfigurationError(f"{name}() needs at least one exception type or predicate")
    types: list[type[BaseException]] = []
    predicates: list[Callable[[BaseException], bool]] = []
    for m in matchers:
        if isinstance(m, type):
            if not issubclass(m, BaseException):
                raise ConfigurationError(
                    f"{name}() takes exception types or predicates `exc -> bool`, got {m!r}"
                )
            types.append(m)
        elif callable(m):
            predicates.append(m)
        else:
            raise ConfigurationError(
                f"{name}() takes exception types or predicates `exc -> bool`, got {m!r}"
            )
    kinds = tuple(types)
    return lambda exc: isinstance(exc, kinds) or any(p(exc) for p in predicates)


def _describe(name: str, matchers: tuple[object, ...]) -> str:
    shown = (getattr(m, "__name__", repr(m)) for m in matchers)
    return f"{name}({', '.join(shown)})"


def ignore(*matchers: Matcher) -> Rule:
    """Exceptions matching any of ``matchers`` are IGNORED (not the provider's fault)."""
    match = _matchers("ignore", matchers)
    return Rule(
        lambda e, _: IGNORED if e is not None and match(e) else None, _describe("ignore", matchers)
    )


def failure(*matchers: Matcher) -> Rule:
    """Exceptions matching any of ``matchers`` are FAILUREs (e.g. a BaseException you count)."""
    match = _matchers("failure", matchers)
    return Rule(
        lambda e, _: FAILURE if e is not None and match(e) else None, _describe("failure", matchers)
    )


def success(*matchers: Matcher) -> Rule:
    """Exceptions matching any of ``matchers`` are SUCCESSes: the provider worked (e.g. a 404
    for an item that does not exist). The exception still reaches the caller."""
    match = _matchers("success", matchers)
    return Rule(
        lambda e, _: SUCCESS if e is not None and match(e) else None, _describe("success", matchers)
    )


def failure_if_result(predicate: Callable[[object], bool]) -> Rule:
    """A returned result for which ``predicate`` is true is a FAILURE (e.g. an error payload)."""
    if not callable(predicate):
        raise ConfigurationError(
            f"failure_if_result() takes a predicate `result -> bool`, got {predicate!r}"
        )
    return Rule(
        lambda e, r: FAILURE if e is None and r is not NO_RESULT and predicate(r) else None,
        _describe("failure_if_result", (predicate,)),
    )
