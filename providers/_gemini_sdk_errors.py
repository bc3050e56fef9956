"""GeminiSDKProvider's errors: exceptions of the SDK, google.api_core and requests onto the
library's tree (see the table in ``providers/gemini_sdk.py``'s module docstring).

Every message built here is redacted (``failover.secrets.redact``) and cut short; ``unchained``
drops the exceptions an error was raised from, whose texts may hold a key or a body.
"""

from __future__ import annotations

from failover.errors import (
    BadRequest,
    ContentBlocked,
    FailoverError,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.secrets import redact
from providers import _gemini_wire as wire
from providers._gemini_sdk_http import is_timeout
from providers._http import parse_retry_after

__all__ = ["translate_sdk_error", "unchained"]


def unchained(error: FailoverError) -> FailoverError:
    """``error`` without the exceptions it was raised from (their texts may hold a key)."""
    error.__cause__ = error.__context__ = None
    return error


_BY_NAME: dict[str, type[ProviderError]] = {
    "TooManyRequests": RateLimited,
    "ResourceExhausted": RateLimited,
    "BadRequest": BadRequest,
    "InvalidArgument": BadRequest,
    "FailedPrecondition": Unauthorized,
    "Unauthorized": Unauthorized,
    "Unauthenticated": Unauthorized,
    "Forbidden": Unauthorized,
    "PermissionDenied": Unauthorized,
    "NotFound": NotFound,
    "ServiceUnavailable": Unavailable,
    "InternalServerError": Unavailable,
    "GatewayTimeout": ProviderTimeout,
    "DeadlineExceeded": ProviderTimeout,
    "BlockedPromptException": ContentBlocked,
    "StopCandidateException": ContentBlocked,
    "ConnectionError": Unavailable,  # requests.exceptions.ConnectionError
    "ChunkedEncodingError": Unavailable,
    "RetryError": Unavailable,
    "ParseError": Unavailable,  # google.protobuf.json_format: the body is not the expected JSON
    "JSONDecodeError": Unavailable,
    "RequestException": Unavailable,  # any other failure of requests (a bad header, a bad URL)
}
_SHOWN = 300  # characters of an exception's text in a message


def translate_sdk_error(
    provider: str, exc: BaseException, *, answered: bool = False
) -> ProviderError | None:
    """The library's error for an exception of the SDK, google.api_core or requests.

    Args:
        provider: The provider's name, for the error.
        exc: The exception.
        answered: Whether an answer had arrived: then any exception (but a timeout, a
            transport failure or the SDK's block exceptions) is a malformed answer, Unavailable.

    Returns:
        The error, its message redacted; None for an exception raised before any answer that
        is none of the SDK's, google.api_core's or requests' (raised unchanged).
    """
    response = getattr(exc, "response", None)
    status = getattr(exc, "code", None)
    content = getattr(response, "content", None)
    if isinstance(status, int) and isinstance(content, bytes) and status >= 400:
        headers = getattr(response, "headers", None) or {}
        retry_after = parse_retry_after(headers.get("retry-after"))
        error = wire.error_for(status, content, provider=provider, retry_after=retry_after)
        error.args = (redact(str(error)),)
        return error
    if is_timeout(exc):
        return ProviderTimeout(_raised("no answer in time", exc), provider=provider)
    mapped = next((_BY_NAME[c.__name__] for c in type(exc).__mro__ if c.__name__ in _BY_NAME), None)
    if answered and mapped not in (Unavailable, ProviderTimeout, ContentBlocked):
        return Unavailable(_raised("could not read the answer", exc), provider=provider)
    if mapped is None:
        return None
    code = status if isinstance(status, int) else None
    return mapped(_raised("raised", exc), provider=provider, status=code)


def _raised(what: str, exc: BaseException) -> str:
    """A message naming ``exc``: its class and (redacted, cut) text; never a body's bytes
    past the cut, nor a key."""
    text = _text(exc)
    if isinstance(exc, UnicodeError):
        detail = "the body is not UTF-8"
    elif text.startswith("Unfinished stream"):  # google.api_core's, followed by the body
        detail = "the stream ended inside its JSON array (cut short)"
    else:
        detail = redact(text)
        detail = detail if len(detail) <= _SHOWN else detail[:_SHOWN] + "..."
    return f"Gemini SDK {what} ({type(exc).__name__}): {detail}"


def _text(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder when its ``__str__`` raises."""
    try:
        return str(exc)
    except Exception:
        return "<unprintable>"
