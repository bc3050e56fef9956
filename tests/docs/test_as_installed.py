"""Each how-to and tutorial runs as installed (issue 15, item 8): its python blocks, as one
script, in a fresh interpreter whose working directory is outside the checkout and whose path
holds the three packages (as a wheel installs them) but not the checkout itself, so a page that
imports ``tests`` (or reads a file by a path relative to the repository) fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs._pages import BLOCKS, DOCS, ROOT, page_id

PACKAGES = ("statemachines", "failover", "providers")
GUIDES = sorted(
    p for p in BLOCKS if p.is_relative_to(DOCS / "how-to") or p.parent.name == "tutorial"
)
LAUNCH = """
import runpy, sys
root, site, script = sys.argv[1:4]
sys.path[:] = [site] + [p for p in sys.path if p and p.rstrip("/") != root.rstrip("/")]
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the three packages, as an installed wheel puts them."""
    folder = tmp_path_factory.mktemp("site-packages")
    for package in PACKAGES:
        (folder / package).symlink_to(ROOT / package, target_is_directory=True)
    return folder


def test_the_checkout_is_not_importable_there(site: Path, tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text("import providers.testing, failover\nimport tests\n", encoding="utf-8")
    run = _run(site, script, tmp_path)
    assert "No module named 'tests'" in run.stderr


@pytest.mark.parametrize("page", GUIDES, ids=[page_id(p) for p in GUIDES])
def test_a_guide_runs_outside_the_checkout(page: Path, site: Path, tmp_path: Path) -> None:
    code = "\n\n".join(b.code for b in BLOCKS[page] if b.run)
    if not code:
        pytest.fail(f"{page_id(page)} has no python block to run; list it as reference instead")
    script = tmp_path / f"{page.stem}.py"
    script.write_text(code, encoding="utf-8")
    run = _run(site, script, tmp_path)
    assert run.returncode == 0, f"{page_id(page)} fails as installed:\n{run.stderr[-3000:]}"


def _run(site: Path, script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-I", "-c", LAUNCH, str(ROOT), str(site), str(script)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
