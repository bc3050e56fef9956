"""The documentation pages and their code blocks, as the docs tests read them (no tests)."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent.parent
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


def page_id(page: Path) -> str:
    """A page's name in test ids: relative to docs/, or to the root for README.md."""
    return page.relative_to(DOCS if page.is_relative_to(DOCS) else ROOT).as_posix()


PAGE_IDS = [page_id(page) for page in PAGES]
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^(`{3,})\s*([\w-]*)\s*$")
OUTPUT_INFOS = ("text", "mermaid")


@attrs.frozen
class Fence:
    """One fenced block: its info string, its fence lines (0-based) and its content."""

    info: str
    opening: int
    closing: int
    code: str


@attrs.frozen
class Block:
    """One ```python block of a page."""

    page: Path
    index: int
    line: int  # 1-based number of the block's first line of code
    code: str
    run: bool
    output: str | None  # the output block that directly follows, if any


def parse_fences(lines: list[str]) -> list[Fence]:
    """Every backtick-fenced block (an unclosed fence runs to the end, as in CommonMark)."""
    fences: list[Fence] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        close = re.compile(rf"{opening.group(1)}`*\s*")
        end = next((i for i in range(index + 1, len(lines)) if close.fullmatch(lines[i])), None)
        end = len(lines) if end is None else end
        code = "".join(f"{line}\n" for line in lines[index + 1 : end])
        fences.append(Fence(opening.group(2), index, end, code))
        index = end + 1
    return fences


def _nearest(lines: list[str], indices: range) -> int | None:
    """The first index in ``indices`` of a non-blank line."""
    return next((i for i in indices if lines[i].strip()), None)


def parse_blocks(page: Path, text: str) -> list[Block]:
    """The python blocks of a page, each with its no-run flag and its expected output."""
    lines = text.splitlines()
    by_opening: dict[int | None, Fence] = {f.opening: f for f in parse_fences(lines)}
    blocks: list[Block] = []
    for fence in (f for f in by_opening.values() if f.info == "python"):
        before = _nearest(lines, range(fence.opening - 1, -1, -1))
        run = before is None or lines[before].strip() != NO_RUN
        after = by_opening.get(_nearest(lines, range(fence.closing + 1, len(lines))))
        output = after.code if after is not None and after.info in OUTPUT_INFOS else None
        blocks.append(Block(page, len(blocks), fence.opening + 2, fence.code, run, output))
    return blocks


def stray_markers(text: str) -> list[int]:
    """The lines (1-based) of no-run markers that do not directly precede a python block."""
    lines = text.splitlines()
    pythons = {f.opening for f in parse_fences(lines) if f.info == "python"}
    markers = [i for i, line in enumerate(lines) if line.strip() == NO_RUN]
    return [i + 1 for i in markers if _nearest(lines, range(i + 1, len(lines))) not in pythons]


BLOCKS = {page: parse_blocks(page, page.read_text(encoding="utf-8")) for page in PAGES}
