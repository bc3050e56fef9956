"""Overhead per call of failover's CircuitBreaker against the Python breakers it replaces.

Run with ``make bench`` (installs the ``bench`` extra: pybreaker, aiobreaker, purgatory,
circuitbreaker). Every figure is ns per call *over a bare call of the same function*, the best
of several repeats, all libraries measured in the same run. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import sys
import timeit
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import timedelta

import aiobreaker
import circuitbreaker
import purgatory
import pybreaker

from failover import CallNotPermitted, CircuitBreaker

N = 100_000
REPEATS = 9
TASKS, PER_TASK = 1_000, 100
LIBRARIES = ("failover", "pybreaker", "aiobreaker", "purgatory", "circuitbreaker")
FAIL_MAX = 1_000_000  # peers trip on consecutive failures: keep them closed in "10% failures"


class Boom(Exception):
    """The provider's own error."""


def ok() -> int:
    return 1


async def aok() -> int:
    return 1


def pattern() -> list[bool]:
    """10% failures, seeded, never three in a row (failover's default trips at 3 consecutive)."""
    rng = random.Random(7)
    fails = [rng.random() < 0.1 for _ in range(N)]
    for i in range(2, N):
        if fails[i] and fails[i - 1] and fails[i - 2]:
            fails[i] = False
    return fails


# --- sync: each library's cheapest idiomatic call, made directly in the timed loop -------------


def sync_loops(fn: Callable[[], int]) -> dict[str, Callable[[], None]]:
    """One timed loop of N guarded calls of ``fn`` per library (no wrapper of ours around them).

    ``fn`` raising Boom is caught inside the loop (the 10% failures case).
    """
    ours = CircuitBreaker("bench", hooks=()).call
    py = pybreaker.CircuitBreaker(fail_max=FAIL_MAX, reset_timeout=60).call
    aio = aiobreaker.CircuitBreaker(fail_max=FAIL_MAX, timeout_duration=timedelta(60)).call
    purg = purgatory.SyncCircuitBreakerFactory(default_threshold=FAIL_MAX).get_breaker("b")
    cb = circuitbreaker.CircuitBreaker(failure_threshold=FAIL_MAX, recovery_timeout=60)(fn)

    def with_call(call: Callable[[Callable[[], int]], int]) -> Callable[[], None]:
        def run() -> None:
            for _ in itertools.repeat(None, N):
                try:
                    call(fn)
                except Boom:
                    pass

        return run

    def with_purgatory() -> None:
        for _ in itertools.repeat(None, N):
            try:
                with purg:
                    fn()
            except Boom:
                pass

    def with_decorated() -> None:
        for _ in itertools.repeat(None, N):
            try:
                cb()
            except Boom:
                pass

    return {
        "failover": with_call(ours),
        "pybreaker": with_call(py),
        "aiobreaker": with_call(aio),
        "purgatory": with_purgatory,
        "circuitbreaker": with_decorated,
    }


def bare_loop(fn: Callable[[], int]) -> Callable[[], None]:
    """The same loop calling ``fn`` with no breaker."""

    def run() -> None:
        for _ in itertools.repeat(None, N):
            try:
                fn()
            except Boom:
                pass

    return run


def best(run: Callable[[], None], number: int = N) -> float:
    """Best ns per call over REPEATS runs of ``number`` calls."""
    return min(timeit.repeat(run, number=1, repeat=REPEATS)) / number * 1e9


def loop_of(call: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        for _ in itertools.repeat(None, N):
            call()

    return run


def sync_success() -> dict[str, float]:
    base = best(bare_loop(ok))
    return {name: best(loop) - base for name, loop in sync_loops(ok).items()}


def sync_ten_percent_failures() -> dict[str, float]:
    fails = pattern()
    cursor = itertools.cycle(fails)

    def provider() -> int:
        if next(cursor):
            raise Boom
        return 1

    base = best(bare_loop(provider))
    return {name: best(loop) - base for name, loop in sync_loops(provider).items()}


def sync_rejection() -> dict[str, float]:
    """Each library's breaker opened (forced, or by one failure), then called: rejection cost."""
    rejected = (
        CallNotPermitted,
        pybreaker.CircuitBreakerError,
        aiobreaker.CircuitBreakerError,
        purgatory.domain.model.OpenedState,
        circuitbreaker.CircuitBreakerError,
    )
    ours = CircuitBreaker("bench", hooks=())
    ours.force_open()
    py = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
    py.open()
    aio = aiobreaker.CircuitBreaker(fail_max=1, timeout_duration=timedelta(hours=1))
    aio.open()
    purg = purgatory.SyncCircuitBreakerFactory(default_threshold=1, default_ttl=3600)
    opened = purg.get_breaker("b")
    try:
        with opened:
            raise Boom
    except Boom:
        pass
    cb = circuitbreaker.CircuitBreaker(failure_threshold=1, recovery_timeout=3600)
    guarded = cb(ok)
    try:
        cb(_boom)()
    except Boom:
        pass

    def with_call(call: Callable[[Callable[[], int]], int]) -> Callable[[], None]:
        def run() -> None:
            for _ in itertools.repeat(None, N):
                try:
                    call(ok)
                except rejected:
                    pass

        return run

    def with_purgatory() -> None:
        for _ in itertools.repeat(None, N):
            try:
                with opened:
                    ok()
            except rejected:
                pass

    def with_decorated() -> None:
        for _ in itertools.repeat(None, N):
            try:
                guarded()
            except rejected:
                pass

    loops = {
        "failover": with_call(ours.call),
        "pybreaker": with_call(py.call),
        "aiobreaker": with_call(aio.call),
        "purgatory": with_purgatory,
        "circuitbreaker": with_decorated,
    }
    base = best(bare_loop(ok))
    return {name: best(loop) - base for name, loop in loops.items()}


def _boom() -> int:
    raise Boom


# --- async -------------------------------------------------------------------------------------


def async_callers() -> dict[str, Callable[[], Callable[[], Awaitable[int]]]]:
    def ours() -> Callable[[], Awaitable[int]]:
        breaker = CircuitBreaker("bench", hooks=())
        return lambda: breaker.acall(aok)

    def aio() -> Callable[[], Awaitable[int]]:
        breaker = aiobreaker.CircuitBreaker(fail_max=FAIL_MAX, timeout_duration=timedelta(60))
        return lambda: breaker.call_async(aok)

    def purg() -> Callable[[], Awaitable[int]]:
        factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=FAIL_MAX)

        async def run() -> int:
            async with await factory.get_breaker("b"):
                return await aok()

        return run

    def cb() -> Callable[[], Awaitable[int]]:
        guarded = circuitbreaker.CircuitBreaker(failure_threshold=FAIL_MAX, recovery_timeout=60)
        return guarded(aok)  # type: ignore[no-any-return]

    # pybreaker's call_async needs Tornado: not measured
    return {"failover": ours, "aiobreaker": aio, "purgatory": purg, "circuitbreaker": cb}


def async_success() -> dict[str, float]:
    async def loop(call: Callable[[], Awaitable[int]]) -> None:
        for _ in itertools.repeat(None, N):
            await call()

    def timed(call: Callable[[], Awaitable[int]]) -> float:
        return best(lambda: asyncio.run(loop(call)))

    base = timed(aok)
    return {name: timed(make()) - base for name, make in async_callers().items()}


def async_many_tasks() -> dict[str, float]:
    async def task(call: Callable[[], Awaitable[int]]) -> None:
        for _ in range(PER_TASK):
            await call()
            await asyncio.sleep(0)

    async def run(call: Callable[[], Awaitable[int]]) -> None:
        await asyncio.gather(*(task(call) for _ in range(TASKS)))

    def timed(call: Callable[[], Awaitable[int]]) -> float:
        return best(lambda: asyncio.run(run(call)), number=TASKS * PER_TASK)

    # Reported in total ns per call: the task switches dominate the bare loop.
    return {name: timed(make()) for name, make in async_callers().items()}


def retained_bytes() -> dict[str, float]:
    """Bytes still allocated per call after 100k successful calls (tracemalloc)."""
    results = {}
    for name, loop in sync_loops(ok).items():
        loop()  # warm up: caches, interned objects, lazily built state
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        loop()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
        results[name] = max(grown, 0) / N
    return results


def table(rows: dict[str, dict[str, float]], unit: str) -> None:
    """Print rows with each library's figure and failover's ratio to the fastest peer."""
    names = list(LIBRARIES)
    print(f"{'case (' + unit + ')':<34}" + "".join(f"{n:>15}" for n in names) + f"{'ratio':>8}")
    for case, figures in rows.items():
        digits = 2 if unit == "bytes" else 0
        cells = "".join(
            f"{figures[n]:>15.{digits}f}" if n in figures else f"{'n/a':>15}" for n in names
        )
        peers = [v for n, v in figures.items() if n != "failover"]
        fastest = min(peers) if peers else 0.0
        ratio = f"{figures['failover'] / fastest:.2f}" if fastest >= 0.5 else "-"
        print(f"{case:<34}{cells}{ratio:>8}")


def main() -> None:
    """Run every case and print the tables."""
    print(f"Python {sys.version.split()[0]}; ns per call over a bare call; best of {REPEATS}")
    print("ratio = failover / fastest peer (lower is better)\n")
    table(
        {
            "sync success": sync_success(),
            "async success": async_success(),
            "sync, 10% failures, stays closed": sync_ten_percent_failures(),
            "sync, rejection while open": sync_rejection(),
            f"async, {TASKS} tasks x {PER_TASK} (total)": async_many_tasks(),
        },
        "ns/call",
    )
    print()
    table({"bytes retained per call": retained_bytes()}, "bytes")


if __name__ == "__main__":
    main()
