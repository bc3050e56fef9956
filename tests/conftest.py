"""Shared pytest configuration: the Hypothesis profiles, and the markers by place.

``dev`` is the quick default; ``ci`` (what ``make test`` and CI use) runs at least 1,000
examples per property and per stateful test. Choose one with the ``HYPOTHESIS_PROFILE``
environment variable.

Every test is marked by where it lives, so that ``make test-fast`` can leave the slow kinds
out (``make test`` runs them all): ``docs`` (tests/docs: the pages' code, as installed),
``redis`` (tests/distributed and the modules in REDIS: a real redis-server) and ``stateful``
(the Hypothesis state machines and the thread and liveness runs, listed in STATEFUL), and
``bench`` (tests/test_benchmarks.py: the benchmark scripts still run).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

_TESTS = Path(__file__).resolve().parent
REDIS = frozenset({"cli/test_redis_commands.py", "test_secrets_cli.py"})  # outside distributed/
STATEFUL = frozenset(
    {
        "failover/breaker/test_interleavings.py",
        "failover/breaker/test_threads.py",
        "failover/coordinator/test_system_liveness.py",
        "failover/coordinator/test_coordinator_load.py",
        "statemachines/test_machine_stateful.py",
        "testing_kit/test_policy_interleavings.py",
        "testing_kit/test_site.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its place: docs, redis or stateful (see the module docstring)."""
    for item in items:
        where = item.path.resolve().relative_to(_TESTS).as_posix()
        if where.startswith("docs/"):
            item.add_marker(pytest.mark.docs)
        elif where.startswith("distributed/") or where in REDIS:
            item.add_marker(pytest.mark.redis)
        elif where in STATEFUL:
            item.add_marker(pytest.mark.stateful)
        elif where == "test_benchmarks.py":
            item.add_marker(pytest.mark.bench)
