"""Strategies: the order each one gives, and the incremental order staying sorted."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import (
    AllProvidersFailed,
    BreakerPolicy,
    ConfigurationError,
    ManualClock,
    Unavailable,
)
from failover._selection import Slot
from failover.retry import RetryPolicy
from failover.status import ProviderStatus
from failover.strategies import STRATEGIES, _Sorted
from failover.testing import ScriptedProvider, ScriptedRequest
from statemachines import TimeWindow
from tests.failover.test_coordinator_support import QUIET, answers, coordinator, down, drive, script


def order(c: object) -> list[str]:
    """The coordinator's current order of providers (its strategy's view)."""
    return [s.name for s in c._ordering.order(0.0)]  # type: ignore[attr-defined]


async def answered(c: object, n: int) -> list[str]:
    return [(await c.generate("x")).provider for _ in range(n)]  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_success_rate_prefers_the_better_smoothed_rate() -> None:
    a = script("a", Unavailable("1"), "a")
    c, _ = coordinator(a, answers("b"), answers("c"), policy=QUIET)
    assert order(c) == ["a", "b", "c"]  # all 1/2: registration order
    assert await answered(c, 1) == ["b"]  # a failed once (1/3), b answered (2/3)
    assert order(c) == ["b", "c", "a"]
    assert await answered(c, 2) == ["b", "b"]


@pytest.mark.asyncio
async def test_success_rate_ties_break_on_priority_then_latency() -> None:
    clock = ManualClock()

    def slow(delay: float) -> object:
        async def handler(request: ScriptedRequest) -> str:
            await clock.sleep(delay)
            return "ok"

        return handler

    a, b = ScriptedProvider("a", slow(0.0)), ScriptedProvider("b", slow(0.0))
    c, _ = coordinator(a, b, answers("p"), priorities={"p": 5}, clock=clock)
    assert order(c) == ["p", "a", "b"]
    slot_a, slot_b = c._slots[0], c._slots[1]
    slot_a.latency, slot_b.latency = 2.0, 1.0
    c._ordering.update(slot_a)
    c._ordering.update(slot_b)
    assert order(c) == ["p", "b", "a"]


@pytest.mark.asyncio
async def test_priority_walks_the_chain() -> None:
    c, _ = coordinator(answers("a"), down("b"), answers("c"), strategy="priority",
                       priorities={"b": 2, "c": 1})  # fmt: skip
    result = await c.generate("x")
    assert [t.provider for t in result.attempts] == ["b", "c"]


@pytest.mark.asyncio
async def test_round_robin_starts_one_further_each_request() -> None:
    c, _ = coordinator(answers("a"), answers("b"), answers("c"), strategy="round_robin")
    assert await answered(c, 4) == ["a", "b", "c", "a"]


@pytest.mark.asyncio
async def test_weighted_random_follows_the_weights_and_the_seed() -> None:
    def run(seed: int) -> tuple[object, ...]:
        c, _ = coordinator(answers("a"), answers("b"), strategy="weighted_random",
                           weights={"a": 1, "b": 3}, seed=seed)  # fmt: skip
        return c

    c1, c2 = run(7), run(7)
    first, second = await answered(c1, 400), await answered(c2, 400)
    assert first == second
    assert 250 <= Counter(first)["b"] <= 350


@pytest.mark.asyncio
async def test_least_latency_measures_each_then_takes_the_fastest() -> None:
    clock = ManualClock()

    def slow(name: str, delay: float) -> ScriptedProvider:
        async def handler(request: ScriptedRequest) -> str:
            await clock.sleep(delay)
            return name

        return ScriptedProvider(name, handler)

    from tests.failover.test_coordinator_support import drive

    c, _ = coordinator(slow("a", 3.0), slow("b", 1.0), slow("c", 2.0),
                       strategy="least_latency", clock=clock)  # fmt: skip
    names = [(await drive(clock, c.generate("x"))).provider for _ in range(5)]
    assert names == ["a", "b", "c", "b", "b"]


@pytest.mark.asyncio
async def test_p2c_puts_the_better_of_two_first() -> None:
    a = script("a", Unavailable("1"), Unavailable("2"), "a")
    c, _ = coordinator(a, answers("b"), strategy="p2c", policy=QUIET)
    await c.generate("x")  # whichever came first, a has now failed at least... or b answered
    for _ in range(20):
        assert order(c)[0] == "b"


@pytest.mark.asyncio
async def test_p2c_is_reproducible_with_a_seed() -> None:
    names = "abcdefgh"

    async def run() -> list[str]:
        c, _ = coordinator(*(answers(n) for n in names), strategy="p2c", seed=3)
        return await answered(c, 50)

    assert await run() == await run()


@pytest.mark.asyncio
async def test_a_custom_strategy_gets_statuses_and_its_order_is_followed() -> None:
    seen: list[Sequence[ProviderStatus]] = []

    def reverse(statuses: Sequence[ProviderStatus]) -> Sequence[ProviderStatus]:
        seen.append(statuses)
        return [s for s in reversed(statuses) if s.name != "c"]

    c_provider = answers("c")
    c, _ = coordinator(answers("a"), down("b"), c_provider, strategy=reverse)
    result = await c.generate("x")
    assert [t.provider for t in result.attempts] == ["b", "a"]
    assert c_provider.requests == []
    assert [s.name for s in seen[0]] == ["a", "b", "c"]


@pytest.mark.asyncio
async def test_a_custom_strategy_returning_strangers_is_an_error() -> None:
    c, _ = coordinator(answers("a"), strategy=lambda statuses: ["a"])
    with pytest.raises(ConfigurationError, match=r"returned 'a'; a strategy must return"):
        await c.generate("x")


def test_every_builtin_is_listed() -> None:
    assert STRATEGIES == (
        "success_rate", "priority", "round_robin", "weighted_random", "least_latency", "p2c"
    )  # fmt: skip
    for name in STRATEGIES:
        c, _ = coordinator(answers("a"), answers("b"), strategy=name)
        assert sorted(order(c)) == ["a", "b"]


@given(
    st.lists(
        st.tuples(st.integers(0, 7), st.sampled_from([-1.0, 0.0, 0.5, 2.0]) | st.floats(-5, 5)),
        max_size=80,
    )
)
def test_the_incremental_order_equals_a_full_sort(updates: list[tuple[int, float]]) -> None:
    table = dict.fromkeys(range(8), 0.0)

    class Keyed(_Sorted):
        def key(self, slot: Slot) -> tuple[object, ...]:
            return (table[slot.index], slot.index, slot)

    no_time_window = SimpleNamespace(policy=SimpleNamespace(window=None))
    slots = [SimpleNamespace(index=i, machine=no_time_window) for i in range(8)]
    ordering = Keyed(slots, random.Random(0))  # type: ignore[arg-type]
    for index, value in updates:
        table[index] = value
        ordering.update(slots[index])  # type: ignore[arg-type]
    expected = sorted(range(8), key=lambda i: (table[i], i))
    assert [s.index for s in ordering.order(0.0)] == expected


def test_weighted_random_draws_without_repetition() -> None:
    c, _ = coordinator(*(answers(n) for n in "abcdefgh"), strategy="weighted_random")
    for _ in range(50):
        drawn = order(c)
        assert sorted(drawn) == list("abcdefgh")


@pytest.mark.asyncio
async def test_round_robin_moves_once_per_request_not_per_attempt() -> None:
    c, _ = coordinator(answers("a"), down("b"), answers("c"), strategy="round_robin", policy=QUIET)
    served = [(await c.generate("x")).provider for _ in range(6)]
    # requests start at a, b (fails over to c), c, a, b (-> c), c
    assert served == ["a", "c", "c", "a", "c", "c"]


@pytest.mark.asyncio
async def test_round_robin_moves_once_for_a_request_that_had_to_wait() -> None:
    policy = BreakerPolicy(max_consecutive_failures=1, open_duration=1.0, open_jitter=0.0)
    providers = (script(n, Unavailable("503", provider=n), n) for n in "abc")
    c, clock = coordinator(*providers, strategy="round_robin", policy=policy, all_down="wait")
    with pytest.raises(AllProvidersFailed):
        await c.generate("x")  # starts at a; a, b and c fail and open for 1 s
    # Starts at b: nobody admits until the cooldown ends; the rest of its order goes on from c.
    waited = await drive(clock, c.generate("x"))
    assert (waited.provider, len(waited.attempts), clock.monotonic()) == ("c", 1, 1.0)
    # The waiting request moved the rotation once: the next ones start at c, then a.
    assert await answered(c, 2) == ["c", "a"]


@pytest.mark.asyncio
async def test_success_rate_order_follows_outcomes_aging_out_of_a_time_window() -> None:
    policy = BreakerPolicy(
        window=TimeWindow(60.0, 6), minimum_calls=1000, max_consecutive_failures=1000
    )
    c, clock = coordinator(
        script("a", Unavailable("503", provider="a"), "a"), answers("b"),
        policy=policy, retry=RetryPolicy(max_attempts=2),
    )  # fmt: skip
    first = await c.generate("x")  # a fails (rate 1/3), b answers (2/3)
    assert [t.provider for t in first.attempts] == ["a", "b"]
    assert (await c.generate("x")).provider == "b"
    clock.advance(120.0)  # every outcome has aged out: both back at 1/2, a registered first
    assert (await c.generate("x")).provider == "a"
