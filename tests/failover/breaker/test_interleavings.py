"""I1-I6 through the runtime's CircuitBreaker, with many asyncio tasks in flight and Hypothesis
choosing which finishes next, over policies of the built-in table (composite trip conditions
included, as ``tests.strategies.runtime_policies`` draws them).

The machinery is the public kit, ``failover.testing.PolicyInterleavings``: our own invariant
check is the one policy authors get (its tests are in tests/testing_kit/).
"""

from __future__ import annotations

from hypothesis import settings

import tests.strategies as sts
from failover.testing import PolicyInterleavings


class RuntimeInterleavings(PolicyInterleavings):
    policy = sts.runtime_policies()


TestInterleavings = RuntimeInterleavings.TestCase
TestInterleavings.settings = settings(stateful_step_count=30)
