"""Every ```python block under docs/ and in README.md runs, one test per block; the blocks of
one page share one namespace and run in order, once per session (each block's test reads its
own outcome, and fails if an earlier block of the page failed); a block directly preceded by a
``<!-- no-run -->`` line is not run (signature listings and other fragments). A ```text or
```mermaid block directly after a python block is what that block prints. The Mermaid block of
docs/semantics.md is ``statemachines.to_mermaid(BreakerPolicy())``."""

from __future__ import annotations

import contextlib
import functools
import io
import re
from pathlib import Path
from typing import Any

import pytest

import statemachines
from tests.docs._pages import (
    BLOCKS,
    DOCS,
    NO_RUN,
    PAGE_IDS,
    PAGES,
    Block,
    page_id,
    parse_blocks,
    stray_markers,
)


def _run(block: Block, namespace: dict[str, Any]) -> str:
    """Run one block in ``namespace``; its standard output. Tracebacks show the page's lines."""
    code = compile("\n" * (block.line - 1) + block.code, str(block.page), "exec")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, namespace)
    return out.getvalue()


def _block_cases() -> list[Any]:
    return [
        pytest.param(block, id=f"{page_id(block.page)}:{block.line}")
        for blocks in BLOCKS.values()
        for block in blocks
        if block.run
    ]


@functools.cache
def _page_outcomes(page: Path) -> tuple[tuple[str, BaseException | None], ...]:
    """Run the page's blocks in order in one namespace: each block's output and exception."""
    namespace: dict[str, Any] = {"__name__": f"docs.{page.stem}"}
    outcomes: list[tuple[str, BaseException | None]] = []
    for block in BLOCKS[page]:
        if not block.run:
            outcomes.append(("", None))
            continue
        try:
            outcomes.append((_run(block, namespace), None))
        except Exception as exc:
            outcomes.append(("", exc))
    return tuple(outcomes)


@pytest.mark.parametrize("block", _block_cases())
def test_code_block_runs(block: Block) -> None:
    outcomes = _page_outcomes(block.page)
    for earlier, (_, exc) in zip(BLOCKS[block.page][: block.index], outcomes, strict=False):
        if exc is not None:
            pytest.fail(f"an earlier block of the page (line {earlier.line}) fails: {exc!r}")
    output, exc = outcomes[block.index]
    if exc is not None:
        raise exc
    if block.output is not None:
        assert output == block.output, "the output block after this one is not what it prints"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_no_run_markers_precede_python_blocks(page: Path) -> None:
    stray = stray_markers(page.read_text(encoding="utf-8"))
    assert not stray, f"{page.name}: {NO_RUN} on line(s) {stray} precedes no ```python block"


def test_every_page_with_examples_runs_some() -> None:
    pages = {"index.md", "semantics.md", "custom-transitions.md", "generations.md", "errors.md"}
    running = {page.name for page, blocks in BLOCKS.items() if any(b.run for b in blocks)}
    assert pages <= running, f"pages without a running example: {sorted(pages - running)}"


def test_parse_blocks_reads_markers_and_outputs() -> None:
    text = (
        "Intro\n\n<!-- no-run -->\n```python\ndef f(x: int) -> int: ...\n```\n\n"
        "```python\nprint(1)\n```\n\n```text\n1\n```\n\n"
        "````markdown\n```python\nnot a block\n```\n````\n```python\nx = 2\n```\n"
    )
    blocks = parse_blocks(Path("page.md"), text)
    assert [(b.line, b.code, b.run, b.output) for b in blocks] == [
        (5, "def f(x: int) -> int: ...\n", False, None),
        (9, "print(1)\n", True, "1\n"),
        (22, "x = 2\n", True, None),
    ]
    assert stray_markers(text) == []
    assert stray_markers("<!-- no-run -->\nText.\n```python\nx = 1\n```\n") == [1]


# --- the diagram ---------------------------------------------------------------------------------

MERMAID = re.compile(
    r"<!-- mermaid:default-policy:start -->\s*```mermaid\n(.*?)```\s*"
    r"<!-- mermaid:default-policy:end -->",
    re.DOTALL,
)


def test_semantics_diagram_is_the_default_policy() -> None:
    found = MERMAID.findall((DOCS / "semantics.md").read_text(encoding="utf-8"))
    assert len(found) == 1, "semantics.md needs one ```mermaid block between the mermaid markers"
    expected = statemachines.to_mermaid(statemachines.BreakerPolicy())
    assert found[0].rstrip("\n") == expected.rstrip("\n"), (
        "semantics.md's diagram is out of date: paste statemachines.to_mermaid(BreakerPolicy())"
    )
