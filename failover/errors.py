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
(``statemachines``), and re-exported here. A ProviderError's ``retry_after`` is None or a number
of seconds in [0, MAX_RETRY_AFTER] (``statemachines.MAX_RETRY_AFTER``, re-exported by
``failover``), whatever it was given (see ``ProviderError``). Every message is passed through
``failover.secrets.redact`` when the error is built (or, for CallNotPermitted and
StreamInterrupted, when it is shown): no configured secret, URL password or credential header
a provider's text echoes reaches it. The records of logger ``failover`` are redacted too (a
filter, ``failover._base.redacting_log``, installed here). ``parse_seconds`` and
``clamp_retry_after``, outside ``__all__`` (which lists the errors only), are what the
providers' parsers of waits build on.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Sequence
from decimal import Decimal
from numbers import Real
from typing import TYPE_CHECKING, Any, Final

from failover._base.log import get_logger
from failover.secrets import redact
from statemachines import (
    MAX_RETRY_AFTER,
    ConfigurationError,
    FailoverError,
    FailoverReason,
    IllegalTransitionError,
    State,
)

if TYPE_CHECKING:
    from failover._base.records import Attempt, Skip

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

logger = get_logger(__name__)

# A decimal number in ASCII (RFC 9110's delay-seconds, with a sign, a fraction and an exponent
# allowed): "30", "2.5", ".5", "1e3", "-3". No "inf" nor "nan", no digits of other scripts.
_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SHOWN: Final = reprlib.Repr()  # a bad value as logged: at most a few dozen characters
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = 40


def clamp_retry_after(seconds: float) -> float:
    """``seconds`` cut into [0, MAX_RETRY_AFTER]: infinity gives MAX_RETRY_AFTER, negatives
    (and NaN) give 0.0."""
    if seconds > MAX_RETRY_AFTER:
        return MAX_RETRY_AFTER
    return seconds if seconds > 0.0 else 0.0


def _decimal(text: str) -> float | None:
    """The number an ASCII decimal text writes, or None. Never NaN; infinite only when the
    text writes a number too large for a float (a 400-digit one)."""
    stripped = text.strip()
    return float(stripped) if _DECIMAL.fullmatch(stripped) else None


def parse_seconds(text: str, unit: float = 1.0) -> float | None:
    """Seconds in a decimal number of ``unit`` seconds (``"30"``, ``" 2.5 "``, ``"1e3"``;
    ``unit=0.001`` for milliseconds), clamped to [0, MAX_RETRY_AFTER] (see
    ``clamp_retry_after``). None when ``text`` is not such a number ("soon", "inf", "nan",
    digits of other scripts); never raises, whatever the text's length."""
    value = _decimal(text) if isinstance(text, str) else None
    return None if value is None else clamp_retry_after(value * unit)


def _number(value: Any) -> float | None:  # a Real or a Decimal (numbers.Real types poorly)
    """A real number as a Retry-After: capped at MAX_RETRY_AFTER; None if negative, NaN or
    infinite. Compares before converting, so an int of any size is fine."""
    try:
        if not value >= 0:  # negative, or NaN
            return None
        if value > MAX_RETRY_AFTER:
            return None if value == math.inf else MAX_RETRY_AFTER
        return float(value) + 0.0  # -0.0 is 0.0
    except Exception:  # Decimal("sNaN") raises on comparison; so may any other Real type
        return None


def _retry_after(value: object) -> float | None:
    """``value`` as a valid Retry-After, or None if it is not one (None given is valid)."""
    if isinstance(value, str):
        number = _decimal(value)
        if number is None or value.strip().startswith("-"):  # "-1e-400" is negative too
            return None
        value = MAX_RETRY_AFTER if number == math.inf else number  # 400 digits: finite, huge
    if isinstance(value, Real | Decimal) and not isinstance(value, bool):
        return _number(value)
    return None


def _shown(value: object) -> str:
    """A short repr of ``value`` (never the whole of a huge one; never raises)."""
    try:
        return _SHOWN.repr(value)
    except Exception:  # reprlib calls the value's own __repr__ (a huge int's raises)
        return "<unprintable>"


def _valid_retry_after(value: object, provider: str = "") -> float | None:
    """``value`` as a ProviderError's ``retry_after``: None, or seconds in [0,
    MAX_RETRY_AFTER].

    A finite number >= 0 (not a bool) is kept, capped at MAX_RETRY_AFTER; a numeric string
    (``"30"``, ``" 2.5 "``) is read as one. Anything else (NaN, infinity, a negative, "soon",
    any other object) gives None, with one WARNING on logger ``failover`` naming ``provider``
    and the value's type.
    """
    if value is None:
        return None
    if type(value) is float and 0.0 < value <= MAX_RETRY_AFTER:  # the common case
        return value
    valid = _retry_after(value)
    if valid is None:
        logger.warning(
            "failover: provider %r gave a retry_after that is not a number of seconds >= 0: "
            "%s %s; ignored (no Retry-After)",
            provider,
            type(value).__name__,
            _shown(value),
        )
    return valid


class CallNotPermitted(FailoverError):
    """The breaker rejected the call without reaching the provider.

    Attributes:
        provider: The breaker's provider.
        state: The state that rejected the call.
        retry_at: When a call may be admitted again, in the clock's monotonic seconds; None
            when only an operator can help (FORCED_OPEN).
        retry_after: Seconds from the rejection until ``retry_at`` (never negative); None
            when ``retry_at`` is, or when the error was built without the time it was raised.
    """

    # No __init__: BaseException stores the arguments as ``args`` in C, and the fields read
    # them back; a rejection (the common call during an outage) should cost little.
    # ``args`` is (provider, state, retry_at) or (provider, state, retry_at, now).
    args: tuple[str, State, float | None] | tuple[str, State, float | None, float]

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

    @property
    def retry_after(self) -> float | None:
        """Seconds from the rejection until ``retry_at`` (None if either is unknown)."""
        return _seconds_from(self.args[2], self.args[3] if len(self.args) > 3 else None)

    def __str__(self) -> str:  # formatted on demand: a rejection should cost little
        retry_at = self.retry_at
        when = "until reset" if retry_at is None else f"until t={retry_at:.3f}"
        return redact(
            f"provider {self.provider!r} is {self.state.value}: call not permitted {when}"
            f"{_in(self.retry_after)}"
        )


def _seconds_from(retry_at: float | None, now: float | None) -> float | None:
    if retry_at is None or now is None:
        return None
    return max(0.0, retry_at - now)


def _in(seconds: float | None) -> str:
    """ " (in 12.3 s)" for people, beside a time on the monotonic clock; "" when unknown."""
    return "" if seconds is None else f" (in {seconds:.1f} s)"


class ProviderError(FailoverError):
    """A provider failed. Subclasses say how; the breaker and coordinator act on the class.

    Attributes:
        provider: The provider's name ("" when raised outside a provider).
        retry_after: Seconds the provider asked to wait, if it said: None or a number in
            [0, MAX_RETRY_AFTER]. What is given is checked when the error is built (see
            ``_valid_retry_after``): a longer wait is cut to MAX_RETRY_AFTER, a numeric string
            is read, and anything else (NaN, infinity, a negative, a non-number) is dropped to
            None with a WARNING, so no error can strand a breaker.
        status: The HTTP status, when there was one.

    The message is redacted (``failover.secrets.redact``) as the error is built.
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
        super().__init__(redact(message))
        self.provider = provider
        self.retry_after = _valid_retry_after(retry_after, provider)
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
    """Every attempt of a request failed. ``attempts`` holds each with its error, and
    ``skipped`` every provider it did not attempt, with why (``failover.Skip``: the decision
    trace; OUTRANKED when the attempts ran out before it).

    The last attempt's error is also this exception's ``__cause__``.
    """

    def __init__(self, attempts: Sequence[Attempt], skipped: Sequence[Skip] = ()) -> None:
        self.attempts = tuple(attempts)
        self.skipped = tuple(skipped)
        names = ", ".join(f"{a.provider}: {type(a.error).__name__}" for a in self.attempts)
        rest = f"; not attempted: {'; '.join(map(str, self.skipped))}" if self.skipped else ""
        super().__init__(redact(f"all {len(self.attempts)} attempts failed ({names}){rest}"))


class AllProvidersUnavailable(FailoverError):
    """No provider admitted a call, so no attempt was made; ``retry_at`` is the earliest
    time one may (None if every provider waits for an operator), on the coordinator's
    monotonic clock, and ``retry_after`` the seconds until then from when it was raised
    (None when unknown): what an HTTP service puts in its Retry-After. ``skipped`` says, for
    every provider, why it did not admit (``failover.Skip``: open, no quota with the
    client-side limit that refused it, not serving, ...) and when it may; the message lists
    them."""

    def __init__(
        self,
        retry_at: float | None,
        providers: Sequence[str] = (),
        now: float | None = None,
        skipped: Sequence[Skip] = (),
    ) -> None:
        self.retry_at = retry_at
        self.retry_after = _seconds_from(retry_at, now)
        self.providers = tuple(providers)
        self.skipped = tuple(skipped)
        when = "no retry time" if retry_at is None else f"earliest retry at t={retry_at:.3f}"
        names = "; ".join(map(str, self.skipped)) or ", ".join(self.providers)
        super().__init__(
            redact(f"no provider admits a call ({names}); {when}{_in(self.retry_after)}")
        )


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
        return redact(
            f"stream from provider {self.provider!r} broke after {len(self.text_so_far)} "
            f"characters: {type(self.cause).__name__}: {self.cause}"
        )
