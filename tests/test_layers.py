"""The layers import only downward, and each package's ``__all__`` is its complete public API.

``statemachines`` (pure) <- ``failover`` (runtime) <- ``providers`` (I/O).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("statemachines", "failover", "providers")

# Top-level modules each layer must never import (absolute imports; relative ones stay inside).
FORBIDDEN = {
    "statemachines": frozenset(
        {"failover", "providers", "httpx", "asyncio", "time", "socket", "threading", "os"}
    ),
    "failover": frozenset({"providers", "httpx"}),
}


def imported_modules(source: str, filename: str = "<source>") -> Iterator[tuple[int, str]]:
    """Yield ``(line, module)`` for every absolute import in ``source``, nested ones included."""
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_each_package_imports_only_downward() -> None:
    offending = [
        f"{path.relative_to(ROOT).as_posix()}:{line} imports {module!r} "
        f"({package} must not import any of {sorted(forbidden)})"
        for package, forbidden in FORBIDDEN.items()
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in imported_modules(path.read_text(encoding="utf-8"), str(path))
        if module.partition(".")[0] in forbidden
    ]
    assert offending == []


def test_only_the_clock_module_reads_time() -> None:
    # one Clock protocol injected everywhere; no other runtime module reads time.
    offending = [
        f"{path.relative_to(ROOT).as_posix()}:{line} imports {module!r}"
        for path in sorted((ROOT / "failover").rglob("*.py"))
        if path.name != "clock.py"
        for line, module in imported_modules(path.read_text(encoding="utf-8"), str(path))
        if module in {"time", "datetime"}
    ]
    assert offending == [], "only failover/clock.py may read time"


def test_import_checker_sees_every_form_of_import() -> None:
    source = (
        "import os.path\n"
        "from time import monotonic\n"
        "from . import time\n"
        "from .os import x\n"
        "def f():\n"
        "    import asyncio as aio\n"
    )
    assert list(imported_modules(source)) == [(1, "os.path"), (2, "time"), (6, "asyncio")]


def test_importing_the_core_loads_no_runtime_or_io_module() -> None:
    # Only what `import statemachines` itself brings in is asserted on. `os` and `time` are
    # loaded by the interpreter at startup and `threading` by transitions' core (and attrs), so
    # they cannot be checked this way; the AST test above covers the core's own imports of them.
    # asyncio *is* checked: attrs, cattrs and `transitions` (its core Machine) do not import it,
    # but anything under `transitions.extensions` does, so the core must use the plain Machine.
    code = "import sys, statemachines; print('\\n'.join(sorted(sys.modules)))"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert run.returncode == 0, f"`import statemachines` failed:\n{run.stderr}"
    loaded = set(run.stdout.split())
    leaked = sorted({"failover", "providers", "httpx", "asyncio"} & loaded)
    hint = (
        " (transitions.extensions is loaded and imports asyncio: use transitions.Machine)"
        if "transitions.extensions" in loaded
        else ""
    )
    assert not leaked, f"`import statemachines` loaded {leaked}{hint}"


def ruff_all_order(name: str) -> tuple[int, list[str | int]]:
    """The order ruff's RUF022 enforces on ``__all__`` (and ``ruff check --fix`` produces).

    SCREAMING_SNAKE_CASE first, then CamelCase, then the rest; a natural sort within each.
    """
    category = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    # re.split with a group alternates text and digit runs, so items compare like with like.
    parts: list[str | int] = [
        int(part) if index % 2 else part for index, part in enumerate(re.split(r"(\d+)", name))
    ]
    return category, parts


def _public_api(package: str) -> list[str]:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list | tuple), (
        f"{package}/__init__.py must define __all__ as a list of names, got {exported!r}"
    )
    return list(exported)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_without_duplicates(package: str) -> None:
    exported = _public_api(package)
    duplicates = sorted({name for name in exported if exported.count(name) > 1})
    assert not duplicates, f"{package}.__all__ lists {duplicates} more than once"
    expected = sorted(exported, key=ruff_all_order)
    assert exported == expected, f"{package}.__all__ is not sorted; use {expected!r}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_exists(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in _public_api(package) if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names {missing}, which {package} does not define"


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_every_public_definition(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(_public_api(package))
    unlisted = sorted(
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and _defined_in(obj, package)
        and name not in exported
    )
    assert not unlisted, (
        f"{package} exposes {unlisted} but its __all__ does not list them: add them to __all__ "
        "or import them under a private name"
    )


def _defined_in(obj: object, package: str) -> bool:
    owner = getattr(obj, "__module__", None) or ""
    return owner == package or owner.startswith(f"{package}.")
