"""The benchmarks still run (a refactor of the internals must not break ``make bench``): each
script's ``main`` at a tiny size, and every program the instruction counts run under
callgrind, run here by plain Python. No figure is asserted: speed is measured by
``make bench``, never in tests."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import io
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/``name``.py as a module (its folder importable, as when run as a script)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def printed(main: object) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main()  # type: ignore[operator]
    return out.getvalue()


def test_the_coordinator_benchmark_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load("coordinator", monkeypatch)
    monkeypatch.setattr(bench, "once", functools.partial(bench.once, n=20))
    monkeypatch.setattr(bench, "N", 20)
    monkeypatch.setattr(bench, "REPEATS", 1)
    rows = asyncio.run(bench.overhead())
    assert bench.DEFAULT in dict(rows)
    for strategy in bench.STRATEGIES:  # its pick table, at the smallest size
        assert bench.pick_cost(10, strategy) > 0


def test_the_machine_benchmark_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load("machine", monkeypatch)
    monkeypatch.setattr(bench, "N", 100)
    monkeypatch.setattr(bench, "REPEATS", 1)
    assert "open, rejection" in printed(bench.main)


def found(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_program(script: Path, case: str, n: int) -> int:
    """``instructions`` without callgrind: the program runs to its end (a made-up count, one
    per library, so that the table's arithmetic runs too)."""
    subprocess.run([sys.executable, str(script), case, str(n)], check=True, capture_output=True)
    return n * len(script.read_text())


@pytest.mark.parametrize("script", ["instructions", "request_instructions"])
def test_every_program_counted_under_callgrind_runs(
    script: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bench = load(script, monkeypatch)
    monkeypatch.setattr(bench, "instructions", run_program)
    monkeypatch.setattr(bench.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(bench, "N", 10)
    # the peers come with the bench extra (make bench), which make test does not install
    peers = [p for p in ("pybreaker", "aiobreaker", "purgatory", "circuitbreaker") if found(p)]
    monkeypatch.setattr(sys, "argv", [script, "failover", *peers])
    text = printed(bench.main)
    assert "instructions per" in text
