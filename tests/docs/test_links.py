"""Every relative link of docs/ and README.md points to an existing file, and its ``#anchor``
to a heading there; every project path written in a code span exists."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tests.docs._pages import PAGE_IDS, PAGES, ROOT, parse_fences

# --- links and paths ----------------------------------------------------------------------------

INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")
PROJECT_PATH = re.compile(r"^(?:statemachines|failover|providers|tests|examples|benchmarks)/\S+$")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def without_fences(page: Path) -> str:
    """The page's text without its fenced blocks."""
    lines = page.read_text(encoding="utf-8").splitlines()
    for fence in reversed(parse_fences(lines)):
        lines[fence.opening : fence.closing + 1] = []
    return "\n".join(lines)


def slugify(heading: str) -> str:
    """A heading's anchor as Python-Markdown's toc (MkDocs) makes it; GitHub agrees on ours."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def relative_links(page: Path) -> list[str]:
    """Every link target of a page that is not a URL (links in code are not links)."""
    text = CODE_SPAN.sub("", without_fences(page))
    targets = INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text)
    return [target for target in targets if not SCHEME.match(target)]


def broken(page: Path, target: str) -> str | None:
    """Why ``target``, linked from ``page``, does not resolve; None when it does."""
    path, _, anchor = target.partition("#")
    file = (page.parent / path).resolve() if path else page
    if not file.is_file():
        return f"{target!r}: no file {file}"
    headings = HEADING.findall(without_fences(file))
    if anchor and file.suffix == ".md" and anchor not in map(slugify, headings):
        return f"{target!r}: no heading with anchor #{anchor} in {file.name}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_relative_links_resolve(page: Path) -> None:
    problems = [p for target in relative_links(page) if (p := broken(page, target)) is not None]
    assert not problems, f"{page.name} has broken links:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_project_paths_exist(page: Path) -> None:
    spans = [match.group(2).strip() for match in CODE_SPAN.finditer(without_fences(page))]
    missing = [s for s in spans if PROJECT_PATH.match(s) and not (ROOT / s).exists()]
    assert not missing, f"{page.name} names files that do not exist: {missing}"


def test_link_checker_finds_links_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Design choices\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[a](other.md) [b](other.md#design-choices) [c](https://x.org) `[d](no.md)`\n"
        "[e](other.md#nope) [f](missing.md)\n\n```python\n[g](code.md)\n```\n[h]: other.md\n"
    )
    targets = relative_links(page)
    assert targets == [
        "other.md",
        "other.md#design-choices",
        "other.md#nope",
        "missing.md",
        "other.md",
    ]
    assert [t for t in targets if broken(page, t)] == ["other.md#nope", "missing.md"]
