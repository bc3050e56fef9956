"""Tests for the count and time windows outcomes are recorded into."""

from __future__ import annotations

import math
import re

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachines import _window
from statemachines._errors import ConfigurationError, FailoverError
from statemachines._window import CountWindow, TimeWindow, Window

# An operation on a window: (kind, failed, slow, time step); "advance" and "clear" ignore some.
Op = tuple[str, bool, bool, float]


def counts(window: Window) -> tuple[int, int, int]:
    return window.calls, window.failures, window.slow_calls


def outcome_counts(outcomes: list[tuple[bool, bool]]) -> tuple[int, int, int]:
    return len(outcomes), sum(f for f, _ in outcomes), sum(s for _, s in outcomes)


class CountModel:
    """The naive count window: every outcome kept, the last ``size`` counted."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.outcomes: list[tuple[bool, bool]] = []

    def record(self, failed: bool, slow: bool, now: float) -> None:
        self.outcomes.append((failed, slow))

    def advance(self, now: float) -> None:
        pass

    def clear(self) -> None:
        self.outcomes.clear()

    def counts(self) -> tuple[int, int, int]:
        return outcome_counts(self.outcomes[-self.size :])


class TimeModel:
    """The naive time window: every outcome kept with its bucket, filtered when counted."""

    def __init__(self, seconds: float, buckets: int) -> None:
        self.width = seconds / buckets
        self.buckets = buckets
        self.latest: int | None = None  # the latest bucket seen; time never rolls back
        self.outcomes: list[tuple[int, bool, bool]] = []

    def advance(self, now: float) -> None:
        index = int(now // self.width)
        self.latest = index if self.latest is None else max(self.latest, index)

    def record(self, failed: bool, slow: bool, now: float) -> None:
        self.advance(now)
        assert self.latest is not None
        self.outcomes.append((self.latest, failed, slow))

    def clear(self) -> None:
        self.outcomes.clear()

    def counts(self) -> tuple[int, int, int]:
        if self.latest is None:
            return 0, 0, 0
        oldest = self.latest - self.buckets
        return outcome_counts([(f, s) for i, f, s in self.outcomes if i > oldest])


def apply(ops: list[Op], start: float, window: Window, model: CountModel | TimeModel) -> None:
    """Run ``ops`` on both, checking the counts agree after every step."""
    now = start
    for op in ops:
        kind, failed, slow, step = op
        if kind == "record":
            now += step
            window.record(failed, slow, now)
            model.record(failed, slow, now)
        elif kind == "advance":
            now += step
            window.advance(now)
            model.advance(now)
        else:
            window.clear()
            model.clear()
        assert counts(window) == model.counts(), (op, now)


def steps(backwards: bool) -> st.SearchStrategy[float]:
    forward = st.one_of(
        st.just(0.0),
        st.floats(0.0, 5.0),
        st.floats(0.0, 200.0),
        st.floats(0.0, 1e7),
        st.sampled_from([1e6, 1e7]),
    )
    return st.one_of(forward, st.floats(-50.0, 0.0)) if backwards else forward


def operations(backwards: bool = False) -> st.SearchStrategy[list[Op]]:
    step = steps(backwards)
    record = st.tuples(st.just("record"), st.booleans(), st.booleans(), step)
    advance = st.tuples(st.just("advance"), st.just(False), st.just(False), step)
    clear = st.tuples(st.just("clear"), st.just(False), st.just(False), st.just(0.0))
    return st.lists(st.one_of(record, record, record, advance, clear), max_size=120)


starts = st.floats(-1e6, 1e6)


# Property tests against the naive models


@given(size=st.integers(1, 20), ops=operations(), start=starts)
def test_count_ring_matches_model(size: int, ops: list[Op], start: float) -> None:
    apply(ops, start, CountWindow(size).create(), CountModel(size))


@given(
    seconds=st.floats(0.01, 1000.0),
    buckets=st.integers(1, 30),
    ops=operations(),
    start=starts,
)
def test_time_buckets_match_model(
    seconds: float, buckets: int, ops: list[Op], start: float
) -> None:
    apply(ops, start, TimeWindow(seconds, buckets).create(), TimeModel(seconds, buckets))


@given(
    seconds=st.floats(0.01, 100.0),
    buckets=st.integers(1, 30),
    ops=operations(backwards=True),
    start=starts,
)
def test_time_buckets_match_model_when_time_goes_backwards(
    seconds: float, buckets: int, ops: list[Op], start: float
) -> None:
    apply(ops, start, TimeWindow(seconds, buckets).create(), TimeModel(seconds, buckets))


# Behaviour shared by both windows


WINDOWS = [CountWindow(5), TimeWindow(10.0, 5)]


@pytest.mark.parametrize("spec", WINDOWS, ids=repr)
def test_a_new_window_is_empty(spec: CountWindow | TimeWindow) -> None:
    assert counts(spec.create()) == (0, 0, 0)


@pytest.mark.parametrize("spec", WINDOWS, ids=repr)
def test_record_counts_each_kind_of_outcome(spec: CountWindow | TimeWindow) -> None:
    window = spec.create()
    for failed, slow in [(False, False), (True, False), (False, True), (True, True)]:
        window.record(failed, slow, 1.0)
    assert counts(window) == (4, 2, 2)


@pytest.mark.parametrize("spec", WINDOWS, ids=repr)
def test_clear_empties_and_the_window_still_records(spec: CountWindow | TimeWindow) -> None:
    window = spec.create()
    window.record(True, True, 1.0)
    window.clear()
    assert counts(window) == (0, 0, 0)
    window.record(True, False, 2.0)
    assert counts(window) == (1, 1, 0)


@pytest.mark.parametrize("spec", WINDOWS, ids=repr)
def test_create_returns_independent_windows(spec: CountWindow | TimeWindow) -> None:
    first, second = spec.create(), spec.create()
    first.record(True, True, 1.0)
    assert counts(second) == (0, 0, 0)


@pytest.mark.parametrize("spec", WINDOWS, ids=repr)
def test_window_repr_shows_counts(spec: CountWindow | TimeWindow) -> None:
    window = spec.create()
    window.record(True, False, 1.0)
    assert "calls=1 failures=1 slow_calls=0" in repr(window)


# The count ring


def test_count_ring_evicts_the_oldest_outcome_once_full() -> None:
    window = CountWindow(3).create()
    window.record(True, False, 0.0)
    window.record(False, True, 0.0)
    window.record(False, False, 0.0)
    assert counts(window) == (3, 1, 1)
    window.record(False, False, 0.0)  # evicts the failure
    assert counts(window) == (3, 0, 1)
    window.record(True, True, 0.0)  # evicts the slow call
    assert counts(window) == (3, 1, 1)
    window.record(False, False, 0.0)  # wraps round: evicts the first success
    assert counts(window) == (3, 1, 1)
    window.record(False, False, 0.0)  # evicts the second success
    assert counts(window) == (3, 1, 1)
    window.record(False, False, 0.0)  # evicts the slow failure
    assert counts(window) == (3, 0, 0)


def test_count_ring_of_one_holds_only_the_last_outcome() -> None:
    window = CountWindow(1).create()
    window.record(True, True, 0.0)
    assert counts(window) == (1, 1, 1)
    window.record(False, False, 0.0)
    assert counts(window) == (1, 0, 0)


def test_count_ring_ignores_time() -> None:
    window = CountWindow(2).create()
    window.record(True, False, 0.0)
    window.advance(1e9)
    window.record(True, False, -1e9)
    assert counts(window) == (2, 2, 0)


# The time buckets


def test_time_window_rolls_over_bucket_by_bucket() -> None:
    window = TimeWindow(seconds=10.0, buckets=5).create()  # buckets 2 s wide
    for bucket in range(5):
        window.record(True, False, bucket * 2.0 + 0.5)  # one failure in each bucket
    assert counts(window) == (5, 5, 0)
    for expired in range(1, 6):
        window.advance(8.5 + expired * 2.0)  # bucket 4 + expired is current
        assert counts(window) == (5 - expired, 5 - expired, 0)


def test_time_window_keeps_an_outcome_until_its_bucket_leaves() -> None:
    window = TimeWindow(seconds=10.0, buckets=5).create()
    window.record(False, True, 3.0)  # bucket 1: [2, 4)
    window.advance(11.999)  # bucket 5: still covers buckets 1 to 5
    assert counts(window) == (1, 0, 1)
    window.advance(12.0)  # bucket 6: bucket 1 has left
    assert counts(window) == (0, 0, 0)


def test_recording_exactly_at_a_bucket_boundary_opens_the_new_bucket() -> None:
    window = TimeWindow(seconds=10.0, buckets=10).create()  # buckets 1 s wide
    window.record(True, False, 0.999)  # bucket 0
    window.record(False, True, 1.0)  # bucket 1, not 0
    assert counts(window) == (2, 1, 1)
    window.record(False, False, 10.0)  # bucket 10: bucket 0 leaves as this one opens
    assert counts(window) == (2, 0, 1)
    window.advance(11.0)
    assert counts(window) == (1, 0, 0)


def test_a_gap_of_one_bucket_short_of_the_window_keeps_the_newest_bucket() -> None:
    window = TimeWindow(seconds=10.0, buckets=10).create()
    window.record(True, False, 0.5)
    window.record(False, True, 5.5)
    window.advance(14.5)  # bucket 14 covers 5 to 14
    assert counts(window) == (1, 0, 1)


def test_a_long_idle_gap_empties_the_time_window() -> None:
    window = TimeWindow(seconds=60.0, buckets=10).create()
    for t in range(60):
        window.record(t % 2 == 0, t % 3 == 0, float(t))
    window.advance(59.0 + 3600.0)
    assert counts(window) == (0, 0, 0)
    window.record(True, False, 59.0 + 3601.0)
    assert counts(window) == (1, 1, 0)


def test_a_huge_jump_empties_the_window_in_bounded_work() -> None:
    # 1e9 s is 1e13 buckets of 0.1 ms: rolling them one by one would never finish.
    window = TimeWindow(seconds=1.0, buckets=10_000).create()
    window.record(True, True, 0.0)
    window.record(True, False, 1e9)
    assert counts(window) == (1, 1, 0)
    window.advance(2e9)
    assert counts(window) == (0, 0, 0)


def test_time_going_backwards_neither_rolls_back_nor_crashes() -> None:
    window = TimeWindow(seconds=10.0, buckets=10).create()
    window.record(True, False, 100.0)  # bucket 100
    window.advance(5.0)  # earlier: nothing changes
    assert counts(window) == (1, 1, 0)
    window.record(False, True, 50.0)  # earlier: counted in bucket 100, the latest seen
    assert counts(window) == (2, 1, 1)
    window.advance(109.999)  # bucket 109: bucket 100 still inside
    assert counts(window) == (2, 1, 1)
    window.advance(110.0)  # both leave together
    assert counts(window) == (0, 0, 0)


def test_time_window_accepts_negative_times() -> None:
    window = TimeWindow(seconds=10.0, buckets=10).create()
    window.record(True, False, -5.0)
    window.advance(4.0)  # bucket 4 covers -5 to 4
    assert counts(window) == (1, 1, 0)
    window.advance(5.0)
    assert counts(window) == (0, 0, 0)


def test_time_window_of_one_bucket() -> None:
    window = TimeWindow(seconds=2.0, buckets=1).create()
    window.record(True, False, 0.0)
    window.record(True, False, 1.9)
    assert counts(window) == (2, 2, 0)
    window.record(False, False, 2.0)
    assert counts(window) == (1, 0, 0)


# The specs


def test_defaults() -> None:
    assert CountWindow() == CountWindow(size=100)
    assert TimeWindow() == TimeWindow(seconds=60.0, buckets=10)


def test_specs_are_frozen_hashable_and_compare_by_value() -> None:
    assert hash(CountWindow(7)) == hash(CountWindow(7))
    assert len({TimeWindow(30.0, 6), TimeWindow(30.0, 6), TimeWindow(30.0, 5)}) == 2
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        CountWindow().size = 3  # type: ignore[misc]


def test_spec_reprs() -> None:
    assert repr(CountWindow(7)) == "CountWindow(size=7)"
    assert repr(TimeWindow(30.0, 6)) == "TimeWindow(seconds=30.0, buckets=6)"


def test_time_window_accepts_int_seconds_and_the_largest_bucket_count() -> None:
    window = TimeWindow(seconds=60, buckets=10_000).create()
    window.record(True, False, 0.0)
    assert counts(window) == (1, 1, 0)


def test_module_exports() -> None:
    assert _window.__all__ == sorted(_window.__all__)
    assert set(_window.__all__) == {"CountWindow", "TimeWindow", "Window"}


# Validation


@pytest.mark.parametrize("size", [0, -1, True, False, 1.0, "3", None])
def test_count_window_rejects_bad_size(size: object) -> None:
    message = f"CountWindow.size must be an int >= 1, got {size!r}"
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}$"):
        CountWindow(size)  # type: ignore[arg-type]


@pytest.mark.parametrize("buckets", [0, -3, 10_001, True, 2.0, "10", None])
def test_time_window_rejects_bad_buckets(buckets: object) -> None:
    message = f"TimeWindow.buckets must be an int >= 1 and <= 10000, got {buckets!r}"
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}$"):
        TimeWindow(60.0, buckets)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "seconds",
    [0, 0.0, -0.0, -1.0, math.nan, math.inf, -math.inf, True, "60", None, 10**400],
    ids=repr,
)
def test_time_window_rejects_bad_seconds(seconds: object) -> None:
    message = f"TimeWindow.seconds must be a finite number > 0, got {seconds!r}"
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}$"):
        TimeWindow(seconds)  # type: ignore[arg-type]


def test_time_window_rejects_a_bucket_width_that_underflows_to_zero() -> None:
    with pytest.raises(ConfigurationError, match=r"5e-324 / 2 == 0\.0; use more seconds"):
        TimeWindow(seconds=5e-324, buckets=2)


def test_configuration_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^CountWindow\.size must be") as info:
        CountWindow(0)
    assert isinstance(info.value, ConfigurationError)
    assert isinstance(info.value, FailoverError)
