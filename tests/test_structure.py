"""The structure of the code (docs/explanation/architecture.md): the public API of ``failover``
is a snapshot; its private modules live in one subpackage per subsystem; imports point one way
between layers; no import cycle; files of at most 400 lines; no module reads the private
attributes of another subsystem (those its own subsystem does not define). Issue 16 emptied the
allow-lists each rule had: every rule now holds with no exception. The readers the rules rest on
are checked too, on edges and reads the code is known to have."""

from __future__ import annotations

import ast

import failover
from tests.structure_support import (
    LAYER_NAMES,
    ROOT,
    cycles,
    foreign_private_reads,
    imports,
    layer,
    lines,
    modules,
    private_imports,
    private_reads,
    underscore_imports,
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


def test_no_import_cycle() -> None:
    found = [sorted(c) for c in cycles()]
    assert found == [], "an import cycle (counting imports in functions and under TYPE_CHECKING)"


def test_imports_point_down_the_layers() -> None:
    assert sorted(upward_imports()) == [], "a module imports from a layer above its own"


def test_a_file_holds_at_most_400_lines() -> None:
    long = {m: lines(m) for m in sorted(modules()) if lines(m) > 400}
    assert long == {}, "split it by responsibility"


def test_no_module_reads_another_subsystems_private_attributes() -> None:
    found = {m: sorted(foreign_private_reads(m)) for m in modules()}
    assert {m: r for m, r in found.items() if r} == {}, "reads another subsystem's private state"


def test_no_module_imports_another_modules_underscore_name() -> None:
    found = {m: sorted(private_imports(m)) for m in sorted(modules())}
    assert {m: r for m, r in found.items() if r} == {}, "share it under a name without '_'"


def test_a_request_reads_in_six_files_that_exist() -> None:
    """docs/explanation/architecture.md's path from Coordinator.generate to the window."""
    page = (ROOT / "docs" / "explanation" / "architecture.md").read_text(encoding="utf-8")
    section = page.split("## Where a request goes", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    files = [line.split()[0] for line in block.splitlines() if line.strip()]
    assert files[0] == "failover/_coordinator/coordinator.py"
    assert files[-1] == "statemachines/_window.py"
    assert len(files) <= 6
    assert [f for f in files if not (ROOT / f).is_file()] == []


# --- the readers the rules rest on -----------------------------------------------------------


def test_imports_count_type_checking_and_function_level_imports() -> None:
    assert "failover._coordinator.pool" in imports("failover._coordinator.membership")  # top
    assert "failover._tracing.runtime" in imports("failover._coordinator.membership")  # typing
    assert "failover._tracing.plan" in imports("failover.tracing")  # inside instrument()


def test_private_reads_see_reads_on_other_objects_only() -> None:
    reads = private_reads("failover._breaker.guard")  # the decorator inlines the fast path
    assert {"_fast", "_machine", "_now", "_slow"} <= reads
    assert foreign_private_reads("failover._breaker.guard") == set()  # its own subsystem's
    assert "_generation" not in reads  # set and read on self


def test_underscore_imports_see_every_underscore_name_from_the_packages() -> None:
    source = (
        "from failover._config.checks import Invalid, _bad\n"
        "from statemachines import __version__\n"
        "from attrs import _make\n"
        "def f():\n"
        "    from statemachines._window import _CountRing as ring\n"
    )
    found = underscore_imports(ast.parse(source))
    assert found == {"failover._config.checks._bad", "statemachines._window._CountRing"}


def test_a_module_outside_the_layers_has_none() -> None:
    assert layer("failover") is None
    assert layer("failover._coordinator.plan") == LAYER_NAMES.index("coordinator")
