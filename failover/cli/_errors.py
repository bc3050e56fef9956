"""The CLI's own error: what to print, and the exit code."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_DEFECTS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "CommandError",
]

EXIT_OK = 0
"""Success: the simulation ran, the policy verified clean, every provider is healthy."""
EXIT_DEFECTS = 1
"""The command ran and found something wrong: policy defects, an unhealthy provider."""
EXIT_BAD_INPUT = 2
"""The command could not run: bad arguments, a bad file, missing settings or API keys."""
EXIT_INTERNAL = 3
"""An unexpected error, a bug in failover: one line naming it, never a traceback."""
EXIT_BROKEN_PIPE = 141
"""Standard output was closed before everything was written (``failover ... | head -1``): the
rest is dropped quietly. 141 is 128 + SIGPIPE, what a shell shows for a program a closed pipe
stops."""


class CommandError(Exception):
    """A command cannot run; ``lines`` say why (printed to stderr), ``code`` is the exit code."""

    def __init__(self, lines: Iterable[str] | str, code: int = EXIT_BAD_INPUT) -> None:
        self.lines = (lines,) if isinstance(lines, str) else tuple(lines)
        self.code = code
        super().__init__("\n".join(self.lines))
