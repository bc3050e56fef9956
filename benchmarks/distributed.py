"""Distributed mode through Redis: commands per guarded call, and trip propagation latency.

1. Redis commands per guarded call on the CLOSED path (``INFO commandstats`` before and after,
   on a server of its own): failover's breaker with ``RedisStorage`` (expected 0: the state is
   mirrored locally) against pybreaker's ``CircuitRedisStorage``, in the same run.
2. Trip propagation: one process opens (and resets) a breaker, two other processes adopt the
   change through pub/sub; the latency from the local transition to the adoption in each other
   process (CLOCK_MONOTONIC is system-wide on Linux), p50 / p99 / max.

Run: ``.venv/bin/python benchmarks/distributed.py`` (starts ``redis-server`` on a free loopback
port, or uses REDIS_URL). Not a test: nothing asserts a time. Not named redis.py: run as a
script, that would shadow the redis package.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

import pybreaker
import redis

from failover import BreakerState
from failover._coordinator.coordinator import Coordinator
from failover.health import HealthCheckConfig
from failover.redis_storage import RedisStorage
from failover.testing import ScriptedProvider

N = 20_000
ROUNDS = 200
FOLLOWERS = 2
IGNORED_COMMANDS = {"cmdstat_info", "cmdstat_config|resetstat", "cmdstat_config"}


def ok() -> int:
    return 1


async def aok() -> int:
    return 1


# --- a server of our own --------------------------------------------------------------------------


def start_server() -> tuple[str, subprocess.Popen[bytes] | None]:
    """REDIS_URL, or a fresh redis-server on a free port."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], None
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="failover-bench-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(500):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.01)
    return f"redis://127.0.0.1:{port}/0", process


def commands(client: redis.Redis) -> int:
    """Commands the server ran since the last CONFIG RESETSTAT (INFO and CONFIG aside)."""
    stats: dict[str, Any] = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in IGNORED_COMMANDS)


# --- 1. commands per guarded call -----------------------------------------------------------------


async def failover_commands(url: str, client: redis.Redis) -> tuple[float, float]:
    """Commands per ``breaker.acall`` and per ``coordinator.generate`` on the CLOSED path."""
    coordinator = Coordinator(
        [ScriptedProvider("p", lambda request: "ok")],
        hooks=(),
        health=HealthCheckConfig(enabled=False),
        storage=RedisStorage(url, prefix="bench-failover"),
    )
    async with coordinator:
        breaker = coordinator.breaker("p")
        client.config_resetstat()
        for _ in range(N):
            await breaker.acall(aok)
        per_acall = commands(client) / N
        client.config_resetstat()
        for _ in range(N):
            await coordinator.generate("hi")
        per_generate = commands(client) / N
        assert breaker.state is BreakerState.CLOSED
    return per_acall, per_generate


def pybreaker_commands(url: str, client: redis.Redis) -> float:
    """Commands per ``CircuitBreaker.call`` with pybreaker's CircuitRedisStorage."""
    storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, redis.Redis.from_url(url), namespace="bench-pybreaker"
    )
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30, state_storage=storage)
    client.config_resetstat()
    for _ in range(N):
        breaker.call(ok)
    return commands(client) / N


# --- 2. trip propagation --------------------------------------------------------------------------


def follower(url: str, prefix: str, ready: Queue[Any], seen: Queue[Any], stop: Event) -> None:
    asyncio.run(_follow(url, prefix, ready, seen, stop))


async def _follow(url: str, prefix: str, ready: Queue[Any], seen: Queue[Any], stop: Event) -> None:
    coordinator = Coordinator(
        [ScriptedProvider("p", lambda request: "ok")],
        hooks=(),
        health=HealthCheckConfig(enabled=False),
        storage=RedisStorage(url, prefix=prefix),
    )
    async with coordinator:
        assert coordinator._replica is not None
        member = coordinator._replica.members["p"]
        adopt = member.adopt

        def timed_adopt(shared: Any) -> None:  # the moment this process takes the change on
            adopt(shared)
            seen.put((shared.generation, time.monotonic()))

        member.adopt = timed_adopt  # type: ignore[method-assign]
        ready.put(os.getpid())
        while not stop.is_set():
            await asyncio.sleep(0.05)


async def lead(url: str, prefix: str, seen: Queue[Any]) -> list[float]:
    coordinator = Coordinator(
        [ScriptedProvider("p", lambda request: "ok")],
        hooks=(),
        health=HealthCheckConfig(enabled=False),
        storage=RedisStorage(url, prefix=prefix),
    )
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    async with coordinator:
        breaker = coordinator.breaker("p")
        for round_ in range(ROUNDS):
            started = time.monotonic()
            breaker.force_open() if round_ % 2 == 0 else breaker.reset()
            for _ in range(FOLLOWERS):
                _, when = await loop.run_in_executor(None, seen.get, True, 30)
                latencies.append(when - started)
            await asyncio.sleep(0.005)
    return latencies


def propagation(url: str) -> list[float]:
    context = multiprocessing.get_context("spawn")
    prefix = f"bench-propagation-{time.time_ns()}"
    ready, seen, stop = context.Queue(), context.Queue(), context.Event()
    processes = [
        context.Process(target=follower, args=(url, prefix, ready, seen, stop))
        for _ in range(FOLLOWERS)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=60)
        return asyncio.run(lead(url, prefix, seen))
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    url, server = start_server()
    try:
        client = redis.Redis.from_url(url)
        per_acall, per_generate = asyncio.run(failover_commands(url, client))
        per_pybreaker = pybreaker_commands(url, client)
        latencies = [x * 1000 for x in propagation(url)]
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    print(f"Redis commands per guarded call, CLOSED path ({N:,} calls each; INFO commandstats)")
    print(f"  {'failover breaker.acall + RedisStorage':<44} {per_acall:8.3f}")
    print(f"  {'failover coordinator.generate + RedisStorage':<44} {per_generate:8.3f}")
    print(f"  {'pybreaker call + CircuitRedisStorage':<44} {per_pybreaker:8.3f}")
    print()
    print(
        f"Trip propagation to {FOLLOWERS} other processes ({ROUNDS} transitions, "
        f"{len(latencies)} adoptions), ms"
    )
    print(f"  {'p50':<6} {statistics.median(latencies):8.2f}")
    print(f"  {'p99':<6} {percentile(latencies, 0.99):8.2f}")
    print(f"  {'max':<6} {max(latencies):8.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
