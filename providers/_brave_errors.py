"""Brave Search's answers decoded into errors or bodies, totally: whatever the status, headers
and bytes, a decoded body or the library's error (see the table in ``providers/brave.py``).

Every text taken from an answer goes through ``failover.secrets.redact`` before it is put in a
message (redacted before it is cut, so that no part of a secret is shown). Nothing here does
I/O.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from typing import Final

from failover.errors import (
    BadRequest,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.provider import QuotaReport
from failover.secrets import redact
from providers._brave_wire import RateLimitWindow, binding_window, parse_rate_limit_windows
from providers._http import BODY_EXCERPT, error_for_status, parse_retry_after

__all__ = ["brave_error", "decode_answer", "quota_report_of"]

_CODES: Final[Mapping[str, type[ProviderError]]] = {
    "RATE_LIMITED": RateLimited,
    "QUOTA_LIMITED": QuotaExhausted,
    "SUBSCRIPTION_TOKEN_INVALID": Unauthorized,
    "OPTION_NOT_IN_PLAN": Unauthorized,
    "VALIDATION": BadRequest,
}
_DETAIL = 300
_NOT_JSON: Final = object()
_SHORT = reprlib.Repr()  # bounded by depth and size, whatever the nesting
_SHORT.maxlevel = 4
_SHORT.maxstring = _SHORT.maxother = _DETAIL


def quota_report_of(headers: Mapping[str, str]) -> QuotaReport | None:
    """The QuotaReport of an answer's X-RateLimit-* headers (None when they are missing or
    malformed): the binding window's remaining and reset (see ``binding_window``). Never
    raises."""
    window = binding_window(parse_rate_limit_windows(headers))
    return None if window is None else QuotaReport(window.remaining, float(window.reset))


def _decode(content: bytes) -> object:
    """The decoded JSON body, or _NOT_JSON (also when not UTF-8 or nested too deeply)."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _NOT_JSON


def _excerpt(content: bytes) -> str:
    """The start of a body, redacted (a window 4x longer first), quoted."""
    text = redact(content[: BODY_EXCERPT * 4].decode("utf-8", errors="replace"))
    longer = len(text) > BODY_EXCERPT or len(content) > BODY_EXCERPT * 4
    return repr(text[:BODY_EXCERPT]) + ("..." if longer else "")


def _one_line(value: object, limit: int = _DETAIL) -> str:
    """A value as one redacted line of at most ``limit`` characters (never raises)."""
    text = value if isinstance(value, str) else _SHORT.repr(value)
    text = " ".join(redact(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _error_object(body: object) -> Mapping[str, object] | None:
    """Brave's error object: ``{"error": {...}}`` (or the first of ``{"errors": [...]}``)."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    errors = body.get("errors")
    if error is None and isinstance(errors, list) and errors:
        error = errors[0]
    return error if isinstance(error, dict) and isinstance(error.get("code"), str) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name."""
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _wait(
    code: str | None, windows: tuple[RateLimitWindow, ...], headers: Mapping[str, str]
) -> float | None:
    """Seconds to leave Brave alone after a 429: the exhausted window's reset, else
    Retry-After, else (QUOTA_LIMITED) the longest window's reset."""
    window = binding_window(windows)
    if window is not None and window.remaining == 0:
        return float(window.reset)
    retry_after = parse_retry_after(_header(headers, "retry-after"))
    if retry_after is None and code == "QUOTA_LIMITED" and windows:
        return float(max(w.reset for w in windows))
    return retry_after


def _retry_after(status: int | None, code: str | None, headers: Mapping[str, str]) -> float | None:
    if status == 429 or code in ("RATE_LIMITED", "QUOTA_LIMITED"):
        return _wait(code, parse_rate_limit_windows(headers), headers)
    return None


def _detail(error: Mapping[str, object], code: str) -> str:
    detail = _one_line(error.get("detail", ""), _DETAIL * 2)
    meta = error.get("meta")
    if code == "VALIDATION" and meta:
        try:
            shown = json.dumps(meta, sort_keys=True)
        except (ValueError, TypeError, RecursionError):
            shown = _SHORT.repr(meta)
        detail += " " + _one_line(shown, _DETAIL * 2)
    return detail if len(detail) <= _DETAIL else detail[:_DETAIL] + "..."


def _coded(
    provider: str, status: int, error: Mapping[str, object], retry_after: float | None
) -> ProviderError:
    code = _one_line(error["code"], 80)
    detail = _detail(error, code)
    message = f"provider {provider!r}: Brave answered HTTP {status} {code}: {detail}"
    if retry_after is not None:
        message += f" (retry after {retry_after:g} s)"
    cls = _CODES.get(code)
    if cls is None:
        return error_for_status(provider, status, f"{code}: {detail}", retry_after)
    return cls(message, provider=provider, retry_after=retry_after, status=status)


def brave_error(
    provider: str, status: int, headers: Mapping[str, str], content: bytes
) -> ProviderError:
    """The library's error for one of Brave's error answers (see ``providers/brave.py``).

    Args:
        provider: The provider's name.
        status: The HTTP status (not 200).
        headers: The answer's headers (X-RateLimit-*, Retry-After).
        content: The body (its first ERROR_BODY_BYTES).
    """
    body = _decode(content)
    error = _error_object(body)
    code = None if error is None else str(error["code"])
    retry_after = _retry_after(status, code, headers)
    if error is not None:
        return _coded(provider, status, error, retry_after)
    if status == 429 or body is not _NOT_JSON:
        text = redact(content[: _DETAIL * 4].decode("utf-8", errors="replace"))
        return error_for_status(provider, status, text, retry_after)
    return Unavailable(
        f"provider {provider!r}: Brave answered HTTP {status} with a body that is not JSON: "
        f"{_excerpt(content)}",
        provider=provider,
        status=status,
    )


def _is_error_answer(body: object) -> bool:
    return isinstance(body, dict) and (
        body.get("type") == "ErrorResponse" or isinstance(body.get("error"), dict)
    )


def _answered_error(provider: str, headers: Mapping[str, str], body: object) -> ProviderError:
    """The error of a 200 answer holding Brave's error object: by its code, else by its
    ``status`` (400-599), else Unavailable. The error's ``status`` is the object's, else 200."""
    found = body.get("error") if isinstance(body, dict) else None
    error: Mapping[str, object] = found if isinstance(found, dict) else {}
    given, raw_code = error.get("status"), error.get("code")
    status = given if type(given) is int and 400 <= given <= 599 else None
    code = _one_line(raw_code, 80) if isinstance(raw_code, str) else None
    retry_after = _retry_after(status, code, headers)
    cls = _CODES.get(code or "")
    if cls is None:
        cls = type(error_for_status(provider, status, "", None)) if status else Unavailable
    message = (
        f"provider {provider!r}: Brave answered HTTP 200 with an error object (code "
        f"{code or 'none'}, status {status or 'none'}): {_detail(error, code or '')}"
    )
    if retry_after is not None:
        message += f" (retry after {retry_after:g} s)"
    return cls(message, provider=provider, retry_after=retry_after, status=status or 200)


def decode_answer(provider: str, headers: Mapping[str, str], content: bytes) -> object:
    """The decoded body of a 200 answer, to be read by ``parse_results``.

    Raises:
        Unavailable: The body is not JSON (the message shows its first bytes, redacted).
        ProviderError: The body is Brave's error object (``{"type": "ErrorResponse",
            "error": {...}}``): mapped by its code, else its status, else Unavailable.
    """
    body = _decode(content)
    if body is _NOT_JSON:
        raise Unavailable(
            f"provider {provider!r}: Brave answered HTTP 200 with a body that is not JSON: "
            f"{_excerpt(content)}",
            provider=provider,
            status=200,
        )
    if _is_error_answer(body):
        raise _answered_error(provider, headers, body)
    return body
