"""Scores: the Wilson interval, and the aging bound success_rate documents."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from failover._coordinator.slot import SCORE_HALF_LIFE, SCORE_MAX_CALLS
from failover.strategies import IDLE_RECOVERY_BOUND, wilson

COUNTS = st.floats(0.0, SCORE_MAX_CALLS)


@given(calls=COUNTS, share=st.floats(0.0, 1.0))
def test_the_interval_holds_the_estimate_within_0_and_1(calls: float, share: float) -> None:
    successes = calls * share
    lower, upper = wilson(successes, calls)
    assert 0.0 <= lower <= upper <= 1.0
    if calls > 0:
        assert lower <= share + 1e-9
        assert share - 1e-9 <= upper


@given(idle=COUNTS, idle_share=st.floats(0.0, 1.0), busy=COUNTS, busy_share=st.floats(0.0, 1.0))
def test_an_idle_score_overlaps_any_other_once_the_bound_has_passed(
    idle: float, idle_share: float, busy: float, busy_share: float
) -> None:
    decay = 0.5 ** (IDLE_RECOVERY_BOUND / SCORE_HALF_LIFE)
    aged = idle * decay
    _, idle_upper = wilson(aged * idle_share, aged)
    busy_lower, _ = wilson(busy * busy_share, busy)  # a busy provider's score is never aged
    assert idle_upper >= busy_lower - 1e-12


def test_the_bound_is_tight_for_the_worst_idle_score() -> None:
    decay = 0.5 ** (0.95 * IDLE_RECOVERY_BOUND / SCORE_HALF_LIFE)
    aged = SCORE_MAX_CALLS * decay
    _, idle_upper = wilson(0.0, aged)
    best_lower, _ = wilson(SCORE_MAX_CALLS, SCORE_MAX_CALLS)
    assert idle_upper < best_lower  # a little before it, 0/n is still told from n/n
    assert 280.0 < IDLE_RECOVERY_BOUND < 284.0
