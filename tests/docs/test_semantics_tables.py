"""docs/semantics.md lists I1-I8 and L1-L6, each with the tests that check it, and every test
it names exists."""

from __future__ import annotations

import re

import pytest

from tests.docs._pages import DOCS, ROOT

SEMANTICS = DOCS / "semantics.md"
ROW = re.compile(r"^\|\s*([IL]\d)\s*\|")
SPAN = re.compile(r"`([^`]+)`")
TEST_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(test_\w+)", re.MULTILINE)


def rows() -> dict[str, str]:
    """Each invariant's name and its "where it is checked" cell (the row's last)."""
    found = {}
    for line in SEMANTICS.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            found[match.group(1)] = line.rstrip().rstrip("|").rsplit("|", 1)[1]
    return found


def test_every_invariant_and_liveness_property_has_a_row() -> None:
    expected = [f"I{n}" for n in range(1, 9)] + [f"L{n}" for n in range(1, 7)]
    assert sorted(rows(), key=lambda k: (k[0], int(k[1:]))) == sorted(
        expected, key=lambda k: (k[0], int(k[1:]))
    )


@pytest.mark.parametrize("name", [f"L{n}" for n in range(1, 7)])
def test_each_liveness_property_names_existing_tests(name: str) -> None:
    cell = rows()[name]
    spans = SPAN.findall(cell)
    files = [s for s in spans if s.startswith("tests/")]
    assert files, f"{name}: no test file named in {cell!r}"
    defined = {
        test
        for path in (ROOT / "tests").rglob("test_*.py")
        for test in TEST_DEF.findall(path.read_text(encoding="utf-8"))
    }
    for span in spans:
        if span.startswith("tests/"):
            assert (ROOT / span).is_file(), f"{name}: {span} does not exist"
        elif span.startswith("test_"):
            if span.endswith("*"):
                assert any(t.startswith(span[:-1]) for t in defined), f"{name}: no {span}"
            else:
                assert span in defined, f"{name}: no test named {span}"
