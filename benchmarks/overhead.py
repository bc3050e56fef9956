"""Overhead per call of failover's CircuitBreaker against the Python breakers it replaces.

Run with ``make bench`` (installs the ``bench`` extra: pybreaker, aiobreaker, purgatory,
circuitbreaker). Every figure is ns per call *over a bare call of the same function*, the best
of several repeats (timeit), all libraries measured in the same run. Not a test: nothing
asserts a time.

failover is measured in three configurations:

- ``default``: ``CircuitBreaker(name)`` as users get it with the ``otel`` extra installed
  (hooks=None: LoggingHook and OpenTelemetryHook, on the API's global no-op MeterProvider);
- ``hooks=()``: no hooks at all;
- ``sdk``: the default configuration in a service that exports metrics: an OpenTelemetry SDK
  MeterProvider (with an in-memory reader) set globally before any breaker is built. OTel sets
  the global provider once per process, so this column is measured in a child process
  (``overhead.py --sdk``), which prints its figures as JSON.

Each case is measured for the call form (``breaker.call(fn)`` / ``await breaker.acall(fn)``)
and for the decorator (``@breaker`` on a ``def`` / ``async def``); each peer in its own forms
(see overhead_subjects.py).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import random
import subprocess
import sys
import timeit
import tracemalloc
from collections.abc import Callable
from importlib.metadata import version

from overhead_subjects import (
    PEERS,
    ARunner,
    Boom,
    Failover,
    N,
    Runner,
    Subject,
    Thunk,
    adirect_loop,
    aok,
    direct_loop,
    ok,
)

from failover import BreakerState, CircuitBreaker
from failover.telemetry import default_hooks, otel_available

REPEATS = 7
TASK_REPEATS = 5
TASKS, PER_TASK = 1_000, 100
CONFIGS = ("default", "hooks=()", "sdk")
COLUMNS = (*CONFIGS, *PEERS)
TASKS_ROW = f"async, {TASKS} tasks x {PER_TASK} (total)"
# the targets: default <= the fastest peer on these rows; sdk <= 1.5 x hooks=() on all
# rows measured over a bare call
PEER_TARGET = ("sync success", "async success", "sync rejection", "async rejection")
SDK_TARGET = 1.5

Rows = dict[str, dict[str, float]]


def pattern() -> list[bool]:
    """10% failures, seeded, never three in a row even cycled (failover trips at 3 in a row)."""
    rng = random.Random(7)
    fails = [rng.random() < 0.1 for _ in range(N)]
    fails[0] = fails[1] = False
    for i in range(2, N):
        if fails[i] and fails[i - 1] and fails[i - 2]:
            fails[i] = False
    return fails


def best(run: Callable[[], None], number: int = N, repeat: int = REPEATS) -> float:
    """Best ns per call over ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(run, number=1, repeat=repeat)) / number * 1e9


def abest(run: ARunner) -> float:
    return best(lambda: asyncio.run(run()))


def add(
    rows: Rows, case: str, forms: tuple[str, str], name: str, figures: tuple[float, float]
) -> None:
    for form, figure in zip(forms, figures, strict=True):
        rows.setdefault(f"{case} {form}", {})[name] = figure


def sync_case(
    rows: Rows, subjects: dict[str, Subject], case: str, fn: Callable[[], int], opened: bool
) -> None:
    base = best(direct_loop(fn))
    for name, subject in subjects.items():
        forms = subject.sync(fn, opened)
        if forms is not None:
            add(
                rows,
                case,
                (".call", "@breaker"),
                name,
                (best(forms[0]) - base, best(forms[1]) - base),
            )


def async_case(rows: Rows, subjects: dict[str, Subject], case: str, opened: bool) -> None:
    base = abest(adirect_loop(aok))
    for name, subject in subjects.items():
        forms = subject.asynchronous(aok, opened)
        if forms is not None:
            add(
                rows,
                case,
                (".acall", "@breaker"),
                name,
                (abest(forms[0]) - base, abest(forms[1]) - base),
            )


def tasks_case(rows: Rows, subjects: dict[str, Subject]) -> None:
    """Total ns per call: the task switches dominate the bare loop."""

    async def task(call: Thunk) -> None:
        for _ in range(PER_TASK):
            await call()
            await asyncio.sleep(0)

    async def run(call: Thunk) -> None:
        await asyncio.gather(*(task(call) for _ in range(TASKS)))

    def timed(call: Thunk) -> float:
        return best(lambda: asyncio.run(run(call)), TASKS * PER_TASK, TASK_REPEATS)

    for name, subject in subjects.items():
        thunks = subject.thunks(aok)
        if thunks is not None:
            add(rows, TASKS_ROW, (".acall", "@breaker"), name, (timed(thunks[0]), timed(thunks[1])))


def failures_case(rows: Rows, subjects: dict[str, Subject]) -> None:
    cursor = itertools.cycle(pattern())

    def provider() -> int:
        if next(cursor):
            raise Boom
        return 1

    sync_case(rows, subjects, "sync, 10% failures", provider, opened=False)


def retained(rows: Rows, subjects: dict[str, Subject]) -> None:
    """Bytes still allocated per call after N successful calls (tracemalloc), per form."""
    for name, subject in subjects.items():
        forms = subject.sync(ok, opened=False)
        if forms is not None:
            grown = (_grown(forms[0]), _grown(forms[1]))
            add(rows, "bytes retained/call", (".call", "@breaker"), name, grown)


def _grown(loop: Runner) -> float:
    loop()  # warm up: caches, interned objects, lazily built state
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    loop()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    return max(sum(s.size_diff for s in after.compare_to(before, "filename")), 0) / N


def measure(subjects: dict[str, Subject]) -> tuple[Rows, Rows]:
    """Every case for ``subjects``: (ns per call, bytes retained per call)."""
    rows: Rows = {}
    sync_case(rows, subjects, "sync success", ok, opened=False)
    async_case(rows, subjects, "async success", opened=False)
    sync_case(rows, subjects, "sync rejection", ok, opened=True)
    async_case(rows, subjects, "async rejection", opened=True)
    failures_case(rows, subjects)
    tasks_case(rows, subjects)
    memory: Rows = {}
    retained(memory, subjects)
    return rows, memory


def check_states(subject: Failover) -> None:
    """Every breaker built is still in the state it was measured in (the 10% failures must not
    trip one, else that row measures rejections)."""
    expected = (BreakerState.CLOSED, BreakerState.FORCED_OPEN)
    moved = [b.name for b in subject.built if b.state not in expected]
    if moved:
        raise SystemExit(f"breakers {moved} changed state during the run: the figures are wrong")


# --- the sdk configuration, in a child process ---------------------------------------------------


def sdk_child() -> None:
    """Set an SDK MeterProvider globally, then measure the default configuration; print JSON."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    subject = Failover(CircuitBreaker)
    rows, memory = measure({"sdk": subject})
    check_states(subject)
    data = reader.get_metrics_data()
    collected = {
        metric.name: len(list(metric.data.data_points))
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    print(json.dumps({"rows": rows, "memory": memory, "collected": collected}))


def sdk_rows() -> tuple[Rows, Rows, dict[str, int]] | None:
    """The child's figures, or None (and why, on stderr) when it failed."""
    child = [sys.executable, __file__, "--sdk"]
    done = subprocess.run(child, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        print(f"sdk configuration: child exited {done.returncode} (see stderr)", file=sys.stderr)
        return None
    out = json.loads(done.stdout)
    return out["rows"], out["memory"], out["collected"]


def merge(into: Rows, rows: Rows) -> None:
    for case, figures in rows.items():
        into.setdefault(case, {}).update(figures)


# --- the table -----------------------------------------------------------------------------------


def width(column: str) -> int:
    return max(len(column) + 2, 10)


def ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or den is None or den < 0.5 else num / den


def verdict(case: str, to_peer: float | None, to_bare: float | None) -> str:
    """'ok' or 'MISS' against the issue's targets that apply to the row; '' when none does."""
    checks = []
    if case.startswith(PEER_TARGET):
        checks.append(to_peer is not None and to_peer <= 1.0)
    if not case.startswith(TASKS_ROW):
        checks.append(to_bare is not None and to_bare <= SDK_TARGET)
    return "" if not checks else "ok" if all(checks) else "MISS"


def cell(value: float | None, column: str, digits: int) -> str:
    return f"{'n/a':>{width(column)}}" if value is None else f"{value:>{width(column)}.{digits}f}"


def table(rows: Rows, unit: str, digits: int = 0, ratios: bool = True) -> None:
    """One line per case: each column's figure, then default / fastest peer and sdk / hooks=()."""
    head = f"{'case (' + unit + ')':<42}" + "".join(f"{c:>{width(c)}}" for c in COLUMNS)
    print(head + (f"{'def/peer':>10}{'sdk/()':>8}{'target':>8}" if ratios else ""))
    for case, figures in rows.items():
        line = f"{case:<42}" + "".join(cell(figures.get(c), c, digits) for c in COLUMNS)
        if ratios:
            peers = [figures[p] for p in PEERS if p in figures]
            to_peer = ratio(figures.get("default"), min(peers) if peers else None)
            to_bare = ratio(figures.get("sdk"), figures.get("hooks=()"))
            shown = [f"{r:.2f}" if r is not None else "-" for r in (to_peer, to_bare)]
            line += f"{shown[0]:>10}{shown[1]:>8}{verdict(case, to_peer, to_bare):>8}"
        print(line)


def preamble() -> None:
    libraries = ("opentelemetry-api", "opentelemetry-sdk", *PEERS)
    print(f"Python {sys.version.split()[0]}; " + ", ".join(f"{n} {version(n)}" for n in libraries))
    print(f"ns per call over a bare call, best of {REPEATS} runs of {N:,} calls (timeit)")
    hooks = ", ".join(map(repr, default_hooks())) if otel_available() else "no otel extra!"
    print(f"default  = CircuitBreaker(name): hooks {hooks}; the API's no-op MeterProvider")
    print("hooks=() = CircuitBreaker(name, hooks=())")
    print("sdk      = the default, after metrics.set_meter_provider(sdk MeterProvider(reader))")
    print("def/peer = default / fastest peer; sdk/() = sdk / hooks=()")
    print(f"targets (issue 14): def/peer <= 1.00 on {', '.join(PEER_TARGET)};")
    print(f"                    sdk/() <= {SDK_TARGET:.2f} on every row over a bare call\n")


def main() -> None:
    """Run every case in every configuration and print the tables."""
    if sys.argv[1:] == ["--sdk"]:
        sdk_child()
        return
    sdk = sdk_rows()
    preamble()
    subjects: dict[str, Subject] = {
        "default": Failover(CircuitBreaker),
        "hooks=()": Failover(lambda name: CircuitBreaker(name, hooks=())),
        **PEERS,
    }
    rows, memory = measure(subjects)
    for subject in subjects.values():
        if isinstance(subject, Failover):
            check_states(subject)
    if sdk is not None:
        merge(rows, sdk[0])
        merge(memory, sdk[1])
    table(rows, "ns/call")
    print()
    table(memory, "bytes", digits=2, ratios=False)
    if sdk is not None:
        print("\nsdk: the reader collected", ", ".join(f"{k} ({v})" for k, v in sdk[2].items()))


if __name__ == "__main__":
    main()
