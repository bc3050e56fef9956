"""Three processes (multiprocessing, spawn), a coordinator each, sharing provider "p" through a
real redis-server: when "p" starts failing there is exactly one CLOSED -> OPEN transition in the
shared log, the processes that had not sent anything stop sending before they send, and probes
across processes never exceed half_open_max_calls per half-open generation."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import Any

from failover.redis_storage import RedisStorage
from statemachines import BreakerState, FailoverEvent, FailoverReason, replay
from tests.distributed.conftest import RedisServer
from tests.distributed.workers import POLICY, run_worker

S = BreakerState
TIMEOUT = 60.0


def logged(url: str, prefix: str) -> list[FailoverEvent]:
    async def read() -> list[FailoverEvent]:
        storage = RedisStorage(url, prefix=prefix)
        try:
            return await storage.events("p")
        finally:
            await storage.aclose()

    return asyncio.run(read())


def wait_for(condition: Any, what: Any) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"not within {TIMEOUT} s: {what()}"
        time.sleep(0.01)


def test_three_processes_share_one_breaker(redis_server: RedisServer) -> None:
    context = multiprocessing.get_context("spawn")
    prefix = f"mp-{time.time_ns()}"
    failing, stop, queue = context.Event(), context.Event(), context.Queue()
    workers = [
        context.Process(target=run_worker, args=(i, redis_server.url, prefix, failing, stop, queue))
        for i in range(3)
    ]
    for worker in workers:
        worker.start()
    try:
        ready = [queue.get(timeout=TIMEOUT) for _ in workers]
        assert sorted(ready) == [("ready", 0), ("ready", 1), ("ready", 2)]
        failing.set()
        wait_for(
            lambda: sum(e.dest is S.HALF_OPEN for e in logged(redis_server.url, prefix)) >= 3,
            lambda: (
                "three half-open rounds in the shared log; it holds "
                + repr(
                    [
                        (e.seq, e.dest.value, e.reason.value)
                        for e in logged(redis_server.url, prefix)
                    ]
                )
            ),
        )
        stop.set()
        figures = sorted((queue.get(timeout=TIMEOUT)[1] for _ in workers), key=lambda f: f["index"])
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    assert [w.exitcode for w in workers] == [0, 0, 0]
    events = logged(redis_server.url, prefix)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    replay(events, POLICY)
    trips = [e for e in events if (e.source, e.dest) == (S.CLOSED, S.OPEN)]
    assert len(trips) == 1
    assert trips[0].reason is FailoverReason.CONSECUTIVE_FAILURES
    # process 0 sent max_consecutive_failures failing requests, then its breaker opened;
    # processes 1 and 2 had adopted OPEN before they sent anything
    assert figures[0]["failed_closed"] == POLICY.max_consecutive_failures
    for f in figures[1:]:
        assert f["adopted_open"] is True
        assert (f["sent_before"], f["failed_closed"]) == (0, 0)
    assert all(f["other"] == 0 for f in figures)  # nothing got through OPEN anywhere
    rounds = sum(e.dest is S.HALF_OPEN for e in events)
    probes = sum(f["probes"] for f in figures)
    assert 0 < probes <= rounds * POLICY.half_open_max_calls
