"""The reference matches the code.

docs/reference/statemachines.md documents each name of ``statemachines.__all__`` exactly once,
docs/reference/failover.md each name of ``failover.__all__`` and, under their dotted names
(``failover.telemetry.JsonLinesHook``), those of its public modules; providers.md and
distributed.md likewise. Their signature listings match the code: parameter names, kinds,
defaults, ``async`` and return annotations; attributes; re-exports written as
``from statemachines import X``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

import failover
import failover.interop
import failover.redis_storage
import failover.status
import failover.storage
import failover.strategies
import failover.telemetry
import failover.testing
from tests.docs._pages import BLOCKS, Block
from tests.docs._signatures import (
    REFERENCE,
    REFERENCES,
    Reference,
    check_listing,
    documented_names,
    listing_module,
    module_of,
)


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
        "class Coordinator:\n"
        "    def call(self, fn: Callable[[Any], Awaitable[T]]) -> Result[T]: ...\n"
        "    def status(self) -> CoordinatorStatus: ...\n"
        "from statemachines import Outcome\n"
        "from statemachines import BreakerState\n"
    )
    problems = check_listing(Block(REFERENCE, 0, 1, wrong, False, None), failover)
    culprits = [p.split(" ")[0].rstrip(":") for p in problems]
    assert culprits == [
        *("CircuitBreaker.acall", "CircuitBreaker.call", "LoggingHook.__init__", "RateLimited"),
        *("Coordinator.call", "Outcome"),  # its return annotation; status() is right
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
