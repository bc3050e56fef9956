"""The library's errors. Every error it raises is a FailoverError::

    FailoverError
    ├── ConfigurationError (also ValueError)         a policy, setting or argument is invalid
    ├── IllegalTransitionError (also RuntimeError)   a transition the policy does not declare
    ├── CallNotPermitted                             the breaker rejected the call (OPEN, ...)
    ├── ProviderError                                a provider failed; carries its name
    │   ├── RateLimited                              429 / too many requests; retry_after
    │   ├── QuotaExhausted                           a quota (per day, per month) is used up
    │   ├── Unauthorized                             credentials rejected (401/403)
    │   ├── BadRequest                               the request itself is wrong (any provider)
    │   ├── NotFound                                 model or endpoint not found
    │   ├── ContentBlocked                           the provider refused the content
    │   ├── Unavailable                              5xx, connection failure, garbage body
    │   └── ProviderTimeout (also TimeoutError)      no answer in time
    ├── AllProvidersFailed                           every attempt failed; carries them all
    ├── AllProvidersUnavailable                      no provider admitted a call; retry_at
    └── StreamInterrupted                            a stream broke after its first chunk;
                                                     text_so_far, the provider's error as cause

ConfigurationError, IllegalTransitionError and FailoverError are defined once, in the pure core
(``statemachines``), and re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from statemachines import (
    ConfigurationError,
    FailoverError,
    FailoverReason,
    IllegalTransitionError,
    State,
)

if TYPE_CHECKING:
    from failover._attempt import Attempt

__all__ = [
    "AllProvidersFailed",
    "AllProvidersUnavailable",
    "BadRequest",
    "CallNotPermitted",
    "ConfigurationError",
    "ContentBlocked",
    "FailoverError",
    "IllegalTransitionError",
    "NotFound",
    "ProviderError",
    "ProviderTimeout",
    "QuotaExhausted",
    "RateLimited",
    "StreamInterrupted",
    "Unauthorized",
    "Unavailable",
]


class CallNotPermitted(FailoverError):
    """The breaker rejected the call without reaching the provider.

    Attributes:
        provider: The breaker's provider.
        state: The state that rejected the call.
        retry_at: When a call may be admitted again, in the clock's monotonic seconds; None
            when only an operator can help (FORCED_OPEN).
    """

    # No __init__: BaseException stores the arguments as ``args`` in C, and the fields read
    # them back; a rejection (the common call during an outage) should cost little.
    args: tuple[str, State, float | None]

    @property
    def provider(self) -> str:
        """The breaker's provider."""
        return self.args[0]

    @property
    def state(self) -> State:
        """The state that rejected the call."""
        return self.args[1]

    @property
    def retry_at(self) -> float | None:
        """When a call may be admitted again (None: only an operator can help)."""
        return self.args[2]

    def __str__(self) -> str:  # formatted on demand: a rejection should cost little
        when = "until reset" if self.retry_at is None else f"until t={self.retry_at:.3f}"
        return f"provider {self.provider!r} is {self.state.value}: call not permitted {when}"


class ProviderError(FailoverError):
    """A provider failed. Subclasses say how; the breaker and coordinator act on the class.

    Attributes:
        provider: The provider's name ("" when raised outside a provider).
        retry_after: Seconds the provider asked to wait, if it said.
        status: The HTTP status, when there was one.
    """

    signal: FailoverReason | None = None
    """What this error tells the breaker beside "failed" (RATE_LIMITED, AUTH_FAILED)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.retry_after = retry_after
        self.status = status


class RateLimited(ProviderError):
    """Too many requests (HTTP 429); ``retry_after`` says how long to wait, when known."""

    signal = FailoverReason.RATE_LIMITED


class QuotaExhausted(ProviderError):
    """A quota is used up (e.g. per day); the provider opens until it resets."""

    signal = FailoverReason.RATE_LIMITED


class Unauthorized(ProviderError):
    """The provider rejected the credentials (401/403): no point sending more."""

    signal = FailoverReason.AUTH_FAILED


class BadRequest(ProviderError):
    """The request is wrong and would fail on any provider: the caller's fault, not recorded."""


class NotFound(ProviderError):
    """The model or endpoint does not exist at this provider."""


class ContentBlocked(ProviderError):
    """The provider refused the content (safety filters); not the provider's ill health."""


class Unavailable(ProviderError):
    """The provider is down or answered garbage (5xx, connection refused, bad body)."""


class ProviderTimeout(ProviderError, TimeoutError):
    """The provider did not answer in time."""


class AllProvidersFailed(FailoverError):
    """Every attempt of a request failed. ``attempts`` holds each with its error.

    The last attempt's error is also this exception's ``__cause__``.
    """

    def __init__(self, attempts: Sequence[Attempt]) -> None:
        self.attempts = tuple(attempts)
        names = ", ".join(f"{a.provider}: {type(a.error).__name__}" for a in self.attempts)
        super().__init__(f"all {len(self.attempts)} attempts failed ({names})")


class AllProvidersUnavailable(FailoverError):
    """No provider admitted a call, so no attempt was made; ``retry_at`` is the earliest
    time one may (None if every provider waits for an operator)."""

    def __init__(self, retry_at: float | None, providers: Sequence[str] = ()) -> None:
        self.retry_at = retry_at
        self.providers = tuple(providers)
        when = "no retry time" if retry_at is None else f"earliest retry at t={retry_at:.3f}"
        super().__init__(f"no provider admits a call ({', '.join(self.providers)}); {when}")


class StreamInterrupted(FailoverError):
    """A stream failed after its first chunk had been delivered: the text cannot be taken
    back, so the stream ends with this error rather than failing over (or ending silently).

    Raised ``from`` the provider's own error, which is also its ``__cause__``.

    Attributes:
        text_so_far: Every chunk delivered before the failure, joined.
        provider: The provider that was streaming.
        cause: The provider's own error (also ``__cause__``).
    """

    def __init__(self, text_so_far: str, provider: str, cause: BaseException) -> None:
        super().__init__(text_so_far, provider, cause)
        self.text_so_far = text_so_far
        self.provider = provider
        self.cause = cause

    def __str__(self) -> str:
        return (
            f"stream from provider {self.provider!r} broke after {len(self.text_so_far)} "
            f"characters: {type(self.cause).__name__}: {self.cause}"
        )
