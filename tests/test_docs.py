"""The documentation stays true: its code runs, its links resolve, its reference matches the code.

- Every ```python block under docs/ and in README.md runs, one test per block. The blocks of one
  page share one namespace and run in order, so a page can build things up; a block directly
  preceded by a ``<!-- no-run -->`` line is not run (for fragments that cannot run, such as
  signature listings). README.md's links and code spans are checked as those of docs/ pages.
- A ```text or ```mermaid block that directly follows a python block is what that block prints.
- Every relative link points to an existing file, and its ``#anchor`` to a heading there.
- Every project path written in a code span (``statemachines/_builtin.py``) exists.
- docs/reference/statemachines.md documents each name of ``statemachines.__all__`` exactly once,
  docs/reference/failover.md each name of ``failover.__all__`` and, under their dotted names
  (``failover.telemetry.JsonLinesHook``), those of the public modules ``failover.strategies``,
  ``failover.status``, ``failover.testing``, ``failover.telemetry`` and ``failover.interop``;
  their signature listings match the code (parameter names, kinds,
  defaults and ``async``; attributes; re-exports written as ``from statemachines import X``).
- The Mermaid block of docs/semantics.md is ``statemachines.to_mermaid(BreakerPolicy())``.
"""

from __future__ import annotations

import ast
import contextlib
import enum
import importlib
import inspect
import io
import logging
import re
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, get_origin

import attrs
import pytest

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

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


def page_id(page: Path) -> str:
    """A page's name in test ids: relative to docs/, or to the root for README.md."""
    return page.relative_to(DOCS if page.is_relative_to(DOCS) else ROOT).as_posix()


PAGE_IDS = [page_id(page) for page in PAGES]
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^(`{3,})\s*([\w-]*)\s*$")
OUTPUT_INFOS = ("text", "mermaid")


@attrs.frozen
class Fence:
    """One fenced block: its info string, its fence lines (0-based) and its content."""

    info: str
    opening: int
    closing: int
    code: str


@attrs.frozen
class Block:
    """One ```python block of a page."""

    page: Path
    index: int
    line: int  # 1-based number of the block's first line of code
    code: str
    run: bool
    output: str | None  # the output block that directly follows, if any


def parse_fences(lines: list[str]) -> list[Fence]:
    """Every backtick-fenced block (an unclosed fence runs to the end, as in CommonMark)."""
    fences: list[Fence] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        close = re.compile(rf"{opening.group(1)}`*\s*")
        end = next((i for i in range(index + 1, len(lines)) if close.fullmatch(lines[i])), None)
        end = len(lines) if end is None else end
        code = "".join(f"{line}\n" for line in lines[index + 1 : end])
        fences.append(Fence(opening.group(2), index, end, code))
        index = end + 1
    return fences


def _nearest(lines: list[str], indices: range) -> int | None:
    """The first index in ``indices`` of a non-blank line."""
    return next((i for i in indices if lines[i].strip()), None)


def parse_blocks(page: Path, text: str) -> list[Block]:
    """The python blocks of a page, each with its no-run flag and its expected output."""
    lines = text.splitlines()
    by_opening: dict[int | None, Fence] = {f.opening: f for f in parse_fences(lines)}
    blocks: list[Block] = []
    for fence in (f for f in by_opening.values() if f.info == "python"):
        before = _nearest(lines, range(fence.opening - 1, -1, -1))
        run = before is None or lines[before].strip() != NO_RUN
        after = by_opening.get(_nearest(lines, range(fence.closing + 1, len(lines))))
        output = after.code if after is not None and after.info in OUTPUT_INFOS else None
        blocks.append(Block(page, len(blocks), fence.opening + 2, fence.code, run, output))
    return blocks


def stray_markers(text: str) -> list[int]:
    """The lines (1-based) of no-run markers that do not directly precede a python block."""
    lines = text.splitlines()
    pythons = {f.opening for f in parse_fences(lines) if f.info == "python"}
    markers = [i for i, line in enumerate(lines) if line.strip() == NO_RUN]
    return [i + 1 for i in markers if _nearest(lines, range(i + 1, len(lines))) not in pythons]


# --- the code blocks run ------------------------------------------------------------------------

BLOCKS = {page: parse_blocks(page, page.read_text(encoding="utf-8")) for page in PAGES}


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


@pytest.mark.parametrize("block", _block_cases())
def test_code_block_runs(block: Block) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs.{block.page.stem}"}
    for earlier in (b for b in BLOCKS[block.page][: block.index] if b.run):
        try:
            _run(earlier, namespace)
        except Exception as exc:
            pytest.fail(f"an earlier block of the page (line {earlier.line}) fails: {exc!r}")
    output = _run(block, namespace)
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
    (tmp_path / "other.md").write_text("# Other page\n\n## Choices beyond DESIGN.md\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[a](other.md) [b](other.md#choices-beyond-designmd) [c](https://x.org) `[d](no.md)`\n"
        "[e](other.md#nope) [f](missing.md)\n\n```python\n[g](code.md)\n```\n[h]: other.md\n"
    )
    targets = relative_links(page)
    assert targets == [
        "other.md",
        "other.md#choices-beyond-designmd",
        "other.md#nope",
        "missing.md",
        "other.md",
    ]
    assert [t for t in targets if broken(page, t)] == ["other.md#nope", "missing.md"]


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


@pytest.mark.parametrize("reference", REFERENCES, ids=lambda r: r.page.name)
def test_reference_documents_each_public_name_once(reference: Reference) -> None:
    names = [name for _, name in documented_names(reference.page)]
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice, f"documented more than once: {twice}"
    located = [(module_of(reference, n), n) for n in names]
    for module in reference.modules:
        here = {name for (m, name), _ in located if m is module}
        missing = sorted(set(module.__all__) - here)
        assert not missing, f"{module.__name__}.__all__ names {missing}, which the reference lacks"
    stale = sorted(n for (m, name), n in located if m is None or name not in m.__all__)
    assert not stale, f"the reference documents {stale}, which its modules do not export"


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


def _listing_cases() -> list[Any]:
    return [
        pytest.param(block, listing_module(ref, block), id=f"{ref.page.name}:{block.line}")
        for ref in REFERENCES
        for block in BLOCKS.get(ref.page, [])
        if not block.run
    ]


@pytest.mark.parametrize(("block", "module"), _listing_cases())
def test_reference_signatures_match_the_code(block: Block, module: ModuleType | None) -> None:
    assert module is not None, f"line {block.line}: under a heading of no documented module"
    problems = check_listing(block, module)
    assert not problems, "\n".join(problems)


def test_signature_checker_sees_a_wrong_listing() -> None:
    wrong = (
        "def failure_rate(threshold: float, min_calls: int) -> Condition: ...\n"
        "class BreakerMachine:\n"
        "    def admit(self, now: float = 1.0) -> int | None: ...\n"
        "    nothing: int\n"
        "class CountWindow:\n"
        "    size: int = 10\n"
        "class BreakerState(enum.Enum):\n"
        "    CLOSED = 'CLOSED'\n"
        "ANY = '+'\n"
        "print(ANY)\n"
    )
    problems = check_listing(Block(REFERENCE, 0, 1, wrong, False, None))
    culprits = [p.split(" ")[0].rstrip(":") for p in problems]
    assert culprits == [
        *("failure_rate", "BreakerMachine.admit", "BreakerMachine.nothing", "CountWindow.size"),
        *("BreakerState.CLOSED", "ANY", "line"),
    ]


def test_signature_checker_sees_a_wrong_failover_listing() -> None:
    wrong = (
        "class CircuitBreaker:\n"
        "    def acall(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...\n"
        "    async def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:"
        " ...\n"
        "class LoggingHook(BreakerHook):\n"
        "    def __init__(self, logger_: logging.Logger | None = None, level: int = logging.DEBUG)"
        " -> None: ...\n"
        "class RateLimited(CallNotPermitted): ...\n"
        "from statemachines import Outcome\n"
        "from statemachines import BreakerState\n"
    )
    problems = check_listing(Block(REFERENCE, 0, 1, wrong, False, None), failover)
    culprits = [p.split(" ")[0].rstrip(":") for p in problems]
    assert culprits == [
        *("CircuitBreaker.acall", "CircuitBreaker.call", "LoggingHook.__init__", "RateLimited"),
        "Outcome",
    ]


def test_listings_belong_to_the_module_of_their_heading() -> None:
    reference = REFERENCES[1]
    modules = {listing_module(reference, b).__name__ for b in BLOCKS[reference.page] if not b.run}
    assert modules == {
        "failover",
        "failover.strategies",
        "failover.status",
        "failover.testing",
        "failover.telemetry",
        "failover.interop",
    }
    assert module_of(reference, "failover.interop.policy_for") == (failover.interop, "policy_for")
    assert module_of(reference, "failover.retry.Nothing")[0] is None


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
