"""RedisStorage's edges (internal): its client from a URL, its errors, its updates channel.

- ``client_from_url``: a URL is checked when the storage is built (a malformed one raises
  ConfigurationError, its password masked) and its password is registered with
  ``failover.secrets``, so that ``redact`` masks it in every text the library shows.
- ``unavailable``: a redis-py error as the StorageUnavailable the replica expects, its text
  redacted; the redis-py error stays its cause only when its text holds no secret.
- ``RedisSubscription``: the updates channel as StateUpdates. A message that is not one (not
  JSON, a field missing or of the wrong type, a number out of range) is ignored: said once per
  subscription at WARNING on logger ``failover`` (its length and what is wrong, never its text),
  then at DEBUG. It never ends the subscription, so it never degrades the storage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from failover._base.log import get_logger
from failover._base.numbers import finite
from failover.secrets import check_secret, redact, register_secret
from failover.storage import MAX_REMAINING, SharedState, StateUpdate, StorageUnavailable
from statemachines import ConfigurationError

__all__ = ["RedisSubscription", "client_from_url", "decode_update", "unavailable"]

logger = get_logger(__name__)

_MAX_COUNT: Final = 2**53  # generations, seqs and openings: integers Lua holds exactly
_URL_EXAMPLE: Final = "redis://[[user]:password@]host[:port][/db], rediss://... or unix://path"


def text_of(value: object) -> str:
    """``value`` as text: bytes decoded as UTF-8 (undecodable bytes replaced)."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def register_url_secrets(url: str) -> None:
    """Register the password of ``url`` (its userinfo's, or a ``password`` query parameter)
    as a secret, in the form written and decoded.

    Raises:
        ConfigurationError: The password holds a control character (not shown).
    """
    parts = urllib.parse.urlsplit(url)
    written = [parts.password or ""]
    written += urllib.parse.parse_qs(parts.query).get("password", [])
    for password in filter(None, written):
        register_secret(password)
        check_secret(urllib.parse.unquote(password), "the Redis URL's password", ascii_only=False)


def client_from_url(url: str, timeout: float) -> aioredis.Redis:
    """A client for ``url`` with short timeouts and no silent retries.

    Raises:
        ConfigurationError: ``url`` is not a Redis URL redis-py accepts (the message shows
            it with its password masked, and why).
    """
    try:
        register_url_secrets(url)
        return aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
    except ConfigurationError:
        raise
    except (ValueError, TypeError) as exc:
        problem = redact(str(exc))
    # raised outside the except clause: the error has no context holding the URL
    raise ConfigurationError(
        f"not a Redis URL: {redact(url)!r} ({problem}); expected {_URL_EXAMPLE}"
    )


def unavailable(exc: BaseException, what: str = "Redis") -> StorageUnavailable:
    """``exc`` (a redis-py or socket error) as a StorageUnavailable with a redacted message.

    ``exc`` becomes its ``__cause__`` only when its own text holds no secret.
    """
    text = str(exc)
    shown = redact(text)
    error = StorageUnavailable(f"{what}: {type(exc).__name__}: {shown}")
    if shown == text:
        error.__cause__ = exc
    return error


def _count(data: dict[str, Any], field: str, low: int = 0) -> int:
    """``data[field]`` as an integer in [low, 2**53] (Lua's cjson may write one as 1e+14)."""
    value = data[field]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{field} is a {type(value).__name__}, not a number")
    if not (finite(value) and value == int(value) and low <= value <= _MAX_COUNT):
        raise ValueError(f"{field} is not an integer in [{low}, 2**53]")
    return int(value)


def _string(data: dict[str, Any], field: str, *, empty: bool = True) -> str:
    value = data[field]
    if not isinstance(value, str) or (not empty and not value):
        raise TypeError(f"{field} is not a{'' if empty else ' non-empty'} string")
    return value


def decode_update(raw: str | bytes) -> StateUpdate:
    """The StateUpdate a message of the updates channel holds (``CAS_SCRIPT`` publishes it).

    Raises:
        ValueError: Not such a message (not JSON, a field missing, of the wrong type or out
            of range); the message says which field, never the message's text.
    """
    try:
        data = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    try:
        left = _count(data, "d", low=-1)
        operator = data.get("op") or ""
        state = SharedState(
            _string(data, "s", empty=False),
            _count(data, "g"),
            _count(data, "q"),
            _count(data, "o"),
            _string(data, "r") or None,
            None if left < 0 else min(left / 1000, MAX_REMAINING),
            operator if isinstance(operator, str) else _string(data, "op"),
        )
        return StateUpdate(_string(data, "p", empty=False), state, _string(data, "src"))
    except KeyError as exc:
        raise ValueError(f"no field {exc}") from None
    except TypeError as exc:
        raise ValueError(str(exc)) from None


class RedisSubscription:
    """The updates channel as a Subscription (see the module docstring)."""

    def __init__(self, pubsub: Any, channel: str = "") -> None:
        self._pubsub = pubsub
        self._channel = channel
        self.ignored = 0
        """How many malformed messages were ignored."""

    def __aiter__(self) -> AsyncIterator[StateUpdate]:
        return self._feed()

    async def _feed(self) -> AsyncIterator[StateUpdate]:
        failed: StorageUnavailable | None = None
        try:
            async for message in self._pubsub.listen():
                if message.get("type") != "message":
                    continue
                update = self._decoded(message.get("data"))
                if update is not None:
                    yield update
        except (RedisError, OSError) as exc:
            failed = unavailable(exc, "Redis subscription")
        raise failed or StorageUnavailable("Redis subscription ended")

    def _decoded(self, data: object) -> StateUpdate | None:
        raw = data if isinstance(data, bytes | str) else b""
        try:
            return decode_update(raw)
        except ValueError as exc:
            why = str(exc)
        self.ignored += 1
        level = logging.WARNING if self.ignored == 1 else logging.DEBUG
        logger.log(
            level,
            "failover storage: ignored a malformed message on Redis channel %r (%d bytes: %s)%s",
            self._channel,
            len(raw),
            why,
            "; further ones are logged at DEBUG" if self.ignored == 1 else "",
        )
        return None

    async def aclose(self) -> None:
        """Stop the feed (idempotent)."""
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()
