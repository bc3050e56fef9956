"""What tests/test_structure.py reads off the source (no tests here): each module of failover and
statemachines, what it imports (at the top, inside functions and under TYPE_CHECKING alike), the
import cycles, the layer of each failover module, and its private attribute reads."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("failover", "statemachines")

# failover's layers, lowest first: a module imports from its own layer or below
# (docs/explanation/architecture.md). Matched by the longest prefix.
LAYERS: dict[str, int] = {
    "failover._base": 0,
    "failover.secrets": 0,
    "failover.errors": 0,
    "failover.clock": 0,
    "failover.classify": 0,
    "failover.hooks": 0,
    "failover.provider": 0,
    "failover.retry": 0,
    "failover.ratelimit": 0,
    "failover.health": 0,
    "failover.telemetry": 0,
    "failover._breaker": 1,
    "failover.storage": 2,
    "failover.redis_storage": 2,
    "failover._distributed": 2,
    "failover._coordinator": 3,
    "failover._tracing": 3,
    "failover.strategies": 3,
    "failover.tracing": 3,
    "failover.status": 3,
    "failover._config": 4,
    "failover.settings": 4,
    "failover.registry": 4,
    "failover.lifecycle": 4,
    "failover.interop": 4,
    "failover.simulation": 5,
    "failover.cli": 5,
    "failover.testing": 5,
    "failover.__main__": 5,
}
LAYER_NAMES = ("base", "breaker", "distributed", "coordinator", "configuration", "tools")


@cache
def modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"))


def _imported(name: str) -> Iterator[str]:
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*kept, base] if base else kept)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


@cache
def imports(name: str) -> frozenset[str]:
    """The modules of the packages that ``name`` imports anywhere in its text (a package's
    ``__init__`` counts only when it is what is imported)."""
    known = modules()
    found = set()
    for target in _imported(name):
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return frozenset(found)


def cycles() -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(imports(module)):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = {stack.pop()}
            while module not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(frozenset(component))

    for module in modules():
        if module not in index:
            visit(module)
    return found


def layer(name: str) -> int | None:
    """The layer of a failover module (None: the package's own ``__init__``, which re-exports
    every layer, or a statemachines module, below them all)."""
    prefixes = [p for p in LAYERS if name == p or name.startswith(p + ".")]
    return LAYERS[max(prefixes, key=len)] if prefixes else None


def upward_imports() -> set[tuple[str, str]]:
    """(importer, imported) where a failover module imports from a layer above its own."""
    found = set()
    for name in modules():
        own = layer(name)
        if own is None:
            continue
        for target in imports(name):
            theirs = layer(target)
            if theirs is not None and theirs > own:
                found.add((name, target))
    return found


def _defined(name: str) -> set[str]:
    """The private attribute names module ``name`` defines: set on ``self``, annotated or
    listed in ``__slots__`` in a class body, or methods of its classes."""
    found = set()
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}:
                found.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    found.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    found.add(item.target.id)
                elif isinstance(item, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__slots__" for t in item.targets
                ):
                    found.update(
                        c.value
                        for c in ast.walk(item.value)
                        if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    )
    return {n for n in found if n.startswith("_") and not n.startswith("__")}


@cache
def subsystem_attributes(layer_of: int | None) -> frozenset[str]:
    """The private attribute names the modules of one layer (subsystem) define; ``None``: the
    statemachines package."""
    names: set[str] = set()
    for module in modules():
        own = layer(module) if module.startswith("failover") else None
        if own == layer_of and (module.startswith("failover") or layer_of is None):
            names |= _defined(module)
    return frozenset(names)


def foreign_private_reads(name: str) -> set[str]:
    """The private attributes ``name`` reads on another object that its own subsystem does not
    define: another subsystem's private state (the rule of docs/explanation/architecture.md)."""
    own = layer(name) if name.startswith("failover") else None
    return private_reads(name) - subsystem_attributes(own)


def private_reads(name: str) -> set[str]:
    """The private attributes (``x._name``, not dunders) that ``name`` reads or sets on an object
    other than ``self`` or ``cls``."""
    tree = _tree(name)
    imported = {  # modules bound by ``import x``: their private names are theirs (argparse's)
        (alias.asname or alias.name).partition(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        attribute = node.attr
        if not attribute.startswith("_") or attribute.startswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in {"self", "cls", *imported}:
            continue
        if _is_module(owner):
            continue  # a module's private name, written with the module's full name
        found.add(attribute)
    return found


def _is_module(owner: ast.expr) -> bool:
    parts = []
    while isinstance(owner, ast.Attribute):
        parts.append(owner.attr)
        owner = owner.value
    return isinstance(owner, ast.Name) and ".".join([owner.id, *reversed(parts)]) in modules()


def private_imports(name: str) -> set[str]:
    """The underscore names module ``name`` imports from another module of the packages: what
    modules share, even inside a private package, goes by names without an underscore."""
    return underscore_imports(_tree(name))


def underscore_imports(tree: ast.Module) -> set[str]:
    """``module.name`` for each underscore name imported from the packages in ``tree``."""
    return {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.partition(".")[0] in PACKAGES
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    }


def lines(name: str) -> int:
    """The module's length in lines."""
    return len(modules()[name].read_text(encoding="utf-8").splitlines())
