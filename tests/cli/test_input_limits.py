"""The readers behind the CLI are total: any text is a TOML document or a TomlLimitError, any
expression a condition or one recorded problem; the limits hold exactly at their edges."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover._config.expression import (
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_TERMS,
    condition_in,
)
from failover._config.problems import Problems
from failover._config.toml_limits import MAX_NESTING, TomlLimitError, check_nesting, load_toml
from statemachines import Condition

TOML_ALPHABET = st.sampled_from(list("[]{}=,.'\"#\n ax1_-+e\\")) | st.characters()
TOKENS = [
    *"()|&~,=-. 0123456789_'\"",
    "timed_out",
    "deadline_passed()",
    "min_calls=",
    "RATE_LIMITED",
]
EXPRESSIONS = st.lists(st.sampled_from(TOKENS) | st.characters(), max_size=60).map("".join)


def load_text(text: str | bytes) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.toml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return load_toml(path)


@given(text=st.text(TOML_ALPHABET, max_size=300) | st.binary(max_size=300))
def test_any_file_is_a_document_or_a_limit_error(text: str | bytes) -> None:
    try:
        document: dict[str, Any] | str = load_text(text)
    except TomlLimitError as exc:
        document = str(exc)  # a message, never empty
    assert isinstance(document, dict) or document


@pytest.mark.parametrize("opening", ["[", "{a="])
def test_nesting_is_accepted_up_to_the_limit(opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    inner = "1"
    ok = "x = " + opening * MAX_NESTING + inner + closing * MAX_NESTING + "\n"
    assert isinstance(load_text(ok), dict)
    deep = "x = " + opening * (MAX_NESTING + 1) + inner + closing * (MAX_NESTING + 1) + "\n"
    with pytest.raises(TomlLimitError, match=r"^nested too deeply: more than 64 levels"):
        load_text(deep)


def test_brackets_in_strings_and_comments_do_not_count() -> None:
    text = (
        f"a = '{'[' * 100}'\nb = \"{'{' * 100}\"\nc = '''\n{'[' * 100}\n'''\n"
        f'd = """{"[" * 100}\\""""\n# {"[" * 100}\ne = [[1]]\n'
    )
    check_nesting(text)
    assert load_text(text)["e"] == [[1]]


def test_the_file_size_limit() -> None:
    assert load_text("# " + "x" * (1024 * 1024 - 3) + "\n") == {}
    with pytest.raises(TomlLimitError, match=r"^a file of at most 1048576 bytes"):
        load_text("# " + "x" * (1024 * 1024 - 2) + "\n")


@given(text=EXPRESSIONS | st.text(max_size=40))
def test_any_expression_is_a_condition_or_one_problem(text: str) -> None:
    problems = Problems()
    condition = condition_in(problems, "trip_condition", text)
    if condition is None:
        assert len(problems.found) == 1
        assert problems.found[0].path == "trip_condition"
    else:
        assert isinstance(condition, Condition)
        assert not problems


def expression_problem(text: str) -> str | None:
    problems = Problems()
    condition_in(problems, "c", text)
    return str(problems.found[0]) if problems else None


def test_expression_limits_hold_at_their_edges() -> None:
    terms = "~" * (MAX_EXPRESSION_TERMS - 1) + "deadline_passed()"  # the deepest tree, too
    assert expression_problem(terms) is None
    assert "expression too long: 257 terms" in str(expression_problem("~" + terms))
    atom = "deadline_passed()"
    nested = "(" * (MAX_EXPRESSION_DEPTH - 1) + atom + ")" * (MAX_EXPRESSION_DEPTH - 1)
    assert expression_problem(nested) is None
    assert "nested too deeply: 65 levels" in str(expression_problem(f"({nested})"))
    long = "deadline_passed(" + " " * (MAX_EXPRESSION_CHARS - 17) + ")"
    assert expression_problem(long) is None
    assert "expression too long: 4097 characters" in str(expression_problem(long + " "))
    assert "only ASCII" in str(expression_problem("\uff44eadline_passed()"))
