"""Condition expressions of policy files: ``"consecutive_failures(5) | failure_rate(0.5)"``.

An expression is parsed with ``ast`` and evaluated over the built-in condition atoms only
(no names, no attribute access, no code). Before parsing, it is checked against three limits a
real policy never comes near, so that no expression can exhaust the parser's recursion:
``MAX_EXPRESSION_CHARS`` characters, ``MAX_EXPRESSION_TERMS`` terms (operators ``|``, ``&``,
``~``, plus one) and ``MAX_EXPRESSION_DEPTH`` levels of parentheses. Expressions are ASCII.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Final

from failover._config.problems import Problems
from statemachines import (
    Condition,
    ConfigurationError,
    FailoverReason,
    consecutive_failures,
    deadline_passed,
    failure_rate,
    health_check_passed,
    health_checks_failed,
    probes_failed,
    probes_succeeded,
    signalled,
    slow_call_rate,
    timed_out,
)

__all__ = [
    "CONDITION_ATOMS",
    "EXPRESSION",
    "MAX_EXPRESSION_CHARS",
    "MAX_EXPRESSION_DEPTH",
    "MAX_EXPRESSION_TERMS",
    "condition_in",
]

CONDITION_ATOMS: Mapping[str, Callable[..., Condition]] = {
    "consecutive_failures": consecutive_failures,
    "deadline_passed": deadline_passed,
    "failure_rate": failure_rate,
    "health_check_passed": health_check_passed,
    "health_checks_failed": health_checks_failed,
    "probes_failed": probes_failed,
    "probes_succeeded": probes_succeeded,
    "signalled": signalled,
    "slow_call_rate": slow_call_rate,
    "timed_out": timed_out,
}
"""The condition atoms a policy file's expressions may call, by name."""

MAX_EXPRESSION_CHARS: Final = 4096
"""The longest condition expression, in characters."""
MAX_EXPRESSION_TERMS: Final = 256
"""The most terms in one expression: its operators ``|``, ``&`` and ``~``, plus one."""
MAX_EXPRESSION_DEPTH: Final = 64
"""The deepest nesting of parentheses in one expression."""

EXPRESSION: Final = (
    "an expression of built-in conditions joined by |, & and ~, such as "
    "'consecutive_failures(5) | failure_rate(0.5, min_calls=20)'"
)
_REASONS = {r.value: r for r in FailoverReason}


class _BadExpression(Exception):
    pass


def condition_in(problems: Problems, path: str, value: object) -> Condition | None:
    """The condition an expression names; None (with a problem) when it is bad."""
    if not isinstance(value, str):
        problems.add(path, value, EXPRESSION)
        return None
    try:
        _check_limits(value)
        return _evaluate(ast.parse(f"(\n{value}\n)", mode="eval").body)
    except (SyntaxError, ValueError):  # ValueError: a NUL character
        problems.add(path, value, f"{EXPRESSION} (this one is not a valid expression)")
    except (RecursionError, MemoryError):  # not reached within the limits; a last guard
        problems.add(path, value, f"{EXPRESSION} (this one is nested too deeply)")
    except _BadExpression as exc:
        problems.add(path, value, f"{EXPRESSION} ({exc})")
    except ConfigurationError as exc:
        problems.add(path, value, f"{EXPRESSION}, with valid arguments ({exc})")
    return None


def _check_limits(text: str) -> None:
    """Raise _BadExpression when ``text`` is beyond a limit or not ASCII."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise _BadExpression(
            f"expression too long: {len(text)} characters; at most {MAX_EXPRESSION_CHARS}"
        )
    if not text.isascii():
        raise _BadExpression("only ASCII characters: names, digits and operators")
    terms = sum(map(text.count, "|&~")) + 1
    if terms > MAX_EXPRESSION_TERMS:
        raise _BadExpression(
            f"expression too long: {terms} terms (operators |, & and ~, plus one); "
            f"at most {MAX_EXPRESSION_TERMS}"
        )
    depth = deepest = 0
    for char in text:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    if deepest > MAX_EXPRESSION_DEPTH:
        raise _BadExpression(
            f"nested too deeply: {deepest} levels of parentheses; at most {MAX_EXPRESSION_DEPTH}"
        )


_OPERATORS: Mapping[type[ast.operator], Callable[[Condition, Condition], Condition]] = {
    ast.BitOr: lambda a, b: a | b,
    ast.BitAnd: lambda a, b: a & b,
}


def _evaluate(node: ast.expr) -> Condition:
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        return ~_evaluate(node.operand)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _call(node, node.func.id)
    raise _BadExpression(f"{_unparse(node)!r} is not a condition")


def _call(node: ast.Call, name: str) -> Condition:
    atom = CONDITION_ATOMS.get(name)
    if atom is None:
        raise _BadExpression(
            f"{name!r} is not a built-in condition; they are " + ", ".join(CONDITION_ATOMS)
        )
    args = [_argument(a) for a in node.args]
    kwargs = {k.arg: _argument(k.value) for k in node.keywords if k.arg is not None}
    try:
        return atom(*args, **kwargs)
    except TypeError as exc:
        raise _BadExpression(f"{name}(): {exc}") from None


def _argument(node: ast.expr) -> object:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _argument(node.operand)
        if isinstance(value, int | float):
            return -value
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
        value = node.value
        return _REASONS.get(value.lower(), value) if isinstance(value, str) else value
    if isinstance(node, ast.Name) and node.id in FailoverReason.__members__:
        return FailoverReason[node.id]
    raise _BadExpression(
        f"argument {_unparse(node)!r}: arguments are numbers or reasons such as RATE_LIMITED"
    )


def _unparse(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else f"{text[:57]}..."
