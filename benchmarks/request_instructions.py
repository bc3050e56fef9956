"""Instructions per coordinated request, counted by valgrind's callgrind, and where they go.

The noise-free companion to ``coordinator.py``: ``await coordinator.generate("x")`` over 3
ScriptedProviders answering at once, against ``await provider.generate("x")`` called directly.
Each variant runs in a fresh interpreter under callgrind twice, with N and 2N requests; the
difference divided by N is one request, interpreter start-up cancelling out.

The breakdown stubs one part of the request at a time (a benchmark-only monkeypatch) and
reports what the request saves without it: what the remaining overhead is made of. The
"floor" row is a measuring device, not library code: the same request's common case (pick,
admit, step the provider's coroutine once, record the success in the breaker's window under
its lock, the latency EWMA, the strategy's re-sort, Attempt and Result) written as one
function that reaches into every layer, with none of the checks for the uncommon cases: what
pure Python cannot go below with this bookkeeping. Skipped, with a message, when valgrind is
not installed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from instructions import instructions  # benchmarks/instructions.py: one run under callgrind

N = 2_000

PROGRAM = """
import asyncio, sys
from failover import Coordinator, RetryPolicy
from failover.testing import ScriptedProvider
variant, n = sys.argv[1], int(sys.argv[2])
providers = [ScriptedProvider(f"p{{i}}", lambda request: "ok") for i in range(3)]
retry = RetryPolicy(request_timeout=None) if variant == "no deadline" else RetryPolicy()
coordinator = Coordinator(providers, hooks=(), retry=retry)
{stub}
async def main():
    if variant == "direct":
        provider = providers[0]
        for _ in range(n):
            await provider.generate("x")
    else:
        for _ in range(n):
            await coordinator.generate("x")
asyncio.run(main())
"""

FLOOR = """
import asyncio, bisect, sys, time
from operator import methodcaller
from failover import Coordinator, RetryPolicy
from failover._base.records import Attempt
from failover._base.records import Result
from failover._coordinator.timeouts import resume_within
from failover.testing import ScriptedProvider
variant, n = sys.argv[1], int(sys.argv[2])
providers = [ScriptedProvider(f"p{i}", lambda request: "ok") for i in range(3)]
coordinator = Coordinator(providers, hooks=(), retry=RetryPolicy())
new, monotonic = tuple.__new__, time.monotonic
async def run(self, fn, kind):
    now = monotonic()
    deadline = now + 60.0
    for slot in self._pool.layout.ordering.order(now, True):
        machine = slot.machine
        generation = machine.generation
        if slot.serves[kind] and machine.free_admission:
            break
    awaitable = fn(slot.provider)
    try:
        yielded = awaitable.send(None)
    except StopIteration as stop:
        value = stop.value
    else:
        value = await resume_within(self.clock, awaitable, yielded, deadline)
    end = monotonic()
    lock = slot.breaker._lock
    lock.acquire()
    try:
        if generation == machine.generation:
            machine.lifetime_calls += 1
            window = slot.window
            index, codes = window._next, window._codes
            old = codes[index]
            if old:
                codes[index] = 0
                window.failures -= old & 1
                window.slow_calls -= old >> 1
            index += 1
            window._next = index if index < window._size else 0
            if window.calls < window._size:
                window.calls += 1
            machine.consecutive_successes += 1
            machine.consecutive_failures = 0
    finally:
        lock.release()
    duration = end - now
    latency = slot.latency
    slot.latency = latency = duration if latency is None else latency + 0.2 * (duration - latency)
    slot.score_calls += 1.0  # the score (an aged one is weighed down first, as observe does)
    slot.score_successes += 1.0
    if end - slot.score_at >= 30.0 / 256:
        slot._age_score(end)
    self._pool.layout.ordering.update(slot)  # the success rate rank, the priority/latency order
    return new(Result, (value, slot.name, (new(Attempt, (slot.name, now, duration, None)),)))
async def main():
    for _ in range(n):
        await run(coordinator, methodcaller("generate", "x"), 1)
asyncio.run(main())
"""

# variant -> a monkeypatch that removes one part of the request (breakdown rows only)
STUBS = {
    "direct": "",
    "deadline 60 s": "",
    "no deadline": "",
    "breaker: record the outcome": (
        "from failover._breaker.breaker import CircuitBreaker\n"
        "CircuitBreaker.finish = lambda self, g, s, e, v=None: self._now()"
    ),
    "strategy: reorder after it": "coordinator._pool.layout.ordering.update = id",
    "figures: latency EWMA and score": (
        "from failover._coordinator.slot import Slot\nSlot.observe = lambda self, d, f, e: None"
    ),
}


def per_request(variant: str, folder: Path) -> float:
    """Instructions of one request of ``variant``."""
    script = folder / "bench_request.py"
    script.write_text(FLOOR if variant == "floor" else PROGRAM.format(stub=STUBS[variant]))
    return (instructions(script, variant, 2 * N) - instructions(script, variant, N)) / N


def main() -> None:
    """Print instructions per request, and the breakdown of the overhead."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: instruction counts skipped (apt-get install valgrind)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        counts = {variant: per_request(variant, folder) for variant in [*STUBS, "floor"]}
    direct, full = counts["direct"], counts["deadline 60 s"]
    print(f"instructions per request, 3 providers answering at once ({N} vs {2 * N} requests)")
    print(f"{'':40}{'instructions':>14}{'overhead':>10}")
    for label, variant in (
        ("provider.generate directly", "direct"),
        ("coordinator.generate (deadline 60 s)", "deadline 60 s"),
        ("coordinator.generate (no deadline)", "no deadline"),
        ("floor: the same in one frame (see above)", "floor"),
    ):
        print(f"{label:40}{counts[variant]:>14.0f}{counts[variant] - direct:>10.0f}")
    print()
    print("of the overhead (deadline 60 s): what a request saves without")
    parts = [v for v in STUBS if ":" in v]
    for variant in parts:
        print(f"  {variant:38}{full - counts[variant]:>10.0f}")
    print(f"  {'arming no timer (no deadline)':38}{full - counts['no deadline']:>10.0f}")


if __name__ == "__main__":
    main()
