"""A ProviderError's retry_after is None or seconds in [0, MAX_RETRY_AFTER], whatever it is
given: a longer wait is cut to the cap, a numeric string is read, anything else is dropped to
None with one WARNING naming the provider and the value's type. So no error a provider raises
can strand a breaker (OPEN without an event, or without a deadline) or fail the caller with a
TypeError."""

from __future__ import annotations

import logging
import math
import reprlib
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import failover
import statemachines
from failover import (
    MAX_RETRY_AFTER,
    BadRequest,
    BreakerState,
    ContentBlocked,
    NotFound,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from statemachines import FailoverReason
from tests.failover.breaker._support import make, raising
from tests.failover.coordinator.test_coordinator_support import answers, coordinator, down

KINDS = [
    ProviderError,
    RateLimited,
    QuotaExhausted,
    Unauthorized,
    BadRequest,
    NotFound,
    ContentBlocked,
    Unavailable,
    ProviderTimeout,
]


class Weird:
    """An object whose repr raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**5000), 10**5000),
    st.floats(),
    st.decimals(),
    st.fractions(),
    st.text(),
    st.text("0123456789. +-e", max_size=30),
    st.text("0123456789", min_size=300, max_size=5000),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.sampled_from([object(), Weird(), "30", " 2.5 ", "inf", "nan", "-1", "\u0663\u0660"]),
)


def expected(value: object) -> float | None:
    """What the rules say ``value`` becomes (None: dropped, or None given)."""
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or "_" in text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return None if not number.is_finite() or number.is_signed() else expected(number)
    if isinstance(value, Decimal) and value.is_nan():
        return None
    if isinstance(value, int | float | Decimal | Fraction) and not isinstance(value, bool):
        if value != value or value < 0 or value in (math.inf, Decimal("Infinity")):
            return None
        return MAX_RETRY_AFTER if value > MAX_RETRY_AFTER else float(value)
    return None


def short(value: object) -> str:
    """A test id for ``value``."""
    try:
        return reprlib.repr(value)
    except ValueError:  # an int beyond 4300 digits
        return f"int of {value.bit_length()} bits"  # type: ignore[attr-defined]


def is_valid(seconds: object) -> bool:
    return seconds is None or (
        type(seconds) is float and math.isfinite(seconds) and 0.0 <= seconds <= MAX_RETRY_AFTER
    )


def dropped(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "failover.errors" and "retry_after" in r.getMessage()
    ]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), value=values)
def test_any_value_gives_none_or_seconds_in_range(
    kind: type[ProviderError], value: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="failover"):
        error = kind("it failed", provider="gemini", retry_after=value)  # type: ignore[arg-type]
    assert is_valid(error.retry_after)
    assert error.retry_after == expected(value)
    warned = dropped(caplog)
    assert len(warned) == (1 if value is not None and error.retry_after is None else 0)
    for record in warned:
        assert record.levelno == logging.WARNING
        assert "'gemini'" in record.getMessage()
        assert type(value).__name__ in record.getMessage()
        assert len(record.getMessage()) < 300  # never the whole of a huge value


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        (30, 30.0),
        (2.5, 2.5),
        (0, 0.0),
        (-0.0, 0.0),
        ("30", 30.0),
        (" 2.5 ", 2.5),
        ("1e3", 1000.0),
        ("1" * 400, MAX_RETRY_AFTER),  # a finite number: capped, not dropped
        (10**400, MAX_RETRY_AFTER),
        (1e300, MAX_RETRY_AFTER),
        (Decimal("1e400"), MAX_RETRY_AFTER),
        (Fraction(1, 4), 0.25),
        (MAX_RETRY_AFTER, MAX_RETRY_AFTER),
        (True, None),
        (False, None),
        (math.nan, None),
        (math.inf, None),
        (-math.inf, None),
        (-1, None),
        (-(10**5000), None),
        ("-1", None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
        ("\u0663\u0660", None),
        (Decimal("NaN"), None),
        (Decimal("sNaN"), None),
        (Decimal("Infinity"), None),
        (b"30", None),
        ([30], None),
        (object(), None),
        (Weird(), None),
    ],
    ids=short,
)
def test_retry_after_is_validated_when_built(value: object, seconds: float | None) -> None:
    error = RateLimited("slow down", provider="p", retry_after=value)  # type: ignore[arg-type]
    assert error.retry_after == seconds
    assert is_valid(error.retry_after)


def test_a_huge_bad_value_is_logged_short(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="failover"):
        RateLimited("x", provider="openai", retry_after="soon" * 250_000)  # type: ignore[arg-type]
        RateLimited("x", provider="openai", retry_after=-(10**5000))
    first, second = (r.getMessage() for r in dropped(caplog))
    assert "'openai'" in first
    assert " str " in first
    assert len(first) < 300
    assert "'openai'" in second
    assert " int " in second
    assert len(second) < 300


def test_the_cap_is_the_core_s_and_one_day() -> None:
    assert failover.MAX_RETRY_AFTER is statemachines.MAX_RETRY_AFTER
    assert MAX_RETRY_AFTER == 86_400.0
    assert "MAX_RETRY_AFTER" in failover.__all__


# --- through a breaker and a coordinator ------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "wait"),
    [("30", 30.0), (math.inf, 10.0), ("1" * 400, MAX_RETRY_AFTER), (10**12, MAX_RETRY_AFTER)],
    ids=short,
)
def test_a_rate_limited_call_opens_the_breaker_with_its_event_and_a_deadline(
    given: object, wait: float
) -> None:
    breaker, clock = make()  # PROBING: open_duration 10 s, no jitter
    error = RateLimited("429", provider="p", retry_after=given)  # type: ignore[arg-type]
    with pytest.raises(RateLimited) as caught:  # the provider's error, not a TypeError
        breaker.call(raising(error))
    assert caught.value is error
    assert breaker.state is BreakerState.OPEN
    (event,) = breaker.events
    assert (event.dest, event.reason) == (BreakerState.OPEN, FailoverReason.RATE_LIMITED)
    assert breaker.retry_at == clock.monotonic() + wait
    clock.advance(wait)
    assert breaker.call(lambda: "ok") == "ok"  # the first probe: it came back


@pytest.mark.asyncio
@pytest.mark.parametrize("given", ["30", "soon", math.nan, 10**400], ids=short)
async def test_a_coordinator_fails_over_from_any_retry_after(given: object) -> None:
    limited = down("first", lambda name: RateLimited("429", provider=name, retry_after=given))  # type: ignore[arg-type]
    c, clock = coordinator(limited, answers("second"), strategy="priority")
    result = await c.generate("hi")
    assert result.provider == "second"
    breaker = c.breaker("first")
    assert breaker.state is BreakerState.OPEN
    assert [e.reason for e in breaker.events] == [FailoverReason.RATE_LIMITED]
    retry_at = breaker.retry_at
    assert retry_at is not None
    assert clock.monotonic() < retry_at <= MAX_RETRY_AFTER
    await c.aclose()
