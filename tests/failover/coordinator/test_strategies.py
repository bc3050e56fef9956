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
from failover._coordinator.ordering import Sorted
from failover._coordinator.slot import Slot
from failover.retry import RetryPolicy
from failover.status import ProviderStatus
from failover.strategies import STRATEGIES
from failover.testing import ScriptedProvider, ScriptedRequest
from tests.failover.coordinator.test_coordinator_support import (
    QUIET,
    answers,
    coordinator,
    down,
    drive,
    script,
)


def order(c: object) -> list[str]:
    """The coordinator's current order of providers (its strategy's view)."""
    now = c.clock.monotonic()  # type: ignore[attr-defined]
    return [s.name for s in c._pool.layout.ordering.order(now)]  # type: ignore[attr-defined]


async def answered(c: object, n: int) -> list[str]:
    return [(await c.generate("x")).provider for _ in range(n)]  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_success_rate_prefers_a_rate_better_beyond_noise() -> None:
    a = script("a", *(Unavailable(str(i)) for i in range(20)), "a")
    c, _ = coordinator(a, answers("b"), answers("c"), policy=QUIET)
    assert order(c) == ["a", "b", "c"]  # nothing measured: registration order
    for _ in range(20):  # a fails every time and b answers: 0/20 against 20/20
        result = await c.generate("x")
        assert [t.provider for t in result.attempts][-1] == "b"
    # b is better beyond noise; c, never measured, cannot be told from b: both before a
    assert order(c) == ["b", "c", "a"]


@pytest.mark.asyncio
async def test_success_rate_differences_within_noise_fall_through_to_priority() -> None:
    a = script("a", Unavailable("1"), *("a" for _ in range(10)))
    c, _ = coordinator(a, answers("b"), policy=QUIET, priorities={"a": 1})
    result = await c.generate("x")  # a fails once (0/1), b answers (1/1)
    assert [t.provider for t in result.attempts] == ["a", "b"]
    # 0/1 and 1/1 cannot be told apart: a's higher priority decides, and it keeps its traffic
    assert order(c) == ["a", "b"]
    assert await answered(c, 3) == ["a", "a", "a"]


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
    c._pool.layout.ordering.update(slot_a)
    c._pool.layout.ordering.update(slot_b)
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

    from tests.failover.coordinator.test_coordinator_support import drive

    c, _ = coordinator(slow("a", 3.0), slow("b", 1.0), slow("c", 2.0),
                       strategy="least_latency", clock=clock)  # fmt: skip
    names = [(await drive(clock, c.generate("x"))).provider for _ in range(5)]
    assert names == ["a", "b", "c", "b", "b"]


@pytest.mark.asyncio
async def test_p2c_puts_the_better_of_two_first() -> None:
    a = script("a", *(Unavailable(str(i)) for i in range(10)), "a")
    c, _ = coordinator(a, answers("b"), strategy="p2c", policy=QUIET)
    for _ in range(10):  # a fails whenever tried first, b answers: a falls behind beyond noise
        await c.generate("x")
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

    class Keyed(Sorted):
        def key(self, slot: Slot) -> tuple[object, ...]:
            return (table[slot.index], slot.index, slot)

    steady = SimpleNamespace(tick_at=None, probing=False, generation=0)  # CLOSED, at rest
    watched = SimpleNamespace(watch=lambda fn: None)
    slots = [
        SimpleNamespace(index=i, machine=steady, breaker=watched, score_generation=0)
        for i in range(8)
    ]
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
    # Starts at b (the rotation moves to c): nobody admits until the cooldowns end at 1.0; then
    # all three are HALF_OPEN and probes go first, in registration order: a answers.
    waited = await drive(clock, c.generate("x"))
    assert (waited.provider, len(waited.attempts), clock.monotonic()) == ("a", 1, 1.0)
    # Next requests start at c, a, b, c, a (one step each); b and c still probe first until
    # each has answered; then the rotation alone decides.
    assert await answered(c, 5) == ["b", "c", "b", "c", "a"]


@pytest.mark.asyncio
async def test_success_rate_scores_age_so_an_idle_provider_is_tried_again() -> None:
    failures = (Unavailable(str(i), provider="a") for i in range(5))
    c, clock = coordinator(
        script("a", *failures, "a"), answers("b"), policy=QUIET, retry=RetryPolicy(max_attempts=2)
    )
    served = [(await c.generate("x")).attempts for _ in range(5)]
    assert [len(attempts) for attempts in served] == [2, 2, 2, 2, 1]  # 0/4 is apart from 4/4
    first_back = None
    for second in range(1, 300):  # a request a second; b answers each while a is idle
        clock.advance(1.0)
        if (await c.generate("x")).provider == "a":
            first_back = second
            break
    # a's four failures age (half-life 30 s) until 0/n cannot be told from b's score, which a
    # request a second holds near 1/1 with n ~ 43: then a is tried again, and answers.
    assert first_back is not None
    assert 60 < first_back < 284
