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
REPEATS = 5
TASKS, PER_TASK = 1_000, 100
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


# --- sync wrappers: each returns a zero-arg callable making one guarded call -------------------


def sync_callers() -> dict[str, Callable[[Callable[[], int]], Callable[[], int]]]:
    def ours(fn: Callable[[], int]) -> Callable[[], int]:
        breaker = CircuitBreaker("bench", hooks=())
        return lambda: breaker.call(fn)

    def py(fn: Callable[[], int]) -> Callable[[], int]:
        breaker = pybreaker.CircuitBreaker(fail_max=FAIL_MAX, reset_timeout=60)
        return lambda: breaker.call(fn)

    def aio(fn: Callable[[], int]) -> Callable[[], int]:
        breaker = aiobreaker.CircuitBreaker(fail_max=FAIL_MAX, timeout_duration=timedelta(60))
        return lambda: breaker.call(fn)

    def purg(fn: Callable[[], int]) -> Callable[[], int]:
        breaker = purgatory.SyncCircuitBreakerFactory(default_threshold=FAIL_MAX).get_breaker("b")

        def run() -> int:
            with breaker:
                return fn()

        return run

    def cb(fn: Callable[[], int]) -> Callable[[], int]:
        return circuitbreaker.CircuitBreaker(failure_threshold=FAIL_MAX, recovery_timeout=60)(fn)

    return {
        "failover": ours,
        "pybreaker": py,
        "aiobreaker": aio,
        "purgatory": purg,
        "circuitbreaker": cb,
    }


def best(run: Callable[[], None], number: int = N) -> float:
    """Best ns per call over REPEATS runs of ``number`` calls."""
    return min(timeit.repeat(run, number=1, repeat=REPEATS)) / number * 1e9


def loop_of(call: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        for _ in itertools.repeat(None, N):
            call()

    return run


def sync_success() -> dict[str, float]:
    base = best(loop_of(ok))
    return {name: best(loop_of(wrap(ok))) - base for name, wrap in sync_callers().items()}


def sync_ten_percent_failures() -> dict[str, float]:
    fails = pattern()

    def provider(state: list[int] = [0]) -> int:  # noqa: B006 - a cheap shared cursor
        i = state[0] = (state[0] + 1) % N
        if fails[i]:
            raise Boom
        return 1

    def loop(call: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            for _ in itertools.repeat(None, N):
                try:
                    call()
                except Boom:
                    pass

        return run

    base = best(loop(provider))
    return {name: best(loop(wrap(provider))) - base for name, wrap in sync_callers().items()}


def sync_rejection() -> dict[str, float]:
    """Each library's breaker opened by failures (or forced), then called: rejection cost."""
    rejected = (
        CallNotPermitted,
        pybreaker.CircuitBreakerError,
        aiobreaker.CircuitBreakerError,
        purgatory.domain.model.OpenedState,
        circuitbreaker.CircuitBreakerError,
    )
    results = {}
    for name, wrap in sync_callers().items():
        call = _opened(name, wrap)

        def run(call: Callable[[], int] = call) -> None:
            for _ in itertools.repeat(None, N):
                try:
                    call()
                except rejected:
                    pass

        results[name] = best(run) - best(loop_of(ok))
    return results


def _opened(name: str, wrap: Callable[[Callable[[], int]], Callable[[], int]]) -> Callable[[], int]:
    if name == "failover":
        breaker = CircuitBreaker("bench", hooks=())
        breaker.force_open()
        return lambda: breaker.call(ok)
    if name == "pybreaker":
        py = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
        py.open()
        return lambda: py.call(ok)
    if name == "aiobreaker":
        aio = aiobreaker.CircuitBreaker(fail_max=1, timeout_duration=timedelta(hours=1))
        aio.open()
        return lambda: aio.call(ok)
    if name == "purgatory":
        factory = purgatory.SyncCircuitBreakerFactory(default_threshold=1, default_ttl=3600)
        breaker = factory.get_breaker("b")

        def run() -> int:
            with breaker:
                return ok()

        try:
            with breaker:
                raise Boom
        except Boom:
            pass
        return run
    cb = circuitbreaker.CircuitBreaker(failure_threshold=1, recovery_timeout=3600)

    def boom() -> int:
        raise Boom

    guarded, guarded_boom = cb(ok), cb(boom)
    try:
        guarded_boom()
    except Boom:
        pass
    return guarded


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

    base = timed(aok)
    return {name: timed(make()) - base for name, make in async_callers().items()}


def retained_bytes() -> dict[str, float]:
    """Bytes still allocated per call after 100k successful calls (tracemalloc)."""
    results = {}
    for name, wrap in sync_callers().items():
        call = wrap(ok)
        for _ in range(1_000):
            call()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for _ in range(N):
            call()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
        results[name] = max(grown, 0) / N
    return results


def table(rows: dict[str, dict[str, float]], unit: str) -> None:
    """Print rows with each library's figure and failover's ratio to the fastest peer."""
    names = list(sync_callers())
    print(f"{'case (' + unit + ')':<34}" + "".join(f"{n:>15}" for n in names) + f"{'ratio':>8}")
    for case, figures in rows.items():
        cells = "".join(f"{figures[n]:>15.0f}" if n in figures else f"{'n/a':>15}" for n in names)
        peers = [v for n, v in figures.items() if n != "failover"]
        fastest = min(peers) if peers else float("nan")
        ratio = figures["failover"] / fastest if fastest > 0 else float("nan")
        print(f"{case:<34}{cells}{ratio:>8.2f}")


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
            f"async, {TASKS} tasks x {PER_TASK} calls": async_many_tasks(),
        },
        "ns/call",
    )
    print()
    table({"bytes retained per call": retained_bytes()}, "bytes")


if __name__ == "__main__":
    main()
