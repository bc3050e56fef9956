"""Ceilings of the policy records: values that would exhaust memory (a window of 10^12 calls)
or make no sense (10^9 consecutive failures) are refused when the record is built, one message
per field, naming the range; the largest accepted value still builds a working machine."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from statemachines import (
    MAX_POLICY_COUNT,
    MAX_WINDOW_SECONDS,
    MAX_WINDOW_SIZE,
    BreakerMachine,
    BreakerPolicy,
    ConfigurationError,
    CountWindow,
    Outcome,
    TimeWindow,
)

COUNTS = ["minimum_calls", "max_consecutive_failures", "half_open_max_calls"]
COUNTS.append("health_failures_to_trip")


def test_the_limits_are_what_the_docs_say() -> None:
    assert (MAX_POLICY_COUNT, MAX_WINDOW_SIZE, MAX_WINDOW_SECONDS) == (10_000, 10_000, 86_400.0)


def test_a_count_window_past_the_ceiling_is_refused() -> None:
    message = (
        "CountWindow.size must be an int from 1 to 10000 (the window keeps one slot per call), "
        "got 1000000000000"
    )
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}$"):
        CountWindow(10**12)


def test_a_time_window_past_a_day_is_refused() -> None:
    message = "TimeWindow.seconds must be a finite number > 0 and <= 86400 (one day), got 86400.5"
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}$"):
        TimeWindow(86_400.5)


@pytest.mark.parametrize("field", COUNTS)
def test_a_count_past_the_ceiling_is_refused(field: str) -> None:
    message = f"BreakerPolicy.{field} must be an int from 1 to 10000, got 10001"
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}$"):
        BreakerPolicy(**{field: 10_001})  # type: ignore[arg-type]


def test_a_huge_int_is_shown_short() -> None:
    with pytest.raises(ConfigurationError) as caught:
        BreakerPolicy(minimum_calls=10**5000)  # too long even for repr()
    assert str(caught.value) == (
        "BreakerPolicy.minimum_calls must be an int from 1 to 10000, got <an int of about 5000 "
        "digits>"
    )
    with pytest.raises(ConfigurationError) as caught:
        CountWindow(10**100)
    assert str(caught.value).endswith(f"got {str(10**100)[:77]}...")


def test_the_largest_accepted_values_build_a_working_machine() -> None:
    for window in (CountWindow(MAX_WINDOW_SIZE), TimeWindow(MAX_WINDOW_SECONDS, 10_000)):
        counts: dict[str, Any] = dict.fromkeys(COUNTS, MAX_POLICY_COUNT)
        policy = BreakerPolicy(window=window, **counts)
        machine = BreakerMachine("p", policy)
        ticket = machine.admit(0.0)
        assert ticket is not None
        machine.record(ticket, Outcome.FAILURE, 0.0)
        assert machine.calls == 1


@given(size=st.integers(min_value=-(10**30), max_value=10**30))
def test_any_int_size_is_a_bounded_window_or_refused(size: int) -> None:
    try:
        window: CountWindow | str = CountWindow(size)
    except ConfigurationError as exc:
        window = str(exc)
    if isinstance(window, str):
        assert not 1 <= size <= MAX_WINDOW_SIZE
        assert window.startswith("CountWindow.size must be an int ")
        assert len(window) < 200
    else:
        assert 1 <= window.size <= MAX_WINDOW_SIZE


@example(seconds=5e-324, buckets=2)  # each valid alone: the bucket width underflows to 0
@given(
    seconds=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**400), 10**400),
    buckets=st.integers(-5, 20_000),
)
def test_any_time_window_is_bounded_or_refused(seconds: float, buckets: int) -> None:
    try:
        window: TimeWindow | str = TimeWindow(seconds, buckets)
    except ConfigurationError as exc:
        window = str(exc)
    if isinstance(window, str):
        refusals = ("TimeWindow.seconds must be", "TimeWindow.buckets must be")
        if not window.startswith(refusals):  # each valid alone, too fine together
            assert window.startswith("TimeWindow bucket width seconds / buckets must be > 0")
            assert seconds / buckets == 0.0
    else:
        assert 0 < window.seconds <= MAX_WINDOW_SECONDS
        assert 1 <= window.buckets <= 10_000
