"""The structure of the code (docs/explanation/architecture.md): the public API of ``failover``
is a snapshot; its private modules live in one subpackage per subsystem; imports point one way
between layers; no import cycle; files of at most 400 lines; no module reads the private
attributes of another subsystem (those its own subsystem does not define). Each rule has an
allow-list of what breaks it today: a new break fails, and so does an entry that no longer
breaks it (the lists only shrink, to empty)."""

from __future__ import annotations

import pytest

import failover
from tests.structure_support import (
    LAYER_NAMES,
    ROOT,
    cycles,
    foreign_private_reads,
    layer,
    lines,
    modules,
    upward_imports,
)

PUBLIC_API = [
    "MAX_RETRY_AFTER",
    "AllProvidersFailed",
    "AllProvidersUnavailable",
    "Attempt",
    "BadRequest",
    "BreakerHook",
    "BreakerPolicy",
    "BreakerState",
    "CallNotPermitted",
    "CircuitBreaker",
    "Classification",
    "Classifier",
    "Clock",
    "ConfigurationError",
    "ContentBlocked",
    "Coordinator",
    "CoordinatorStatus",
    "FailoverError",
    "FailoverEvent",
    "FailoverSettings",
    "FleetEvent",
    "FleetState",
    "Guard",
    "HealthCheckConfig",
    "HealthCheckResult",
    "Hook",
    "IllegalTransitionError",
    "LLMProvider",
    "LLMResponse",
    "LoggingHook",
    "ManualClock",
    "NotFound",
    "Provider",
    "ProviderError",
    "ProviderFactory",
    "ProviderHealth",
    "ProviderMixin",
    "ProviderRegistry",
    "ProviderSettings",
    "ProviderStatus",
    "ProviderTimeout",
    "QuotaExhausted",
    "QuotaReport",
    "RateLimit",
    "RateLimited",
    "ReportsQuota",
    "Result",
    "RetryPolicy",
    "Rule",
    "SearchProvider",
    "SearchResult",
    "SearchResults",
    "SettingsError",
    "SettingsProblem",
    "Skip",
    "SkipReason",
    "StreamInterrupted",
    "SystemClock",
    "Unauthorized",
    "Unavailable",
    "Usage",
    "build_provider",
    "build_providers",
    "default_classifier",
    "failure",
    "failure_if_result",
    "ignore",
    "known_kinds",
    "managed_failover",
    "register_provider",
    "status_from_json",
    "status_to_json",
    "success",
]
SUBSYSTEMS = ("_base", "_breaker", "_config", "_coordinator", "_distributed", "_tracing")

# What breaks a rule today (issue 16 empties these lists).
KNOWN_CYCLES: list[set[str]] = []
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_LONG = {
    "failover.settings",
    "failover.testing._interleavings",
    "statemachines._machine",
}
KNOWN_PRIVATE_READS: dict[str, set[str]] = {}


def test_the_public_api_is_unchanged() -> None:
    assert failover.__all__ == PUBLIC_API
    assert all(hasattr(failover, name) for name in failover.__all__)


def test_every_private_module_is_in_a_subsystem_package() -> None:
    top = sorted(p.name for p in (ROOT / "failover").glob("_*.py"))
    assert top == ["__init__.py", "__main__.py"]
    for package in SUBSYSTEMS:
        assert (ROOT / "failover" / package / "__init__.py").is_file(), package
    assert (ROOT / "failover" / "testing" / "__init__.py").is_file()


def test_every_failover_module_has_a_layer() -> None:
    unplaced = [m for m in modules() if m.startswith("failover.") and layer(m) is None]
    assert unplaced == []
    assert len(LAYER_NAMES) == max(layer(m) or 0 for m in modules()) + 1


def test_no_new_import_cycle() -> None:
    found = cycles()
    new = [sorted(c) for c in found if not any(c <= known for known in KNOWN_CYCLES)]
    assert new == [], "an import cycle (counting imports in functions and under TYPE_CHECKING)"
    gone = [sorted(k) for k in KNOWN_CYCLES if not any(c >= k for c in found)]
    assert gone == [], "this cycle is broken (or smaller): update KNOWN_CYCLES"


def test_imports_point_down_the_layers() -> None:
    found = upward_imports()
    assert sorted(found - KNOWN_UPWARD) == [], "a module imports from a layer above its own"
    assert sorted(KNOWN_UPWARD - found) == [], "fixed: remove it from KNOWN_UPWARD"


@pytest.mark.parametrize("module", sorted(modules()))
def test_a_file_holds_at_most_400_lines(module: str) -> None:
    if module in KNOWN_LONG:
        assert lines(module) > 400, "now short enough: remove it from KNOWN_LONG"
    else:
        assert lines(module) <= 400


def test_no_module_reads_another_subsystems_private_attributes() -> None:
    found = {m: foreign_private_reads(m) for m in modules()}
    new = {m: sorted(r - KNOWN_PRIVATE_READS.get(m, set())) for m, r in found.items()}
    assert {m: r for m, r in new.items() if r} == {}, "reads another subsystem's private state"
    gone = {m: sorted(k - found.get(m, set())) for m, k in KNOWN_PRIVATE_READS.items()}
    assert {m: r for m, r in gone.items() if r} == {}, "fixed: shrink KNOWN_PRIVATE_READS"
