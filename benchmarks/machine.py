"""Micro-benchmark of the pure BreakerMachine: admission + recording, in ns per call.

Run with ``make bench``. The figure is the best of several repeats (the least disturbed run) of a
loop of ``admit`` + ``record`` on one machine, minus the same loop calling nothing.
"""

from __future__ import annotations

import itertools
import random
import sys
import timeit
from collections.abc import Callable

from statemachines import BreakerMachine, BreakerPolicy, Outcome, TimeWindow

N = 200_000
REPEATS = 7


def _closed_success(policy: BreakerPolicy) -> Callable[[], None]:
    machine = BreakerMachine("bench", policy)
    admit, record, success = machine.admit, machine.record, Outcome.SUCCESS

    def run() -> None:
        for _ in itertools.repeat(None, N):
            record(admit(1.0), success, 1.0)  # type: ignore[arg-type]

    return run


def _closed_ten_percent_failures() -> Callable[[], None]:
    # consecutive failures never reach 3 and the rate stays at 10%: the breaker stays CLOSED
    machine = BreakerMachine("bench", BreakerPolicy())
    rng = random.Random(7)
    pattern = [Outcome.FAILURE if rng.random() < 0.1 else Outcome.SUCCESS for _ in range(N)]
    for i in range(2, N):
        if pattern[i] is pattern[i - 1] is pattern[i - 2] is Outcome.FAILURE:
            pattern[i] = Outcome.SUCCESS
    admit, record = machine.admit, machine.record

    def run() -> None:
        for outcome in pattern:
            record(admit(1.0), outcome, 1.0)  # type: ignore[arg-type]

    return run


def _rejected_open() -> Callable[[], None]:
    machine = BreakerMachine("bench", BreakerPolicy())
    machine.force_open(0.0)
    admit = machine.admit

    def run() -> None:
        for _ in itertools.repeat(None, N):
            admit(1.0)

    return run


def _baseline() -> Callable[[], None]:
    def nothing(_: float) -> None:
        return None

    def run() -> None:
        for _ in itertools.repeat(None, N):
            nothing(1.0)

    return run


def best_ns(run: Callable[[], None]) -> float:
    """Best time per iteration over REPEATS runs, in ns."""
    return min(timeit.repeat(run, number=1, repeat=REPEATS)) / N * 1e9


def main() -> None:
    """Print the table."""
    base = best_ns(_baseline())
    cases = {
        "closed, success (count window 100)": _closed_success(BreakerPolicy()),
        "closed, success (time window 60 s / 10)": _closed_success(
            BreakerPolicy(window=TimeWindow(60.0, 10))
        ),
        "closed, 10% failures": _closed_ten_percent_failures(),
        "open, rejection (admit only)": _rejected_open(),
    }
    print(f"BreakerMachine micro-benchmark, Python {sys.version.split()[0]}, best of {REPEATS}")
    print(f"baseline loop with one empty call: {base:.0f} ns")
    print(f"{'case':<42} {'ns/call':>8} {'over baseline':>14}")
    for name, run in cases.items():
        ns = best_ns(run)
        print(f"{name:<42} {ns:>8.0f} {ns - base:>14.0f}")


if __name__ == "__main__":
    main()
