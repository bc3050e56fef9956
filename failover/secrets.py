"""Secrets: checked when configured, masked in every text the library shows.

One function, ``redact``, masks secrets in any text the library builds from a response, an
exception or its own state (messages, reprs, health results, events, status, CLI output, log
records). It masks:

- every secret registered with ``register_secret`` (API keys of the providers built in this
  process, Redis passwords), wherever it appears, also percent-encoded;
- the password of a URL's userinfo (``redis://user:pw@host`` -> ``redis://user:***@host``);
- the value of a key-like query parameter (``?key=...``, ``api_key``, ``token``, ``password``...);
- the value of a credential header written out (``Authorization: Bearer ...``,
  ``x-goog-api-key: ...``, ``X-Subscription-Token: ...``, ``api-key: ...``), as text or as the
  repr of a header mapping or list.

``check_secret`` is what a provider or storage calls on a key it is given: surrounding
whitespace is stripped (a key read from a file ends with a newline), control characters are
refused with an error that does not show the key, and the key is registered. See
docs/reference/secrets.md for where a key can and cannot appear, and how that is tested.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from typing import Final

from statemachines import ConfigurationError

__all__ = ["MASK", "MIN_MASKED_LENGTH", "check_secret", "redact", "register_secret"]

MASK: Final = "***"
"""What a secret is replaced with."""

MIN_MASKED_LENGTH: Final = 4
"""Secrets shorter than this are not masked by value: masking "k" wherever it appears would
garble every message (no hosted provider issues keys this short). A longer one, even a local
server's placeholder such as "EMPTY", is masked wherever it appears: a garbled word is the
lesser harm than a short password shown."""

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

_USERINFO: Final = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"<>]*:)[^\s@/'\"<>]+@")
_QUERY_KEYS: Final = (
    r"key|api[_-]?key|apikey|access[_-]?token|token|secret|password|passwd|pwd|auth|signature"
)
_QUERY: Final = re.compile(rf"(?P<head>[?&;](?:{_QUERY_KEYS})=)[^&#\s'\"<>]+", re.IGNORECASE)
_HEADER_NAMES: Final = (
    r"authorization|proxy-authorization|x-goog-api-key|x-subscription-token|api-key|x-api-key"
)
# "Authorization: Bearer abc", "'x-goog-api-key': 'abc'", "(b'authorization', b'Bearer abc')"
_HEADER: Final = re.compile(
    rf"(?P<head>\b(?:{_HEADER_NAMES})['\"]?\s*[:=,]\s*(?:b?['\"])?(?:(?:bearer|basic|token)\s+)?)"
    r"[^\s'\"<>,;)}\]]+",
    re.IGNORECASE,
)


def register_secret(value: str) -> None:
    """Mask ``value`` (and its percent-encoded form) in every text ``redact`` sees from now on.

    Values shorter than MIN_MASKED_LENGTH (4) characters are not registered (masking "k"
    wherever it appears would garble ordinary words); they are still masked where they appear as a
    credential header, a URL password or a key query parameter. See docs/reference/secrets.md.
    """
    global _pattern
    if not isinstance(value, str) or len(value) < MIN_MASKED_LENGTH:
        return
    forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        ordered = sorted(_secrets, key=len, reverse=True)  # longest first
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str) -> str:
    """``text`` with every secret masked (see the module's docstring for what counts).

    Total: any ``str`` gives a ``str``; anything else is first turned into one with ``str``.
    """
    if not isinstance(text, str):
        text = str(text)
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _USERINFO.sub(rf"\g<head>{MASK}@", text)
    text = _QUERY.sub(rf"\g<head>{MASK}", text)
    return _HEADER.sub(rf"\g<head>{MASK}", text)


def check_secret(value: object, what: str, *, ascii_only: bool = True) -> str:
    """A configured secret, stripped of surrounding whitespace and registered for ``redact``.

    Args:
        value: The secret as given (an API key, a password).
        what: What it is, for the error ("GeminiProvider's api_key").
        ascii_only: Refuse characters outside printable ASCII (an HTTP header's key must be;
            a password need not).

    Returns:
        The stripped secret.

    Raises:
        ConfigurationError: Not a string, empty, or holding a control character (or, with
            ``ascii_only``, a character outside printable ASCII); the message says which,
            never the value.
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a string, got a {type(value).__name__}")
    stripped = value.strip()
    if not stripped:
        raise ConfigurationError(f"{what} is empty; set it to the key the provider issued")
    bad = next((c for c in stripped if not _allowed(c, ascii_only)), None)
    if bad is not None:
        kind = "a control character" if not bad.isprintable() else "a non-ASCII character"
        raise ConfigurationError(
            f"{what} holds {kind} (U+{ord(bad):04X}); a key is one line of printable "
            f"{'ASCII ' if ascii_only else ''}characters (the value is not shown)"
        )
    register_secret(stripped)
    if stripped != value:
        register_secret(value)
    return stripped


def _allowed(char: str, ascii_only: bool) -> bool:
    if ascii_only:
        return " " <= char <= "~"
    return char.isprintable()
