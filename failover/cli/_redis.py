"""``failover status --redis URL`` and ``failover events --redis URL [--follow]``: the shared
breaker state and event log of distributed mode (``failover.redis_storage``), read from Redis.

Providers are the ``--provider`` names given, or every provider with a state record under the
prefix (found with SCAN over the storage's key layout, ``{prefix:NAME}:state``).
"""

from __future__ import annotations

import argparse
import asyncio
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from failover.cli._args import positive_int
from failover.cli._errors import CommandError
from failover.cli._render import Output, Table, fmt_seconds
from failover.clock import utc_text
from failover.secrets import redact, register_secret
from statemachines import FailoverEvent, converter

if TYPE_CHECKING:
    from failover.redis_storage import RedisStorage

__all__ = ["add_parsers", "events", "status"]

_URL_FORMS = (
    "redis://host[:port][/db] (a user and password, if any, before the host), rediss://... "
    "(TLS) or unix:///path/to/socket"
)


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``status`` and ``events`` subcommands' arguments."""
    for name, text in (
        ("status", "print the breaker state every process shares through Redis"),
        ("events", "print the shared event log from Redis (--follow: as it grows)"),
    ):
        parser = commands.add_parser(name, help=text, description=text[0].upper() + text[1:])
        parser.add_argument(
            "--redis",
            required=True,
            metavar="URL",
            help="the Redis URL, such as redis://localhost:6379/0",
        )
        parser.add_argument(
            "--prefix", default="failover", help="the storage's key prefix (default: failover)"
        )
        parser.add_argument(
            "--provider",
            dest="providers",
            action="append",
            default=[],
            metavar="NAME",
            help="only this provider (repeatable; default: all)",
        )
        parser.add_argument(
            "--json", action="store_true", help="JSON (events: one JSON object per line)"
        )
        if name == "events":
            parser.add_argument(
                "--follow", action="store_true", help="keep printing new events until interrupted"
            )
            parser.add_argument(
                "--count",
                type=positive_int,
                metavar="N",
                help="with --follow: stop after N new events",
            )


def status(args: argparse.Namespace, out: Output) -> int:
    """Print each provider's shared record; 0 (2 when Redis cannot be reached)."""
    return _run(args, lambda storage, names: _status(storage, names, args, out))


def events(args: argparse.Namespace, out: Output) -> int:
    """Print the event log (and follow it); 0 (2 when Redis cannot be reached)."""
    return _run(args, lambda storage, names: _events(storage, names, args, out))


def _run(
    args: argparse.Namespace,
    body: Callable[[RedisStorage, list[str]], Awaitable[None]],
) -> int:
    try:
        from failover.redis_storage import RedisStorage
    except ImportError:  # pragma: no cover - redis comes with the redis extra
        raise CommandError(
            "--redis needs the redis package: pip install 'failover[redis]'"
        ) from None
    from failover.storage import StorageUnavailable

    storage = _storage(RedisStorage, args.redis, args.prefix)

    async def main() -> None:
        try:
            await storage.connect()
            names = args.providers or await _discover(storage)
            await body(storage, names)
        finally:
            await storage.aclose()

    try:
        asyncio.run(main())
    except StorageUnavailable as exc:
        raise CommandError(redact(f"cannot reach Redis at {args.redis}: {exc}")) from None
    except KeyboardInterrupt:
        pass
    return 0


def _storage(cls: type[RedisStorage], url: str, prefix: str) -> RedisStorage:
    """The storage of ``url``, or a CommandError naming the URL (password masked)."""
    _register_password(url)
    try:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("the scheme is not redis, rediss or unix")
        import redis.asyncio as aioredis

        aioredis.ConnectionPool.from_url(url)  # parses only; connects on first use
        return cls(url, prefix=prefix)
    except (ValueError, TypeError) as exc:  # ConfigurationError is a ValueError too
        raise CommandError(
            redact(f"--redis {url}: not a Redis URL ({exc}); expected {_URL_FORMS}")
        ) from None


def _register_password(url: str) -> None:
    """Mask the URL's password in everything printed, even where the URL is not shown."""
    try:
        password = urllib.parse.urlsplit(url).password
    except ValueError:
        return
    if password:
        register_secret(urllib.parse.unquote(password))


async def _discover(storage: RedisStorage) -> list[str]:
    """Every provider with a state record under the storage's prefix."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(storage.url)
    start, end = storage.key("", "state").split("}", 1)[0], "}:state"
    try:
        keys = [k.decode() async for k in client.scan_iter(match=f"{start}*{end}")]
    finally:
        await client.aclose()
    return sorted(key[len(start) : -len(end)] for key in keys)


async def _status(
    storage: RedisStorage, names: list[str], args: argparse.Namespace, out: Output
) -> None:
    records = {name: await storage.load(name) for name in names}
    if args.json:
        out.json({n: None if r is None else converter.unstructure(r) for n, r in records.items()})
        return
    rows = tuple(
        (name, "-", "-", "-", "-", "-", "no record")
        if r is None
        else (
            name,
            r.state,
            str(r.generation),
            str(r.seq),
            str(r.openings),
            r.reason or "-",
            fmt_seconds(r.remaining, 1),
        )
        for name, r in records.items()
    )
    headers = (
        "provider",
        "state",
        "generation",
        "events",
        "openings",
        "last reason",
        "deadline in",
    )
    out.table(
        Table(
            redact(f"Shared breaker state ({args.redis}, prefix {args.prefix!r})"),
            headers,
            rows,
            frozenset({2, 3, 4, 6}),
        )
    )


async def _events(
    storage: RedisStorage, names: list[str], args: argparse.Namespace, out: Output
) -> None:
    seen = dict.fromkeys(names, 0)
    found: list[FailoverEvent] = []
    for name in names:
        mine = await storage.events(name)
        found += mine
        seen[name] = mine[-1].seq if mine else 0
    for event in sorted(found, key=_when):
        _print(event, args, out)
    if not args.follow:
        return
    # Subscribed after the log was read: an event written in between is caught up below and
    # counts as new (read before subscribing, it would have been printed but never counted).
    subscription = await storage.subscribe()
    printed = 0
    try:
        for name in names:
            printed += await _print_new(storage, name, seen, args, out)
        if args.count is not None and printed >= args.count:
            return
        async for update in subscription:
            if args.providers and update.provider not in args.providers:
                continue
            printed += await _print_new(storage, update.provider, seen, args, out)
            if args.count is not None and printed >= args.count:
                return
    finally:
        await subscription.aclose()


async def _print_new(
    storage: RedisStorage, name: str, seen: dict[str, int], args: argparse.Namespace, out: Output
) -> int:
    """Print ``name``'s events after the last one seen; how many."""
    new = await storage.events(name, since=seen.get(name, 0))
    for event in new:
        _print(event, args, out)
        seen[name] = event.seq
    return len(new)


def _wall(event: FailoverEvent) -> float | None:
    """When ``event`` happened, as UTC epoch seconds: the wall time of the process that made
    it, else the time Redis wrote it (older events), else unknown."""
    if event.wall_at is not None:
        return event.wall_at
    server_time = event.details.get("server_time")
    return float(server_time) if isinstance(server_time, int | float) else None


def _when(event: FailoverEvent) -> tuple[float, float, str, int]:
    """The printing order: by wall-clock time (each process's monotonic clock is its own),
    events without one first, then by provider and seq."""
    wall = _wall(event)
    return (
        0.0 if wall is None else 1.0,
        event.at if wall is None else wall,
        event.provider,
        event.seq,
    )


def _print(event: FailoverEvent, args: argparse.Namespace, out: Output) -> None:
    time = utc_text(_wall(event))
    if args.json:
        data: Any = converter.unstructure(event)
        data["time"] = time
        out.json_line(data)
    else:
        out.line(
            f"{time or f't={event.at:.3f}'} {event.provider} #{event.seq}: "
            f"{event.source.value} -> {event.dest.value} ({event.reason.value})"
        )
    out.stream.flush()
