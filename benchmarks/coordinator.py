"""Coordinator overhead per request, and the cost of one pick with many providers.

Run with ``.venv/bin/python benchmarks/coordinator.py``. Every figure is the best of several
repeats. Not a test: nothing asserts a time.

- request overhead: ``await coordinator.generate(...)`` over 3 ScriptedProviders answering at
  once, minus ``await provider.generate(...)`` called directly (SystemClock; default retry, so
  each attempt runs under the request deadline's timeout; and without any deadline), with
  ``hooks=()`` and in the default configuration (``Coordinator(providers)`` as users build
  it: default hooks, default retry); the issue's target is the latter's overhead <= 5 us;
- pick: choosing the provider for a request (walking the strategy's order until a provider
  admits) with 10, 100 and 1,000 providers, for each built-in strategy.
"""

from __future__ import annotations

import asyncio
import timeit

from failover._coordinator.coordinator import Coordinator
from failover._coordinator.kinds import GENERATE
from failover._coordinator.plan import Plan
from failover.retry import RetryPolicy
from failover.strategies import STRATEGIES
from failover.testing import ScriptedProvider

N = 10_000
REPEATS = 15
TARGET_US = 5.0  # issue 14: overhead per request, 3 providers, default configuration
DEFAULT = "coordinator.generate (default config)"


def providers(n: int) -> list[ScriptedProvider]:
    return [ScriptedProvider(f"p{i}", lambda r: "ok") for i in range(n)]


async def once(fn: object, n: int = N) -> float:
    """Seconds per awaited ``fn()`` over one run of ``n``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(n):
        await fn()  # type: ignore[operator]
    return (loop.time() - start) / n


async def overhead() -> list[tuple[str, float]]:
    """Best of REPEATS per variant; the variants take turns within each repeat, so that a
    noisy spell on the machine hits all of them alike."""
    ps = providers(3)
    deadline = Coordinator(ps, hooks=(), retry=RetryPolicy())
    no_deadline = Coordinator(ps, hooks=(), retry=RetryPolicy(request_timeout=None))
    default = Coordinator(ps)
    default_no_deadline = Coordinator(ps, retry=RetryPolicy(request_timeout=None))
    variants = [
        ("provider.generate directly", lambda: ps[0].generate("x")),
        ("hooks=(), deadline 60 s", lambda: deadline.generate("x")),
        ("hooks=(), no deadline", lambda: no_deadline.generate("x")),
        (DEFAULT, lambda: default.generate("x")),
        ("default config, no deadline", lambda: default_no_deadline.generate("x")),
    ]
    best = [float("inf")] * len(variants)
    for _ in range(REPEATS):
        for i, (_, fn) in enumerate(variants):
            best[i] = min(best[i], await once(fn))
    return [(label, seconds) for (label, _), seconds in zip(variants, best, strict=True)]


def pick_cost(n: int, strategy: str) -> float:
    c = Coordinator(providers(n), hooks=(), strategy=strategy)  # type: ignore[arg-type]
    now = c.clock.monotonic()
    plan = Plan(c._pool, GENERATE, None)

    def pick() -> None:
        slot, generation = plan._fresh(now)  # type: ignore[misc]
        slot.breaker.release(generation)

    return min(timeit.repeat(pick, number=N, repeat=REPEATS)) / N


def main() -> None:
    rows = asyncio.run(overhead())
    direct = rows[0][1]
    print(f"{'request (3 providers, answering at once)':44} {'us/request':>11} {'overhead':>10}")
    for label, seconds in rows:
        print(f"{label:44} {seconds * 1e6:11.2f} {(seconds - direct) * 1e6:10.2f}")
    overhead_us = (dict(rows)[DEFAULT] - direct) * 1e6
    verdict = "ok" if overhead_us <= TARGET_US else "MISS"
    print(
        f"target (issue 14): default config overhead <= {TARGET_US:.0f} us per request "
        f"(3 providers): {overhead_us:.2f} us -> {verdict}"
    )
    print()
    print(f"{'pick (us)':16}" + "".join(f"{n:>10}" for n in (10, 100, 1000)))
    for strategy in STRATEGIES:
        costs = [pick_cost(n, strategy) * 1e6 for n in (10, 100, 1000)]
        print(f"{strategy:16}" + "".join(f"{cost:10.2f}" for cost in costs))


if __name__ == "__main__":
    main()
