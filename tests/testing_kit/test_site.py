"""The documentation site: mkdocs.yml's nav lists every page of docs/ (and nothing else), the
site builds with ``mkdocs build --strict`` (what ``make docs`` runs), and the settings table of
docs/reference/settings.md gives the code's defaults and environment names."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from failover import FailoverSettings
from failover.settings import ENV_NAMES, PREFIXED_ENV_NAMES
from statemachines import BreakerPolicy

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


class _Loader(yaml.SafeLoader):
    """A safe loader that reads mkdocs' ``!!python/name:`` tags as plain strings."""


_Loader.add_multi_constructor(
    "tag:yaml.org,2002:python/name:", lambda loader, suffix, node: f"python/name:{suffix}"
)


def nav_pages(entries: Any) -> Iterator[str]:
    """Every page path in a mkdocs nav (nested sections included)."""
    if isinstance(entries, str):
        yield entries
    elif isinstance(entries, list):
        for entry in entries:
            yield from nav_pages(entry)
    elif isinstance(entries, dict):
        for value in entries.values():
            yield from nav_pages(value)


def config() -> dict[str, Any]:
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)


def test_the_nav_lists_every_page_once() -> None:
    listed = list(nav_pages(config()["nav"]))
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert sorted(set(listed) - set(pages)) == [], "the nav lists pages that do not exist"
    assert sorted(set(pages) - set(listed)) == [], "add these pages to mkdocs.yml's nav"
    assert len(listed) == len(set(listed)), "a page is listed twice"


def test_the_nav_has_the_four_kinds_of_page() -> None:
    sections = [next(iter(e)) for e in config()["nav"] if isinstance(e, dict)]
    assert {"How-to guides", "Explanation", "Reference"} <= set(sections)


def test_nav_pages_reads_nested_sections() -> None:
    nav = [{"Home": "index.md"}, {"A": [{"B": "b.md"}, {"C": [{"D": "d.md"}]}, "e.md"]}]
    assert list(nav_pages(nav)) == ["index.md", "b.md", "d.md", "e.md"]


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line]
    assert run.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(warnings)
    assert (tmp_path / "site" / "reference" / "api" / "index.html").is_file()


# --- the settings table --------------------------------------------------------------------------

ROW = re.compile(r"^\| `(\w+)` \| (.+?) \| (.+?) \|", re.MULTILINE)


def rows(section: str) -> dict[str, tuple[str, str]]:
    text = (DOCS / "reference" / "settings.md").read_text(encoding="utf-8")
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): (m.group(2), m.group(3)) for m in ROW.finditer(part)}


def test_the_coordinator_table_gives_the_env_names_and_defaults() -> None:
    table = rows("The coordinator")
    defaults = FailoverSettings()
    for field in attrs.fields(FailoverSettings):
        env, default = table[field.name]
        names = [
            n
            for f, n in {**ENV_NAMES, **PREFIXED_ENV_NAMES}.items()
            if f.split(".")[0] == field.name
        ]
        assert env == (", ".join(f"`FAILOVER_{n}`" for n in names) or "(file only)")
        value = getattr(defaults, field.name)
        if field.name != "providers":
            assert default == f"`{value!r}`".replace("'", '"') or float(default.strip("`")) == value


def test_the_policy_table_gives_the_policy_defaults() -> None:
    table = rows("A provider's `policy`")
    policy = BreakerPolicy()
    for name, (default, _) in table.items():
        if name in ("window", "removed_transitions"):
            continue
        value = getattr(policy, name)
        shown = default.strip("`")
        assert (shown == str(value).lower()) if isinstance(value, bool) else float(shown) == value
    assert policy.window.size == 100  # type: ignore[union-attr]
    assert policy.removed_transitions == frozenset()
