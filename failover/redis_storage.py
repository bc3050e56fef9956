"""RedisStorage: breaker state shared by many processes through Redis (extra ``redis``).

Keys, per provider ``p`` under the prefix (one hash slot per provider, Redis Cluster ready):

- ``{prefix:p}:state``: a hash (state, gen, seq, openings, reason, deadline in the server's
  milliseconds, op: the last operator stamp; rgen, rok, rfail: the probe outcomes counted in
  the half-open round of generation rgen);
- ``{prefix:p}:events``: a stream capped at about ``maxlen`` entries, entry id ``<seq>-0``;
- ``{prefix:p}:probes:<gen>``: the probe permits taken in a half-open generation (expiring);
- ``{prefix:p}:rate:<ms>``: a hash (bucket, used): the requests leased in the current fixed
  bucket of a rate-limit window of ``<ms>`` milliseconds (expiring with the bucket);
- channel ``prefix:updates``: every state change, as JSON.

Every write is one Lua script (``CAS_SCRIPT``, ``SEED_SCRIPT``, ``ACQUIRE_SCRIPT``,
``RELEASE_SCRIPT``, ``PROBE_SCRIPT``, ``LEASE_SCRIPT``), so that two processes never see half a
change. Deadlines are kept on the server's clock (``TIME``) and cross the port as durations,
in whole milliseconds, each cut to ``MAX_REMAINING`` first: no input reaches a script as
infinity or NaN.

A password in the URL never shows: it is registered with ``failover.secrets`` when the storage
is built, and its repr, its errors and the warning of an outage are redacted. A malformed
message on the updates channel is ignored, never an outage (``failover._distributed.redis_feed``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import attrs
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from failover._distributed.redis_feed import (
    RedisSubscription,
    client_from_url,
    text_of,
    unavailable,
)
from failover._distributed.redis_scripts import (
    ACQUIRE_SCRIPT,
    CAS_SCRIPT,
    LEASE_SCRIPT,
    LOAD_SCRIPT,
    PROBE_SCRIPT,
    RELEASE_SCRIPT,
    SEED_SCRIPT,
)
from failover.secrets import redact, register_secret
from failover.storage import (
    Lease,
    SharedState,
    StorageUnavailable,
    Subscription,
    remaining_of,
)
from statemachines import (
    BreakerPolicy,
    ConfigurationError,
    FailoverEvent,
    event_from_json,
    event_to_json,
)

__all__ = [
    "ACQUIRE_SCRIPT",
    "CAS_SCRIPT",
    "LEASE_SCRIPT",
    "LOAD_SCRIPT",
    "PROBE_SCRIPT",
    "RELEASE_SCRIPT",
    "SEED_SCRIPT",
    "RedisStorage",
]

T = TypeVar("T")


def _shared(reply: list[Any]) -> SharedState:
    """A SharedState from a script's record reply (state, gen, seq, openings, reason, left,
    operator stamp)."""
    state, gen, seq, openings, reason, left, operator = reply
    reason_ = text_of(reason)
    return SharedState(
        text_of(state),
        int(gen),
        int(seq),
        int(openings),
        reason_ or None,
        None if int(left) < 0 else int(left) / 1000,
        text_of(operator),
    )


def _ms(seconds: float | None) -> int:
    """Whole milliseconds of a duration cut to [0, MAX_REMAINING] (-1 for None): never
    infinite, NaN nor an integer Lua cannot hold exactly."""
    left = remaining_of(seconds)
    return -1 if left is None else round(left * 1000)


class RedisStorage:
    """The Storage of many processes: Redis (redis.asyncio).

    Args:
        url_or_client: A Redis URL (``redis://host:6379/0``; the storage then owns and closes
            its client, built with short timeouts and no silent retries so that an outage
            is seen at once) or a ``redis.asyncio.Redis`` client you own (build it with
            ``retry=None``-like settings for the same effect).
        prefix: Namespaces every key and the channel; processes that share breakers share it.
        maxlen: Events kept per provider, about (``XADD MAXLEN ~``).
        timeout: Seconds for connecting and for each command (URL only).

    Attributes:
        url: The URL as given (for a client: its repr, password masked). It holds the
            password, which is registered with ``failover.secrets``: the storage's repr, its
            errors and the library's log records show it masked (``redact``).

    Raises:
        ConfigurationError: A bad argument, a malformed URL ("notaurl", a port that is not a
            number; the message masks the password) or a password with a control character.
    """

    def __init__(
        self,
        url_or_client: str | aioredis.Redis = "redis://localhost:6379/0",
        *,
        prefix: str = "failover",
        maxlen: int = 10_000,
        timeout: float = 1.0,
    ) -> None:
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError(
                f"prefix must be a non-empty str without braces, got {prefix!r}"
            )
        if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1:
            raise ConfigurationError(f"maxlen must be an int >= 1, got {maxlen!r}")
        if isinstance(url_or_client, str):
            self._client, self._owned = client_from_url(url_or_client, timeout), True
            self.url = url_or_client
        elif isinstance(url_or_client, aioredis.Redis):
            self._client, self._owned = url_or_client, False
            self.url = _registered(url_or_client)
        else:
            raise ConfigurationError(
                "url_or_client must be a Redis URL such as 'redis://localhost:6379/0' or a "
                f"redis.asyncio.Redis client, got a {type(url_or_client).__name__}"
            )
        self.prefix = prefix
        self.maxlen = maxlen
        self.timeout = timeout
        self.channel = f"{prefix}:updates"
        self._policies: dict[str, BreakerPolicy] = {}
        self._cas = self._client.register_script(CAS_SCRIPT)
        self._seed = self._client.register_script(SEED_SCRIPT)
        self._load = self._client.register_script(LOAD_SCRIPT)
        self._acquire = self._client.register_script(ACQUIRE_SCRIPT)
        self._release = self._client.register_script(RELEASE_SCRIPT)
        self._probe = self._client.register_script(PROBE_SCRIPT)
        self._lease = self._client.register_script(LEASE_SCRIPT)

    def key(self, provider: str, part: str) -> str:
        """The key of one part (``state``, ``events``, ``probes:<gen>``, ``rate:<ms>``) of a
        provider."""
        return f"{{{self.prefix}:{provider}}}:{part}"

    @staticmethod
    async def _call(fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except (RedisError, OSError) as exc:
            error = unavailable(exc)
        raise error  # outside the except clause: no context but the cause unavailable() kept

    async def connect(self) -> None:
        """PING the server."""
        await self._call(lambda: self._client.ping())

    async def aclose(self) -> None:
        """Close the client if this storage made it."""
        if self._owned:
            with contextlib.suppress(RedisError, OSError):
                await self._client.aclose()

    async def load(self, provider: str) -> SharedState | None:
        """See ``Storage.load``."""
        reply = await self._call(lambda: self._load(keys=[self.key(provider, "state")]))
        return None if reply is None else _shared(reply)

    async def compare_and_set(
        self, provider: str, expected: int, new: SharedState, event: FailoverEvent, origin: str
    ) -> tuple[bool, SharedState]:
        """See ``Storage.compare_and_set`` (``CAS_SCRIPT``)."""
        keys = [self.key(provider, "state"), self.key(provider, "events")]
        args: list[str | int] = [
            expected,
            new.state,
            new.openings,
            new.reason or "",
            _ms(new.remaining),
            event_to_json(event),
            origin,
            self.maxlen,
            self.channel,
            provider,
            new.operator,
        ]
        reply = await self._call(lambda: self._cas(keys=keys, args=args))
        return bool(int(reply[0])), _shared(reply[1:])

    async def seed(self, provider: str, state: SharedState) -> SharedState:
        """See ``Storage.seed`` (``SEED_SCRIPT``)."""
        args: list[str | int] = [
            state.state,
            state.generation,
            state.seq,
            state.openings,
            state.reason or "",
            _ms(state.remaining),
            state.operator,
        ]
        reply = await self._call(lambda: self._seed(keys=[self.key(provider, "state")], args=args))
        return _shared(reply)

    async def acquire_probe(self, provider: str, generation: int, cap: int, ttl: float) -> bool:
        """See ``Storage.acquire_probe`` (``ACQUIRE_SCRIPT``)."""
        keys = [self.key(provider, "state"), self.key(provider, f"probes:{generation}")]
        args = [generation, cap, max(_ms(ttl), 1)]
        return bool(await self._call(lambda: self._acquire(keys=keys, args=args)))

    async def release_probe(self, provider: str, generation: int) -> None:
        """See ``Storage.release_probe`` (``RELEASE_SCRIPT``)."""
        keys = [self.key(provider, f"probes:{generation}")]
        await self._call(lambda: self._release(keys=keys))

    async def record_probe(
        self, provider: str, generation: int, succeeded: bool
    ) -> tuple[int, int] | None:
        """See ``Storage.record_probe`` (``PROBE_SCRIPT``)."""
        keys, args = [self.key(provider, "state")], [generation, int(succeeded)]
        reply = await self._call(lambda: self._probe(keys=keys, args=args))
        return None if reply is None else (int(reply[0]), int(reply[1]))

    async def lease(self, provider: str, window: float, limit: int, want: int) -> Lease:
        """See ``Storage.lease`` (``LEASE_SCRIPT``; buckets on the server's ``TIME``)."""
        size = max(_ms(window), 1)
        keys = [self.key(provider, f"rate:{size}")]
        reply = await self._call(lambda: self._lease(keys=keys, args=[size, limit, want]))
        return Lease(int(reply[0]), int(reply[1]) / 1000)

    async def events(
        self, provider: str, since: int = 0, limit: int | None = None
    ) -> list[FailoverEvent]:
        """See ``Storage.events``: ``XRANGE`` from seq ``since + 1``."""
        key = self.key(provider, "events")
        entries = await self._call(
            lambda: self._client.xrange(key, min=f"{since + 1}-0", max="+", count=limit)
        )
        policy = self._policies.get(provider)
        return [self._event(entry_id, fields or {}, policy) for entry_id, fields in entries or ()]

    @staticmethod
    def _event(
        entry_id: object, fields: Mapping[Any, Any], policy: BreakerPolicy | None
    ) -> FailoverEvent:
        data = {text_of(k): v for k, v in fields.items()}
        event = event_from_json(text_of(data["event"]), policy)
        seq = int(text_of(entry_id).split("-")[0])
        details = {**event.details, "server_time": int(text_of(data["time"])) / 1000}
        generation = int(text_of(data["gen"]))
        return attrs.evolve(event, seq=seq, generation=generation, details=details)

    async def subscribe(self) -> Subscription:
        """See ``Storage.subscribe``: SUBSCRIBE, waiting for the server's confirmation."""
        pubsub = self._client.pubsub()

        async def subscribed() -> None:
            await pubsub.subscribe(self.channel)
            while True:
                message = await pubsub.get_message(timeout=self.timeout)
                if message is None:
                    raise StorageUnavailable("Redis did not confirm the subscription")
                if message.get("type") == "subscribe":
                    return

        try:
            await self._call(subscribed)
        except StorageUnavailable:
            await RedisSubscription(pubsub).aclose()
            raise
        return RedisSubscription(pubsub, self.channel)

    def register_policy(self, provider: str, policy: object) -> None:
        """Read the provider's events back with ``policy`` (its custom states)."""
        if isinstance(policy, BreakerPolicy):
            self._policies[provider] = policy

    def __repr__(self) -> str:
        return f"<RedisStorage {redact(self.url)} prefix={self.prefix!r}>"


def _registered(client: aioredis.Redis) -> str:
    """The repr of a client given to the storage, its password registered as a secret."""
    kwargs = getattr(client.connection_pool, "connection_kwargs", {})
    password = kwargs.get("password")
    if isinstance(password, str):
        register_secret(password)
    return redact(repr(client))
