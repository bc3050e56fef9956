"""Instructions per guarded call, counted by valgrind's callgrind: a noise-free companion to
``overhead.py`` (whose nanoseconds swing with whatever else the machine runs).

Each (library, case) runs in a fresh interpreter under callgrind twice, with N and 2N calls;
the difference divided by N is the cost of one call, interpreter start-up cancelling out. The
same loop without a breaker gives the bare figure, subtracted in the table. Skipped, with a
message, when valgrind is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

N = 5_000
LIBRARIES = ("failover", "pybreaker", "aiobreaker", "purgatory", "circuitbreaker")
CASES = ("success", "failures", "rejection")

# Each defines make(threshold) -> call(fn): a breaker that opens after `threshold` failures in a
# row and stays open for an hour, called the library's direct way.
SETUP = {
    "bare": "def make(threshold):\n    return lambda fn: fn()",
    "failover": "from failover import BreakerPolicy, CircuitBreaker\n"
    "def make(threshold):\n"
    "    policy = BreakerPolicy(max_consecutive_failures=threshold, open_duration=3600,\n"
    "                           max_open_duration=3600)\n"
    "    return CircuitBreaker('b', policy, hooks=()).call",
    "pybreaker": "import pybreaker\n"
    "def make(threshold):\n"
    "    return pybreaker.CircuitBreaker(fail_max=threshold, reset_timeout=3600).call",
    "aiobreaker": "import aiobreaker, datetime\n"
    "def make(threshold):\n"
    "    hour = datetime.timedelta(hours=1)\n"
    "    return aiobreaker.CircuitBreaker(fail_max=threshold, timeout_duration=hour).call",
    "purgatory": "import purgatory\n"
    "def make(threshold):\n"
    "    factory = purgatory.SyncCircuitBreakerFactory(default_threshold=threshold,\n"
    "                                                  default_ttl=3600)\n"
    "    breaker = factory.get_breaker('b')\n"
    "    def call(fn):\n"
    "        with breaker:\n"
    "            return fn()\n"
    "    return call",
    # circuitbreaker checks its state only in the decorator's wrapper (its .call() does not):
    # decorate each function once, then call the wrappers.
    "circuitbreaker": "import circuitbreaker\n"
    "def make(threshold):\n"
    "    breaker = circuitbreaker.CircuitBreaker(failure_threshold=threshold,\n"
    "                                            recovery_timeout=3600)\n"
    "    wrapped = {f: breaker(f) for f in (ok, boom, sometimes)}\n"
    "    return lambda fn: wrapped[fn]()",
}

PROGRAM = """
import itertools, sys
class Boom(Exception): pass
def ok(): return 1
def boom(): raise Boom
fails = itertools.cycle([False] * 9 + [True])
def sometimes():
    if next(fails):
        raise Boom
    return 1
{setup}
case, n = sys.argv[1], int(sys.argv[2])
if case == "rejection":
    call = make(1)
    try:
        call(boom)  # opens it
    except Exception:
        pass
else:
    call = make(10**4)  # never reached: BreakerPolicy allows at most 10,000
fn = sometimes if case == "failures" else ok
for _ in range(n):
    try:
        call(fn)
    except Exception:
        pass
"""


def instructions(script: Path, case: str, n: int) -> int:
    """Total instructions of one run under callgrind."""
    with tempfile.NamedTemporaryFile(suffix=".out") as out:
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out.name}",
                "-q",
                sys.executable,
                str(script),
                case,
                str(n),
            ],
            check=True,
            capture_output=True,
        )
        match = re.search(r"^(?:summary|totals): (\d+)", Path(out.name).read_text(), re.M)
        assert match is not None, "callgrind wrote no summary"
        return int(match.group(1))


def per_call(library: str, case: str, folder: Path) -> float:
    """Instructions of one call of ``case`` through ``library``."""
    script = folder / f"bench_{library}.py"  # not "failover.py": it would shadow the package
    script.write_text(PROGRAM.format(setup=SETUP[library]))
    return (instructions(script, case, 2 * N) - instructions(script, case, N)) / N


def main() -> None:
    """Print the table of instructions per call over the bare call (libraries: argv or all)."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: instruction counts skipped (apt-get install valgrind)")
        return
    print(f"instructions per call over a bare call (callgrind, {N} vs {2 * N} calls)")
    libraries = tuple(sys.argv[1:]) or LIBRARIES
    print(f"{'case':<12}" + "".join(f"{name:>15}" for name in libraries) + f"{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case in CASES:
            bare = per_call("bare", case, folder)
            row = {name: per_call(name, case, folder) - bare for name in libraries}
            peers = [v for k, v in row.items() if k != "failover"]
            ratio = f"{row['failover'] / min(peers):.2f}" if peers and "failover" in row else "-"
            cells = "".join(f"{row[name]:>15.0f}" for name in libraries)
            print(f"{case:<12}{cells}{ratio:>8}")


if __name__ == "__main__":
    main()
