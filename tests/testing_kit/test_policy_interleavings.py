"""PolicyInterleavings: correct policies pass it, and it catches the bugs it promises to.

The correct ones here are the THROTTLED policy file (failover/policies/throttled.toml) and the
pybreaker preset; the default table's policies run in tests/failover/breaker/test_interleavings.py.
The buggy ones break one invariant each; their tests run without shrinking (a stateful shrink
takes minutes, and only the detection is asserted) and derandomized, so that they are
deterministic.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from failover._config.policy_format import policy_from_toml
from failover.testing import PolicyInterleavings, policies
from statemachines import (
    BreakerPolicy,
    BreakerState,
    ConditionContext,
    FailoverReason,
    Stimulus,
    Transition,
    pybreaker_compatible,
    timed_out,
)

THROTTLED_TOML = Path(__file__).resolve().parents[2] / "failover" / "policies" / "throttled.toml"
FIND_ONLY = settings(derandomize=True, database=None, phases=[Phase.generate])


class ThrottledInterleavings(PolicyInterleavings):
    """The policy file with a THROTTLED state, failover/policies/throttled.toml."""

    policy = policies(policy_from_toml(THROTTLED_TOML))


class PybreakerInterleavings(PolicyInterleavings):
    policy = pybreaker_compatible(fail_max=3, reset_timeout=5.0)
    max_concurrency = 4


# The default table's policies run once (one stateful run per machine), in
# tests/failover/breaker/test_interleavings.py, with the widest draw of them
# (tests.strategies.runtime_policies).
TestThrottled = ThrottledInterleavings.TestCase
TestPybreaker = PybreakerInterleavings.TestCase


# --- bugs it catches ---------------------------------------------------------------------------

REPROBE = Transition(
    "reprobe",
    BreakerState.HALF_OPEN,
    BreakerState.HALF_OPEN,
    FailoverReason.PROBE_TIMEOUT,
    on=Stimulus.TICK,
    condition=timed_out(10.0),
)


class ReprobeInterleavings(PolicyInterleavings):
    """Fresh probe permits after 10 s in HALF_OPEN, while the hung probes are still in flight."""

    policy = policies(BreakerPolicy(transitions=[REPROBE], removed_transitions={"reopen_timeout"}))


def test_it_catches_probes_beyond_the_limit() -> None:  # I3
    with pytest.raises(AssertionError, match=r"^I3: \d+ probes in the provider while HALF_OPEN"):
        run_state_machine_as_test(ReprobeInterleavings, settings=FIND_ONLY)


def empty_window_ratio(ctx: ConditionContext) -> bool:
    """A failure ratio that forgets the empty window (right after every transition)."""
    return ctx.failures / ctx.calls > 0.5


class RaisingConditionInterleavings(PolicyInterleavings):
    policy = BreakerPolicy(
        transitions=[
            Transition(
                "shed",
                BreakerState.CLOSED,
                BreakerState.OPEN,
                FailoverReason.ERROR_RATE,
                on=Stimulus.TICK,
                condition=empty_window_ratio,
            )
        ]
    )


def test_it_catches_a_condition_that_raises() -> None:  # L4: counted, and reported as a defect
    with pytest.raises(AssertionError, match=r"^L4: .*shed: ZeroDivisionError: division by zero"):
        run_state_machine_as_test(RaisingConditionInterleavings, settings=FIND_ONLY)


class NoPolicyInterleavings(PolicyInterleavings):
    pass


def test_a_subclass_without_a_policy_says_what_to_set() -> None:
    with pytest.raises(TypeError, match=r"NoPolicyInterleavings\.policy must be a BreakerPolicy"):
        run_state_machine_as_test(NoPolicyInterleavings, settings=FIND_ONLY)
