"""Misuse gets a clear error naming what is there (issue 15, item 6).

pybreaker's keywords given to CircuitBreaker point to BreakerPolicy.pybreaker_compatible; a
@breaker on a generator function guards its iteration (admitted when the generator is made,
recorded once when the iteration ends); a coordinator asked for a capability none of its
providers serves says which providers serve what, instead of reporting an outage.
"""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import AsyncGenerator, Generator

import pytest

from failover import (
    AllProvidersUnavailable,
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
    ConfigurationError,
    Unavailable,
)
from failover.provider import HealthCheckResult, LLMResponse, SearchResult, SearchResults, Usage
from tests.failover.breaker._support import PROBING, make, tripped
from tests.failover.coordinator.test_coordinator_support import coordinator, drive

# --- CircuitBreaker's keywords ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "value", "points_to"),
    [
        ("fail_max", 5, r"BreakerPolicy\.pybreaker_compatible\(fail_max=5, reset_timeout=60"),
        ("reset_timeout", 30, r"BreakerPolicy\.pybreaker_compatible\(fail_max="),
        ("success_threshold", 2, r"BreakerPolicy\.pybreaker_compatible\(.*success_threshold="),
        ("exclude", [KeyError], r"classifier=success\(\*exclude\) \| failure\(BaseException\)"),
        ("listeners", [], r"hooks=\[\.\.\.\]"),
        ("state_storage", object(), r"storage=\.\.\."),
        ("throw_new_error_on_trip", True, r"raises CallNotPermitted"),
    ],
)
def test_a_pybreaker_keyword_names_itself_and_its_equivalent(
    keyword: str, value: object, points_to: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        CircuitBreaker("x", **{keyword: value})  # type: ignore[arg-type]
    message = str(info.value)
    assert f"CircuitBreaker got {keyword}={value!r}, a pybreaker keyword" in message
    assert re.search(points_to, message), message
    assert "pybreaker_compatible" in message


def test_the_pointed_policy_exists_and_is_pybreakers() -> None:
    policy = BreakerPolicy.pybreaker_compatible(fail_max=5, reset_timeout=60, success_threshold=1)
    assert CircuitBreaker("x", policy, hooks=()).policy is policy


def test_an_unknown_keyword_lists_the_accepted_ones() -> None:
    accepted = "name, policy, clock, classifier, hooks, history, rng"
    with pytest.raises(
        ConfigurationError, match=f"unexpected keywords polcy, timeout; it takes {accepted}"
    ):
        CircuitBreaker("x", polcy=BreakerPolicy(), timeout=3)


def test_a_pybreaker_keyword_among_unknown_ones_is_named() -> None:
    with pytest.raises(ConfigurationError, match=r"got fail_max=3, a pybreaker keyword"):
        CircuitBreaker("x", colour="red", fail_max=3)


def test_the_accepted_keywords_still_work_by_name() -> None:
    breaker = CircuitBreaker(name="x", policy=PROBING, history=3, hooks=())
    assert (breaker.name, breaker.policy) == ("x", PROBING)


# --- generator functions: guarded through their iteration ---------------------------------------


def stats(breaker: CircuitBreaker) -> tuple[int, int, int]:
    snapshot = breaker.statistics()
    return snapshot.lifetime_calls, snapshot.lifetime_failures, snapshot.probes_in_flight


def test_a_generator_counts_a_success_when_its_iteration_ends() -> None:
    breaker, _ = make()

    @breaker
    def numbers(n: int) -> Generator[int, None, None]:
        yield from range(n)

    made = numbers(3)
    assert stats(breaker) == (0, 0, 0)  # nothing recorded when it is made
    assert list(made) == [0, 1, 2]
    assert stats(breaker)[:2] == (1, 0)
    assert breaker.statistics().lifetime_ignored == 0


def test_a_generator_that_fails_mid_iteration_counts_a_failure_and_trips() -> None:
    breaker, _ = make()  # PROBING: trips on the first failure

    @breaker
    def flaky() -> Generator[int, None, None]:
        yield 1
        raise Unavailable("503", provider="p")

    items = flaky()
    assert next(items) == 1
    assert stats(breaker) == (0, 0, 0)  # the failure has not happened yet
    with pytest.raises(Unavailable):
        next(items)
    assert breaker.state is BreakerState.OPEN
    assert stats(breaker)[:2] == (1, 1)


def test_a_generator_is_refused_when_made_by_an_open_breaker() -> None:
    breaker, _ = tripped()
    ran = []

    @breaker
    def body() -> Generator[int, None, None]:
        ran.append(True)
        yield 1

    with pytest.raises(CallNotPermitted):
        body()
    assert ran == []


@pytest.mark.parametrize("how", ["close", "drop", "close_before_first"])
def test_a_generator_closed_early_is_ignored_and_frees_its_probe(how: str) -> None:
    breaker, clock = tripped()
    clock.advance(10.0)
    breaker.tick()
    assert breaker.state is BreakerState.HALF_OPEN
    finished = []

    @breaker
    def body() -> Generator[int, None, None]:
        try:
            yield 1
            yield 2
        finally:
            finished.append(True)

    items = body()
    assert breaker.statistics().probes_in_flight == 1
    if how != "close_before_first":
        assert next(items) == 1
    if how == "drop":
        del items
        gc.collect()
    else:
        items.close()
    snapshot = breaker.statistics()
    assert snapshot.probes_in_flight == 0
    assert snapshot.lifetime_ignored == 1
    assert breaker.state is BreakerState.HALF_OPEN  # an ignored probe decides nothing
    assert finished == ([] if how == "close_before_first" else [True])


def test_a_generator_passes_sent_values_and_its_return_value() -> None:
    breaker, _ = make()

    @breaker
    def echo() -> Generator[object, object, str]:
        got = yield "ready"
        yield got
        return "done"

    items = echo()
    assert next(items) == "ready"
    assert items.send("hello") == "hello"
    with pytest.raises(StopIteration) as info:
        next(items)
    assert info.value.value == "done"
    assert stats(breaker)[:2] == (1, 0)


def test_a_slow_iteration_counts_as_slow() -> None:
    breaker, clock = make()

    @breaker
    def slow() -> Generator[int, None, None]:
        yield 1
        clock.advance(PROBING.slow_call_duration + 1)
        yield 2

    assert list(slow()) == [1, 2]
    assert breaker.statistics().lifetime_slow == 1


@pytest.mark.asyncio
async def test_an_async_generator_counts_a_failure_raised_mid_iteration() -> None:
    breaker, _ = make()

    @breaker
    async def chunks() -> AsyncGenerator[str, None]:
        yield "a"
        raise Unavailable("503", provider="p")

    got: list[str] = []

    async def read() -> None:
        async for chunk in chunks():
            got.append(chunk)

    with pytest.raises(Unavailable):
        await read()
    assert got == ["a"]
    assert breaker.state is BreakerState.OPEN
    assert stats(breaker)[:2] == (1, 1)


@pytest.mark.asyncio
async def test_an_async_generator_counts_a_success_at_its_end() -> None:
    breaker, _ = make()

    @breaker
    async def chunks(n: int) -> AsyncGenerator[int, None]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    made = chunks(3)
    assert stats(breaker) == (0, 0, 0)
    assert [i async for i in made] == [0, 1, 2]
    assert stats(breaker)[:2] == (1, 0)


@pytest.mark.asyncio
@pytest.mark.parametrize("before_first", [False, True])
async def test_an_async_generator_closed_early_is_ignored(before_first: bool) -> None:
    breaker, clock = tripped()
    clock.advance(10.0)
    breaker.tick()
    finished = []

    @breaker
    async def chunks() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            finished.append(True)

    made = chunks()
    assert breaker.statistics().probes_in_flight == 1
    if not before_first:
        assert await made.__anext__() == 1
    await made.aclose()
    snapshot = breaker.statistics()
    assert (snapshot.probes_in_flight, snapshot.lifetime_ignored) == (0, 1)
    assert finished == ([] if before_first else [True])


@pytest.mark.asyncio
async def test_an_async_generator_passes_sent_and_thrown_values() -> None:
    breaker, _ = make()

    @breaker
    async def echo() -> AsyncGenerator[object, object]:
        got = yield "ready"
        try:
            yield got
        except KeyError:
            yield "caught"

    made = echo()
    assert await made.__anext__() == "ready"
    assert await made.asend("hello") == "hello"
    assert await made.athrow(KeyError("k")) == "caught"
    with pytest.raises(StopAsyncIteration):
        await made.__anext__()
    assert stats(breaker)[:2] == (1, 0)


def test_an_async_generator_is_refused_when_made_by_an_open_breaker() -> None:
    breaker, _ = tripped()

    @breaker
    async def chunks() -> AsyncGenerator[int, None]:
        yield 1

    with pytest.raises(CallNotPermitted):
        chunks()


# --- a capability no provider serves ------------------------------------------------------------


class SearchOnly:
    """A search provider (Brave-like): no generate, no stream."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def search(self, query: str, **options: object) -> SearchResults:
        return SearchResults(query, (SearchResult(self.name, "https://x.example"),), self.name)  # type: ignore[arg-type]

    async def health_check(self) -> HealthCheckResult:
        return HealthCheckResult(self.name, True)

    async def aclose(self) -> None:
        return None


class GenerateOnly(SearchOnly):
    """An LLM provider that does not stream nor search."""

    search = None  # type: ignore[assignment]

    async def generate(self, prompt: object, **options: object) -> LLMResponse:
        return LLMResponse("hi", self.name, "m", Usage(), "stop")


@pytest.mark.asyncio
@pytest.mark.parametrize("hedge_after", [None, 0.5])
async def test_generate_on_a_search_only_coordinator_names_what_is_served(
    hedge_after: float | None,
) -> None:
    coord, clock = coordinator(SearchOnly("brave"), SearchOnly("tavily"), hedge_after=hedge_after)
    with pytest.raises(ConfigurationError) as info:
        await drive(clock, coord.generate("hi"))
    assert not isinstance(info.value, AllProvidersUnavailable)
    assert str(info.value).startswith(
        "no provider serves generate: none has a callable generate() method; "
        "brave serves search; tavily serves search."
    )
    result = await drive(clock, coord.search("q"))  # what it serves still works
    assert result.provider == "brave"


@pytest.mark.asyncio
async def test_search_on_an_llm_only_coordinator_names_what_is_served() -> None:
    coord, clock = coordinator(GenerateOnly("gemini"), fallback=[GenerateOnly("basic")])
    with pytest.raises(
        ConfigurationError,
        match=r"no provider serves search: .*; gemini serves "
        r"generate; basic serves generate\.",
    ):
        await drive(clock, coord.search("q"))


def test_stream_without_a_streaming_provider_names_what_is_served() -> None:
    coord, _ = coordinator(GenerateOnly("gemini"), SearchOnly("brave"))
    with pytest.raises(
        ConfigurationError, match=r"no provider serves stream: .*gemini serves generate; brave "
    ):
        coord.stream("hi")


@pytest.mark.asyncio
async def test_a_served_capability_with_every_provider_down_is_still_an_outage() -> None:
    coord, clock = coordinator(SearchOnly("brave"), GenerateOnly("gemini"))
    coord.breaker("gemini").force_open()
    with pytest.raises(AllProvidersUnavailable):
        await drive(clock, coord.generate("hi"))


@pytest.mark.asyncio
async def test_a_fallback_that_serves_the_capability_serves_it() -> None:
    coord, clock = coordinator(SearchOnly("brave"), fallback=[GenerateOnly("basic")])
    result = await drive(clock, coord.generate("hi"))
    assert result.provider == "basic"
