"""Instructions per coordinated request, counted by valgrind's callgrind, and where they go.

The noise-free companion to ``coordinator.py``: ``await coordinator.generate("x")`` over 3
ScriptedProviders answering at once, against ``await provider.generate("x")`` called directly.
Each variant runs in a fresh interpreter under callgrind twice, with N and 2N requests; the
difference divided by N is one request, interpreter start-up cancelling out.

The breakdown stubs one part of the request at a time (a benchmark-only monkeypatch) and
reports what the request saves without it: what the remaining overhead is made of. Skipped,
with a message, when valgrind is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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

# variant -> a monkeypatch that removes one part of the request (breakdown rows only)
STUBS = {
    "direct": "",
    "deadline 60 s": "",
    "no deadline": "",
    "breaker: record the outcome": (
        "from failover._breaker import CircuitBreaker\n"
        "CircuitBreaker.finish = lambda self, g, s, e, v=None: self._now()"
    ),
    "strategy: reorder after it": "coordinator._ordering.update = id",
    "figures: latency EWMA": (
        "from failover._selection import Slot\nSlot.observe = lambda self, d, f, e: None"
    ),
    "admission (breaker, quota)": (
        "from failover._selection import Slot\nSlot.admit = lambda self, now: 0"
    ),
}


def instructions(script: Path, variant: str, n: int) -> int:
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
                variant,
                str(n),
            ],
            check=True,
            capture_output=True,
        )
        match = re.search(r"^(?:summary|totals): (\d+)", Path(out.name).read_text(), re.M)
        assert match is not None, "callgrind wrote no summary"
        return int(match.group(1))


def per_request(variant: str, folder: Path) -> float:
    """Instructions of one request of ``variant``."""
    script = folder / "bench_request.py"
    script.write_text(PROGRAM.format(stub=STUBS[variant]))
    return (instructions(script, variant, 2 * N) - instructions(script, variant, N)) / N


def main() -> None:
    """Print instructions per request, and the breakdown of the overhead."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: instruction counts skipped (apt-get install valgrind)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        counts = {variant: per_request(variant, folder) for variant in STUBS}
    direct, full = counts["direct"], counts["deadline 60 s"]
    print(f"instructions per request, 3 providers answering at once ({N} vs {2 * N} requests)")
    print(f"{'':40}{'instructions':>14}{'overhead':>10}")
    for label, variant in (
        ("provider.generate directly", "direct"),
        ("coordinator.generate (deadline 60 s)", "deadline 60 s"),
        ("coordinator.generate (no deadline)", "no deadline"),
    ):
        print(f"{label:40}{counts[variant]:>14.0f}{counts[variant] - direct:>10.0f}")
    print()
    print("of the overhead (deadline 60 s): what a request saves without")
    parts = [v for v in STUBS if ":" in v or v.startswith("admission")]
    for variant in parts:
        print(f"  {variant:38}{full - counts[variant]:>10.0f}")
    print(f"  {'arming no timer (no deadline)':38}{full - counts['no deadline']:>10.0f}")


if __name__ == "__main__":
    main()
