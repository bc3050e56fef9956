"""CircuitBreaker's API: the entry points, rejections, bad input, and the slow-call clock.

Every entry point (call, acall, guard, async guard, decorator on def and async def) returns the
provider's result or raises its own exception unchanged (I6), and is rejected with a fresh
CallNotPermitted while OPEN or FORCED_OPEN without running the body (I4).
"""

from __future__ import annotations

import asyncio
import gc
import traceback
import warnings
import weakref

import pytest

from failover import (
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
    ConfigurationError,
    Unavailable,
)
from statemachines import FailoverReason
from tests.failover.breaker._support import (
    ENTRY_POINTS,
    fail,
    half_open,
    make,
    run_through,
    tripped,
)

S = BreakerState


# --- results and errors pass through unchanged (I6) -------------------------------------------


@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_the_result_comes_back_unchanged(how: str) -> None:
    breaker, _ = make()
    result = object()
    assert run_through(breaker, how, lambda: result) is result
    stats = breaker.statistics()
    assert (stats.calls, stats.failures, stats.lifetime_calls) == (1, 0, 1)


def provider_body_that_raises(error: Exception) -> None:
    raise error


@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_the_providers_own_exception_comes_back_with_its_traceback(how: str) -> None:
    breaker, _ = make()
    error = Unavailable("503", provider="p")
    with pytest.raises(Unavailable) as caught:
        run_through(breaker, how, lambda: provider_body_that_raises(error))
    assert caught.value is error
    assert error.__cause__ is None
    assert error.__context__ is None
    assert traceback.extract_tb(error.__traceback__)[-1].name == "provider_body_that_raises"
    assert breaker.state is S.OPEN  # and it was recorded: PROBING trips on one failure


def test_arguments_reach_the_function() -> None:
    breaker, _ = make()
    assert breaker.call(lambda a, *, b: (a, b), 1, b=2) == (1, 2)

    async def add(a: int, *, b: int) -> int:
        return a + b

    assert asyncio.run(breaker.acall(add, 1, b=2)) == 3


def test_the_decorator_keeps_the_functions_identity() -> None:
    breaker, _ = make()

    @breaker
    def plain(x: int) -> int:
        """Doubles."""
        return 2 * x

    @breaker
    async def coroutine(x: int) -> int:
        return 3 * x

    assert (plain.__name__, plain.__doc__, plain(2)) == ("plain", "Doubles.", 4)
    assert asyncio.iscoroutinefunction(coroutine)
    assert asyncio.run(coroutine(2)) == 6
    assert breaker.statistics().lifetime_calls == 2


# --- rejections (I4) --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_an_open_breaker_rejects_without_running_the_body(how: str) -> None:
    breaker, _ = tripped()
    ran: list[bool] = []
    with pytest.raises(CallNotPermitted) as caught:
        run_through(breaker, how, lambda: ran.append(True))
    assert not ran
    exc = caught.value
    assert (exc.provider, exc.state, exc.retry_at) == ("p", S.OPEN, 10.0)
    assert exc.retry_at == breaker.retry_at == breaker.statistics().deadline
    assert "'p' is open" in str(exc)
    assert breaker.statistics().lifetime_rejected == 1


def test_a_forced_open_breaker_rejects_with_no_retry_time() -> None:
    breaker, _ = make()
    breaker.force_open()
    with pytest.raises(CallNotPermitted) as caught:
        breaker.call(lambda: None)
    assert (caught.value.state, caught.value.retry_at) == (S.FORCED_OPEN, None)
    assert "until reset" in str(caught.value)


def test_each_rejection_is_a_fresh_exception_that_nothing_keeps() -> None:
    breaker, _ = tripped()
    rejections = []
    for _ in range(2):
        with pytest.raises(CallNotPermitted) as caught:
            breaker.call(lambda: None)
        rejections.append(caught.value)
    assert rejections[0] is not rejections[1]
    ref = weakref.ref(rejections[0])
    del rejections, caught
    gc.collect()
    assert ref() is None


def test_a_half_open_breaker_turns_away_calls_beyond_its_probes() -> None:
    breaker, _ = half_open()
    with breaker.guard(), breaker.guard():  # the two probes of PROBING, both in flight
        assert breaker.statistics().probes_in_flight == 2
        with pytest.raises(CallNotPermitted) as caught:
            breaker.call(lambda: None)
        assert caught.value.state is S.HALF_OPEN
        assert caught.value.retry_at == breaker.statistics().deadline == 70.0
    assert breaker.state is S.CLOSED
    assert breaker.events[-1].reason is FailoverReason.PROBES_SUCCEEDED


# --- bad input --------------------------------------------------------------------------------


async def coroutine_function() -> str:
    return "never awaited"


def plain_function() -> str:
    return "plain"


def call_with(breaker: CircuitBreaker, mistake: str) -> object:
    """Make one of the mistakes the breaker must refuse."""
    if mistake == "call(non-callable)":
        return breaker.call(42)  # type: ignore[call-overload]
    if mistake == "acall(non-callable)":
        return asyncio.run(breaker.acall(42))  # type: ignore[arg-type]
    if mistake == "acall(plain function)":
        return asyncio.run(breaker.acall(plain_function))  # type: ignore[arg-type]
    assert mistake == "call(coroutine function)"
    return breaker.call(coroutine_function)


MISTAKES = {
    "call(non-callable)": r"breaker\.call\(fn, \*args\) needs a callable, got 42",
    "acall(non-callable)": r"await breaker\.acall\(fn, \*args\) needs a callable, got 42",
    "acall(plain function)": r"needs an async function.*use breaker\.call\(fn, \*args\)",
    "call(coroutine function)": r"got a coroutine.*use `await breaker\.acall\(fn, \*args\)`",
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_wrong_call_says_what_the_right_one_is_and_gives_back_the_probe(mistake: str) -> None:
    breaker, _ = half_open()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "coroutine ... was never awaited"
        with pytest.raises(TypeError, match=MISTAKES[mistake]):
            call_with(breaker, mistake)
        gc.collect()
    stats = breaker.statistics()
    assert (stats.state, stats.probes_admitted, stats.probes_in_flight) == (S.HALF_OPEN, 0, 0)
    assert (stats.lifetime_calls, stats.lifetime_failures) == (1, 1)  # only the trip's failure
    for _ in range(2):  # both permits are still there
        breaker.call(lambda: None)
    assert breaker.state is S.CLOSED


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_wrong_call_in_closed_records_nothing(mistake: str) -> None:
    breaker, _ = make()
    with pytest.raises(TypeError):
        call_with(breaker, mistake)
    stats = breaker.statistics()
    assert (stats.calls, stats.lifetime_calls, stats.lifetime_failures) == (0, 0, 0)


def test_decorating_a_non_callable_is_refused() -> None:
    breaker, _ = make()
    with pytest.raises(TypeError, match=r"@breaker decorates a function, got 'gemini'"):
        breaker("gemini")  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"policy": {"max_consecutive_failures": 5}}, r"policy must be a BreakerPolicy.*e\.g\."),
        ({"classifier": "default"}, r"classifier must be callable, got 'default'"),
        ({"history": -1}, r"history must be an int >= 0, got -1"),
        ({"history": True}, r"history must be an int >= 0, got True"),
        ({"history": 10.0}, r"history must be an int >= 0, got 10\.0"),
        ({"hooks": [42]}, r"hooks must hold callables .* got 42"),
    ],
)
def test_bad_construction_is_a_configuration_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as caught:
        CircuitBreaker("p", **kwargs)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)


def test_an_empty_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"non-empty str, got ''"):
        CircuitBreaker("")


# --- guards -----------------------------------------------------------------------------------


def test_a_guard_is_single_use() -> None:
    breaker, _ = make()
    guard = breaker.guard()
    with guard:
        pass
    refused = pytest.raises(RuntimeError, match=r"single-use: call breaker\.guard\(\) per block")
    with refused, guard:
        pytest.fail("a reused guard ran its block")
    assert breaker.statistics().lifetime_calls == 1


def test_an_async_guard_is_single_use() -> None:
    breaker, _ = make()

    async def twice() -> None:
        guard = breaker.guard()
        async with guard:
            pass
        async with guard:
            pytest.fail("a reused guard ran its block")

    with pytest.raises(RuntimeError, match="single-use"):
        asyncio.run(twice())
    assert breaker.statistics().lifetime_calls == 1


def test_a_guard_records_the_exception_leaving_its_block() -> None:
    breaker, _ = make(BreakerPolicy(max_consecutive_failures=2))
    with pytest.raises(Unavailable), breaker.guard():
        fail()
    stats = breaker.statistics()
    assert (stats.failures, stats.consecutive_failures) == (1, 1)


# --- the low-level pair: admit / finish -------------------------------------------------------


def test_admit_and_finish_record_an_outcome_and_finish_returns_when_it_ended() -> None:
    breaker, clock = make()
    generation = breaker.admit()
    started = clock.monotonic()
    clock.advance(2.5)
    assert breaker.finish(generation, started, None) == 2.5
    generation = breaker.admit()
    clock.advance(1.0)
    assert breaker.finish(generation, 2.5, Unavailable("503", provider="p")) == 3.5
    stats = breaker.statistics()
    assert (stats.lifetime_calls, stats.lifetime_failures) == (2, 1)


def test_release_gives_back_a_probe_permit_and_records_nothing() -> None:
    breaker, _ = half_open()  # PROBING: two probes at a time
    first, second = breaker.admit(), breaker.admit()
    with pytest.raises(CallNotPermitted):
        breaker.admit()
    breaker.release(second)
    assert breaker.admit() == first  # the permit is back, in the same generation
    stats = breaker.statistics()
    # the tripping failure only: a released admission is no call (it counts as ignored)
    assert (stats.lifetime_calls, stats.lifetime_ignored, stats.state) == (1, 1, S.HALF_OPEN)
