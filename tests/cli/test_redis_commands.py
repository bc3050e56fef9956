"""``failover status --redis`` and ``failover events --redis``: distributed mode's shared state
and event log, read back from a real redis-server."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.cli import main
from failover.cli._redis import _events
from failover.cli._render import Output
from failover.redis_storage import RedisStorage
from failover.storage import SharedState, Subscription
from statemachines import BreakerState, FailoverEvent, FailoverReason
from tests.distributed.conftest import RedisServer, _binary

S = BreakerState


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(_binary(), tmp_path_factory.mktemp("redis-cli"))
    server.start()
    yield server
    server.stop()


R_CF = FailoverReason.CONSECUTIVE_FAILURES


def event(provider: str, seq: int, source: BreakerState, dest: BreakerState) -> FailoverEvent:
    return FailoverEvent(provider, seq, source, dest, FailoverReason.CONSECUTIVE_FAILURES, 1.0, seq)


async def trip(storage: RedisStorage, provider: str, generation: int = 0) -> None:
    """One shared transition CLOSED -> OPEN (or back, on odd generations)."""
    source, dest = (S.CLOSED, S.OPEN) if generation % 2 == 0 else (S.OPEN, S.CLOSED)
    new = SharedState(dest.value, openings=1, reason="consecutive_failures", remaining=30.0)
    ok, _ = await storage.compare_and_set(
        provider, generation, new, event(provider, generation + 1, source, dest), "test"
    )
    assert ok


@pytest.fixture
def prefix(server: RedisServer) -> str:
    """A fresh prefix with provider "a" tripped once and "b" tripped and recovered."""
    name = f"cli-{uuid.uuid4().hex[:8]}"

    async def fill() -> None:
        storage = RedisStorage(server.url, prefix=name)
        try:
            await trip(storage, "a")
            await trip(storage, "b")
            await trip(storage, "b", 1)
        finally:
            await storage.aclose()

    asyncio.run(fill())
    return name


def test_status_shows_every_provider_found(
    server: RedisServer, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--redis", server.url, "--prefix", prefix]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[2:]}
    assert rows == {"a": "open", "b": "closed"}
    assert main(["status", "--redis", server.url, "--prefix", prefix, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["a"]["state"], data["a"]["generation"]) == ("open", 1)
    assert (data["b"]["state"], data["b"]["generation"]) == ("closed", 2)


def test_events_prints_the_shared_log(
    server: RedisServer, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["events", "--redis", server.url, "--prefix", prefix, "--provider", "b"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # events without wall_at (these were made without a process's wall clock): the time Redis
    # wrote them, as UTC
    assert [line.split(" ", 1)[1] for line in lines] == [
        "b #1: closed -> open (consecutive_failures)",
        "b #2: open -> closed (consecutive_failures)",
    ]
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.split()[0]) for line in lines
    )
    assert main(["events", "--redis", server.url, "--prefix", prefix, "--json"]) == 0
    data = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((e["provider"], e["seq"]) for e in data) == [("a", 1), ("b", 1), ("b", 2)]
    assert all(e["time"].endswith("Z") for e in data)


def test_events_are_printed_in_wall_clock_order_across_processes(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two processes whose monotonic clocks disagree: printed by when they happened."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    early = 1_764_909_000.0

    async def fill() -> None:
        storage = RedisStorage(server.url, prefix=name)
        try:
            for provider, at, wall in (("late", 5.0, early + 60), ("soon", 9_000.0, early)):
                made = FailoverEvent(provider, 1, S.CLOSED, S.OPEN, R_CF, at, 1, {}, wall)
                new = SharedState("open", openings=1, reason="consecutive_failures", remaining=3)
                ok, _ = await storage.compare_and_set(provider, 0, new, made, "test")
                assert ok
        finally:
            await storage.aclose()

    asyncio.run(fill())
    assert main(["events", "--redis", server.url, "--prefix", name]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "2025-12-05T04:30:00.000Z soon #1: closed -> open (consecutive_failures)",
        "2025-12-05T04:31:00.000Z late #1: closed -> open (consecutive_failures)",
    ]


class _Subscribed(RedisStorage):
    """A RedisStorage that says when its subscription is confirmed."""

    subscribed: asyncio.Event

    async def subscribe(self) -> Subscription:
        subscription = await super().subscribe()
        self.subscribed.set()
        return subscription


def test_events_follow_prints_new_events(server: RedisServer, prefix: str) -> None:
    async def scenario() -> str:
        reader = _Subscribed(server.url, prefix=prefix)
        reader.subscribed = asyncio.Event()
        writer = RedisStorage(server.url, prefix=prefix)
        stream = io.StringIO()
        args = argparse.Namespace(follow=True, count=1, json=False, providers=[])
        try:
            task = asyncio.create_task(_events(reader, ["a", "b"], args, Output(stream)))
            await reader.subscribed.wait()
            await trip(writer, "a", 1)
            await asyncio.wait_for(task, timeout=10)
        finally:
            await reader.aclose()
            await writer.aclose()
        return stream.getvalue()

    last = asyncio.run(scenario()).splitlines()[-1]
    assert last.split(" ", 1)[1] == "a #2: open -> closed (consecutive_failures)"


def test_unreachable_redis_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from tests.distributed.conftest import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["status", "--redis", url]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach Redis at {url}" in err
    assert "Traceback" not in err
