"""Reading the reference pages and checking their listings against the code (no tests)."""

from __future__ import annotations

import ast
import copy
import enum
import importlib
import inspect
import logging
import re
import textwrap
import typing
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, get_origin

import attrs

import failover
import failover.interop
import failover.redis_storage
import failover.status
import failover.storage
import failover.strategies
import failover.telemetry
import failover.testing
import providers
import statemachines
from tests.docs._pages import DOCS, Block, parse_fences

# --- the reference matches the code -------------------------------------------------------------


@attrs.frozen
class Reference:
    """A reference page and the modules it documents: the package first, whose names are
    headed by their bare name, then public submodules, whose names are headed by their dotted
    name (``failover.telemetry.JsonLinesHook``)."""

    page: Path
    modules: tuple[ModuleType, ...]


PACKAGES = ("statemachines", "failover", "providers")

REFERENCES = (
    Reference(DOCS / "reference" / "statemachines.md", (statemachines,)),
    Reference(
        DOCS / "reference" / "failover.md",
        (
            failover,
            failover.strategies,
            failover.status,
            failover.testing,
            failover.telemetry,
            failover.interop,
        ),
    ),
    Reference(DOCS / "reference" / "providers.md", (providers,)),
    Reference(DOCS / "reference" / "distributed.md", (failover.storage, failover.redis_storage)),
)
REFERENCE = REFERENCES[0].page
KIND = inspect.Parameter
NAME_HEADING = re.compile(r"^###\s+`([\w.]+)`\s*$")


def documented_names(page: Path) -> list[tuple[int, str]]:
    """The ``### `name` `` headings of a page outside its fences: (1-based line, name)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    fenced = {i for f in parse_fences(lines) for i in range(f.opening, f.closing + 1)}
    found = ((i, NAME_HEADING.match(line)) for i, line in enumerate(lines) if i not in fenced)
    return [(i + 1, match.group(1)) for i, match in found if match is not None]


def module_of(reference: Reference, documented: str) -> tuple[ModuleType | None, str]:
    """The module a documented name belongs to (None if no documented module) and its name."""
    prefix, _, name = documented.rpartition(".")
    if not prefix:
        return reference.modules[0], name
    return next((m for m in reference.modules if m.__name__ == prefix), None), name


def listing_module(reference: Reference, block: Block) -> ModuleType | None:
    """The module of the name whose heading a listing block sits under."""
    above = [name for line, name in documented_names(reference.page) if line < block.line]
    return module_of(reference, above[-1])[0] if above else reference.modules[0]


def _evaluate(expr: ast.expr, module: ModuleType) -> Any:
    """A documented expression's value, with the names of statemachines and ``module`` in
    scope."""
    scope = {
        **vars(statemachines),
        **vars(module),
        "enum": enum,
        "Protocol": Protocol,
        "attrs": attrs,
        "logging": logging,
        "NamedTuple": NamedTuple,
        "Generic": Generic,
        "T": TypeVar("T"),
    }
    return eval(ast.unparse(expr), scope)


Function = ast.FunctionDef | ast.AsyncFunctionDef


def documented_parameters(node: Function) -> list[tuple[str, Any, ast.expr | None]]:
    """The parameters a listing declares: (name, kind, default expression or None)."""
    a = node.args
    positional = [(p, KIND.POSITIONAL_ONLY) for p in a.posonlyargs]
    positional += [(p, KIND.POSITIONAL_OR_KEYWORD) for p in a.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults))
    defaults += a.defaults
    params = [(p.arg, k, d) for (p, k), d in zip(positional, defaults, strict=True)]
    params += [(a.vararg.arg, KIND.VAR_POSITIONAL, None)] if a.vararg else []
    params += [
        (p.arg, KIND.KEYWORD_ONLY, d) for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
    ]
    return params + ([(a.kwarg.arg, KIND.VAR_KEYWORD, None)] if a.kwarg else [])


class _Unqualified(ast.NodeTransformer):
    """``st.SearchStrategy`` -> ``SearchStrategy``: a listing names things as a reader imports
    them, the code as its module does."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        return ast.Name(node.attr, ast.Load())


def _unqualified(expr: ast.expr) -> str:
    return ast.unparse(_Unqualified().visit(copy.deepcopy(expr)))


def _returns(fn: Any) -> str | None:
    """The return annotation as written in the source; None if there is none to compare (an
    overloaded function, whose overloads are documented, or a wrapper such as
    ``@asynccontextmanager``, documented as what callers get)."""
    if hasattr(fn, "__wrapped__") or typing.get_overloads(fn):
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError):
        return None
    node = tree.body[0]
    if not isinstance(node, Function) or node.returns is None:
        return None
    return _unqualified(node.returns)


def check_function(where: str, node: Function, fn: Any, module: ModuleType) -> list[str]:
    """Differences between a documented signature and the real one."""
    if not callable(fn):
        return [f"{where} is documented as a function but is {fn!r}"]
    is_async = inspect.iscoroutinefunction(fn)
    if isinstance(node, ast.AsyncFunctionDef) != is_async:
        real = "async def" if is_async else "def"
        return [f"{where}: documented {'without' if is_async else 'with'} async, real {real}"]
    documented = documented_parameters(node)
    real = list(inspect.signature(fn).parameters.values())
    shape = [(name, kind, default is not None) for name, kind, default in documented]
    real_shape = [(p.name, p.kind, p.default is not p.empty) for p in real]
    if shape != real_shape:
        return [f"{where}: documented {shape}, real {real_shape}"]
    returns = _returns(fn)
    if node.returns is not None and returns is not None and _unqualified(node.returns) != returns:
        return [f"{where}: documented -> {ast.unparse(node.returns)}, real -> {returns}"]
    return [
        f"{where}: documented default {p.name}={ast.unparse(expr)}, real {p.default!r}"
        for (_, _, expr), p in zip(documented, real, strict=True)
        if expr is not None
        and p.default is not attrs.NOTHING
        and _evaluate(expr, module) != p.default
    ]


def _raw(cls: type, name: str) -> Any:
    """A class attribute as defined (the function, not a bound method)."""
    member = inspect.getattr_static(cls, name)
    return member.__func__ if isinstance(member, classmethod | staticmethod) else member


def _exists(cls: type, name: str) -> bool:
    """Whether ``name`` is an attribute of the class or of its instances."""
    if hasattr(cls, name) or name in getattr(cls, "__annotations__", {}):
        return True
    if attrs.has(cls):
        return name in attrs.fields_dict(cls)
    own = [c for c in cls.__mro__ if c.__module__.split(".")[0] in PACKAGES]
    return any(
        isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and n.attr == name
        for c in own
        for n in ast.walk(ast.parse(inspect.getsource(c)))
    )


def check_field(cls: type, item: ast.AnnAssign, module: ModuleType) -> list[str]:
    """A documented attribute exists; a documented attrs default is the real one."""
    assert isinstance(item.target, ast.Name)
    name, where = item.target.id, f"{cls.__name__}.{item.target.id}"
    if not _exists(cls, name):
        return [f"{where} is documented but does not exist"]
    if item.value is None:
        return []
    named_defaults = getattr(cls, "_field_defaults", None)  # a NamedTuple's
    field = attrs.fields_dict(cls).get(name) if attrs.has(cls) else None
    if isinstance(named_defaults, dict) and name in named_defaults:
        real = named_defaults[name]
    elif field is None:
        return [f"{where} is documented with a default, but is not an attrs field"]
    else:
        default = field.default
        real = default.factory() if isinstance(default, attrs.Factory) else default
    if _evaluate(item.value, module) != real:
        return [f"{where}: documented default {ast.unparse(item.value)}, real {real!r}"]
    return []


def check_member(cls: type, item: ast.stmt, module: ModuleType) -> list[str]:
    """One item of a documented class body against the class."""
    if isinstance(item, Function):
        where = f"{cls.__name__}.{item.name}"
        if not _exists(cls, item.name):
            return [f"{where} is documented but does not exist"]
        if any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list):
            return []
        return check_function(where, item, _raw(cls, item.name), module)
    if isinstance(item, ast.AnnAssign):
        return check_field(cls, item, module)
    if isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name):
        name, value = item.targets[0].id, ast.literal_eval(item.value)
        if getattr(getattr(cls, name, None), "value", None) != value:
            return [f"{cls.__name__}.{name} = {value!r} does not match the code"]
    return []


def _is_base(base: Any, cls: type) -> bool:
    """``base`` is one of ``cls``'s bases (NamedTuple and Generic[...] as typing means them)."""
    if base is NamedTuple:
        return issubclass(cls, tuple) and hasattr(cls, "_fields")
    if base is Generic or get_origin(base) is Generic:
        return bool(getattr(cls, "__parameters__", ()))
    return base in cls.__mro__


def check_class(node: ast.ClassDef, module: ModuleType) -> list[str]:
    """Differences between a documented class listing and the class."""
    cls = getattr(module, node.name, None)
    if not inspect.isclass(cls):
        return [f"class {node.name} is documented but {module.__name__}.{node.name} is {cls!r}"]
    problems = [
        f"{node.name} is documented as a subclass of {ast.unparse(base)}, but is not one"
        for base in node.bases
        if not _is_base(_evaluate(base, module), cls)
    ]
    return problems + [p for item in node.body for p in check_member(cls, item, module)]


def check_constant(node: ast.AnnAssign | ast.Assign, module: ModuleType) -> list[str]:
    """A documented module-level name is exported; a documented literal value is the real one."""
    target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
    assert isinstance(target, ast.Name)
    if target.id not in module.__all__:
        return [f"{target.id} is documented but not exported"]
    real = getattr(module, target.id)
    if isinstance(node.value, ast.Constant) and node.value.value != real:
        return [f"{target.id} = {node.value.value!r}, real {real!r}"]
    return []


def check_reexport(node: ast.ImportFrom, module: ModuleType) -> list[str]:
    """``from origin import name`` documents a name ``module`` exports and takes from origin."""
    origin = importlib.import_module(node.module or "")
    return [
        f"{alias.name} is documented as {origin.__name__}'s, but {module.__name__} does not "
        "export that object"
        for alias in node.names
        if alias.name not in module.__all__
        or getattr(module, alias.name) is not getattr(origin, alias.name, None)
    ]


def check_listing(block: Block, module: ModuleType = statemachines) -> list[str]:
    """Differences between one signature listing and the code of ``module``."""
    problems: list[str] = []
    for node in ast.parse(block.code).body:
        if isinstance(node, Function):
            fn = getattr(module, node.name, None)
            problems += check_function(node.name, node, fn, module)
        elif isinstance(node, ast.ClassDef):
            problems += check_class(node, module)
        elif isinstance(node, ast.AnnAssign | ast.Assign):
            problems += check_constant(node, module)
        elif isinstance(node, ast.ImportFrom):
            problems += check_reexport(node, module)
        else:
            problems.append(f"line {block.line + node.lineno - 1}: not a signature listing")
    return problems
