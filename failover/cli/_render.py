"""Output: rich tables on a terminal, plain aligned text otherwise (pipes, files, tests).

Every command builds its output as titled tables (``Table``) and hands them to an ``Output``,
which renders them with rich when the stream is a terminal and rich is installed (the ``cli``
extra), and as plain text otherwise. JSON output (``--json``) is strict: never NaN nor
Infinity, which strict parsers reject (see ``failover._base.json``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

import attrs

from failover._base.json import dumps as strict_json

__all__ = ["Output", "Table", "fmt_percent", "fmt_seconds"]


@attrs.frozen
class Table:
    """A titled table; a cell is text, numeric columns are right-aligned."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()


def fmt_percent(value: float | None) -> str:
    """``0.987`` as ``98.7%``; ``-`` for None."""
    return "-" if value is None else f"{100 * value:.1f}%"


def fmt_seconds(value: float | None, digits: int = 3) -> str:
    """Seconds with ``digits`` decimals and an ``s``; ``-`` for None."""
    return "-" if value is None else f"{value:.{digits}f} s"


class Output:
    """Where a command writes: its stream, and whether to use rich.

    Args:
        stream: Standard output (``sys.stdout`` when None, read at call time).
        rich: Use rich; None: when the stream is a terminal and rich is installed.
    """

    def __init__(self, stream: IO[str] | None = None, *, rich: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.rich = _rich_available() and _is_terminal(self.stream) if rich is None else rich

    def line(self, text: str = "") -> None:
        """One line of text."""
        self.stream.write(text + "\n")

    def json(self, data: Any) -> None:
        """``data`` as indented, strict JSON (a float that is not finite is written null)."""
        self.stream.write(strict_json(data, indent=2, sort_keys=False, default=str) + "\n")

    def json_line(self, data: Any) -> None:
        """``data`` as one line of compact, strict JSON (see ``json``)."""
        self.stream.write(strict_json(data, separators=(",", ":"), default=str) + "\n")

    def table(self, table: Table) -> None:
        """A table, rich or plain."""
        if self.rich:
            self._rich_table(table)
        else:
            self.stream.write(plain_table(table))

    def _rich_table(self, table: Table) -> None:
        from rich.console import Console
        from rich.table import Table as RichTable

        rich_table = RichTable(title=table.title, title_justify="left")
        for index, header in enumerate(table.headers):
            rich_table.add_column(header, justify="right" if index in table.numeric else "left")
        for row in table.rows:
            rich_table.add_row(*row)
        Console(file=self.stream).print(rich_table)

    @contextmanager
    def progress(self, description: str, total: float) -> Iterator[Any]:
        """A progress bar on a rich terminal (None otherwise): call ``update(done)``."""
        if not self.rich:
            yield None
            return
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(file=self.stream), transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda done: bar.update(task, completed=done)


def plain_table(table: Table) -> str:
    """A table as aligned plain text, its title on the first line."""
    rows: Sequence[tuple[str, ...]] = (table.headers, *table.rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.headers))]

    def render(row: tuple[str, ...]) -> str:
        cells = (
            cell.rjust(width) if index in table.numeric else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    lines = [table.title, *(render(row) for row in rows)] if table.title else map(render, rows)
    return "\n".join(lines) + "\n"


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:  # pragma: no cover - rich comes with the cli extra
        return False
    return True


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
