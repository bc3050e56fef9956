"""Basic mode: fallback providers serve only when no provider admits a call or every attempt at
the providers failed (L6), are never ranked by a strategy, and do not spend max_attempts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BadRequest,
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    ManualClock,
    ProviderStatus,
    RetryPolicy,
    Unavailable,
)
from failover._coordinator.coordinator import Coordinator
from failover.strategies import STRATEGIES
from failover.testing import ScriptedProvider
from tests.failover.coordinator.test_coordinator_support import (
    QUIET,
    answers,
    coordinator,
    down,
    drive,
    script,
)

TRIP = BreakerPolicy(max_consecutive_failures=1, open_duration=30.0, open_jitter=0.0)
"""Opens at the first failure, for exactly 30 s."""


def attempts_of(result_or_error: object) -> list[tuple[str, str]]:
    attempts = getattr(result_or_error, "attempts")  # noqa: B009 - Result or AllProvidersFailed
    return [(a.provider, type(a.error).__name__) for a in attempts]


# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fallback": [answers("a")]}, r"duplicate provider name 'a' among the fallbacks"),
        ({"fallback": [answers("z"), answers("z")]}, r"duplicate provider name 'z'.*\['a', 'z'\]"),
        ({"fallback": [object()]}, r"every fallback needs a non-empty str name"),
        ({"weights": {"z": 2.0}}, r"weights names fallbacks \['z'\]; fallbacks are never ranked"),
        ({"fleet_hooks": [3]}, r"fleet_hooks must hold callables taking a FleetEvent, got 3"),
        ({"priorities": {"y": 1}}, r"unknown providers \['y'\].*the fallbacks are \['z'\]"),
    ],
)
def test_bad_fallback_configuration_is_refused(kwargs: dict[str, Any], match: str) -> None:
    kwargs.setdefault("fallback", [answers("z")])
    with pytest.raises(ConfigurationError, match=match):
        Coordinator([answers("a")], hooks=(), **kwargs)


def test_policies_rate_limits_and_priorities_may_name_a_fallback() -> None:
    own = BreakerPolicy(max_consecutive_failures=9)
    c, _ = coordinator(
        answers("a"),
        fallback=[answers("z")],
        policies={"z": own},
        priorities={"z": 5.0},
        rate_limits={},
        all_down="probe",
    )
    assert c.breaker("z").policy == own
    assert [p.name for p in c.providers] == ["a"]
    assert [p.name for p in c.fallbacks] == ["z"]
    assert c.status().provider("z").priority == 5.0
    assert repr(c) == "<Coordinator [a] fallback=[z] strategy='success_rate'>"


def test_a_fallback_policy_need_not_keep_probe_now_under_all_down_probe() -> None:
    no_probe = BreakerPolicy(removed_transitions={"probe_now"})
    c, _ = coordinator(
        answers("a"), fallback=[answers("z")], policies={"z": no_probe}, all_down="probe"
    )
    assert c.breaker("z").policy == no_probe
    with pytest.raises(ConfigurationError, match="'a' has no such transition"):
        coordinator(
            answers("a"), fallback=[answers("z")], policies={"a": no_probe}, all_down="probe"
        )


# --- when a fallback serves ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_provider_that_answers_keeps_the_fallback_idle() -> None:
    canned = answers("canned")
    c, _ = coordinator(
        down("a"), answers("b"), fallback=[canned], policy=QUIET, strategy="priority"
    )
    result = await c.generate("hi")
    assert (result.provider, attempts_of(result)) == (
        "b",
        [("a", "Unavailable"), ("b", "NoneType")],
    )
    assert canned.requests == []


@pytest.mark.asyncio
async def test_when_every_provider_fails_the_fallback_answers_after_them() -> None:
    c, _ = coordinator(down("a"), down("b"), fallback=[answers("canned")], strategy="priority")
    result = await c.generate("hi")
    assert result.provider == "canned"
    assert result.value.text == "canned"
    assert attempts_of(result) == [
        ("a", "Unavailable"),
        ("b", "Unavailable"),
        ("canned", "NoneType"),
    ]


@pytest.mark.asyncio
async def test_when_no_provider_admits_the_fallback_answers_at_once() -> None:
    c, clock = coordinator(down("a"), fallback=[answers("canned")], policy=TRIP)
    assert (await c.generate("one")).provider == "canned"  # a fails and opens
    clock.advance(1.0)
    result = await c.generate("two")
    assert (result.provider, attempts_of(result)) == ("canned", [("canned", "NoneType")])


@pytest.mark.asyncio
async def test_fallback_attempts_do_not_spend_max_attempts() -> None:
    c, _ = coordinator(
        down("a"),
        answers("b"),
        fallback=[answers("canned")],
        policy=QUIET,
        strategy="priority",
        retry=RetryPolicy(max_attempts=1),
    )
    result = await c.generate("hi")  # a spends the only attempt: b is not tried, canned is
    assert attempts_of(result) == [("a", "Unavailable"), ("canned", "NoneType")]


@pytest.mark.asyncio
async def test_the_fallback_answers_before_any_backoff_wait() -> None:
    a = script("a", Unavailable("503"), "a again")
    c, clock = coordinator(a, fallback=[answers("canned")], policy=QUIET)
    result = await c.generate("hi")
    assert attempts_of(result) == [("a", "Unavailable"), ("canned", "NoneType")]
    assert clock.monotonic() == 0.0  # no wait for a's backoff
    without, _ = coordinator(script("a", Unavailable("503"), "a again"), policy=QUIET)
    assert (await drive(_, without.generate("hi"))).provider == "a"  # it would have waited


@pytest.mark.asyncio
async def test_fallbacks_go_in_priority_order_each_once_per_request() -> None:
    first, second = down("first"), answers("second")
    c, _ = coordinator(down("a"), fallback=[second, first], priorities={"first": 2.0}, policy=QUIET)
    result = await c.generate("hi")
    assert attempts_of(result) == [
        ("a", "Unavailable"),
        ("first", "Unavailable"),
        ("second", "NoneType"),
    ]


@pytest.mark.asyncio
async def test_all_providers_failed_only_once_the_fallbacks_failed_too() -> None:
    c, clock = coordinator(
        down("a"), fallback=[down("z")], policy=QUIET, retry=RetryPolicy(max_attempts=2)
    )
    with pytest.raises(AllProvidersFailed) as caught:
        await drive(clock, c.generate("hi"))
    assert attempts_of(caught.value) == [
        ("a", "Unavailable"),
        ("z", "Unavailable"),  # tried once; a was retried after its backoff
        ("a", "Unavailable"),
    ]


@pytest.mark.asyncio
async def test_all_providers_unavailable_only_once_the_fallbacks_reject_too() -> None:
    c, clock = coordinator(down("a"), fallback=[answers("z")], policy=TRIP)
    await c.generate("opens a")
    c.breaker("z").force_open()
    clock.advance(10.0)
    with pytest.raises(AllProvidersUnavailable) as caught:
        await c.generate("hi")
    assert (caught.value.retry_at, caught.value.providers) == (30.0, ("a", "z"))


@pytest.mark.asyncio
async def test_a_bad_request_at_a_provider_never_reaches_the_fallback() -> None:
    canned = answers("canned")
    c, _ = coordinator(down("a", lambda n: BadRequest("no", provider=n)), fallback=[canned])
    with pytest.raises(BadRequest):
        await c.generate("hi")
    assert canned.requests == []


@pytest.mark.asyncio
async def test_the_deadline_bounds_fallback_attempts_too() -> None:
    clock = ManualClock()
    canned = answers("canned")
    c, _ = coordinator(
        ScriptedProvider("a", lambda request: clock.sleep(20.0)),  # hangs past the deadline
        fallback=[canned],
        retry=RetryPolicy(request_timeout=10.0),
        clock=clock,
    )
    with pytest.raises(AllProvidersFailed) as caught:
        await drive(clock, c.generate("hi"))
    assert attempts_of(caught.value) == [("a", "ProviderTimeout")]
    assert canned.requests == []


# --- all_down modes apply once no fallback admits either -----------------------------------------


@pytest.mark.asyncio
async def test_wait_serves_the_fallback_rather_than_waiting() -> None:
    c, clock = coordinator(
        script("a", Unavailable("503"), "a is back"),
        fallback=[answers("z")],
        policy=TRIP,
        all_down="wait",
    )
    await c.generate("opens a")
    clock.advance(1.0)
    assert (await c.generate("hi")).provider == "z"
    assert clock.monotonic() == 1.0
    c.breaker("z").force_open()  # now nobody admits: wait for a, at t = 30
    result = await drive(clock, c.generate("hi"))
    assert (result.provider, clock.monotonic()) == ("a", 30.0)


@pytest.mark.asyncio
async def test_probe_serves_the_fallback_and_probes_only_when_it_rejects() -> None:
    c, clock = coordinator(
        script("a", Unavailable("503"), "a is back"),
        fallback=[answers("z")],
        policy=TRIP,
        all_down="probe",
    )
    await c.generate("opens a")
    clock.advance(1.0)
    assert (await c.generate("hi")).provider == "z"
    assert c.breaker("a").state is BreakerState.OPEN  # not probed
    c.breaker("z").force_open()
    assert (await c.generate("hi")).provider == "a"  # probed early
    assert [e.trigger for e in c.breaker("a").events][-2:] == ["probe_now", "recover"]


# --- never ranked ---------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_a_fallback_is_never_ranked_against_an_admitting_provider(strategy: str) -> None:
    canned = answers("canned")
    a = answers("a")
    c, _ = coordinator(
        a, fallback=[canned], strategy=strategy, priorities={"canned": 100.0}, policy=TRIP
    )
    c.breaker("a").force_open()
    for _ in range(20):  # the fallback builds a perfect record
        assert (await c.generate("hi")).provider == "canned"
    c.breaker("a").reset()
    for _ in range(20):
        assert (await c.generate("hi")).provider == "a"
    assert len(canned.requests) == 20


@pytest.mark.asyncio
async def test_a_custom_strategy_sees_the_providers_only() -> None:
    seen: list[list[str]] = []

    def reverse(statuses: Sequence[ProviderStatus]) -> Sequence[ProviderStatus]:
        seen.append([s.name for s in statuses])
        return list(reversed(statuses))

    c, _ = coordinator(answers("a"), answers("b"), fallback=[answers("z")], strategy=reverse)
    assert (await c.generate("hi")).provider == "b"
    assert seen == [["a", "b"]]


# --- kinds: streams, hedges -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_stream_falls_back_too() -> None:
    c, _ = coordinator(down("a"), fallback=[answers("canned")], policy=QUIET)
    assert [chunk async for chunk in c.stream("hi")] == ["canned"]


@pytest.mark.asyncio
async def test_hedges_never_go_to_a_fallback() -> None:
    canned = answers("canned")
    clock = ManualClock()

    async def slow() -> str:
        await clock.sleep(5.0)
        return "a"

    c, _ = coordinator(
        ScriptedProvider("a", lambda request: slow()),
        fallback=[canned],
        hedge_after=1.0,
        clock=clock,
    )
    result = await drive(clock, c.generate("hi"))
    assert (result.provider, clock.monotonic()) == ("a", 5.0)
    assert canned.requests == []


@pytest.mark.asyncio
async def test_a_hedged_request_falls_back_once_every_provider_failed() -> None:
    c, clock = coordinator(down("a"), down("b"), fallback=[answers("z")], hedge_after=1.0)
    result = await drive(clock, c.generate("hi"))
    assert result.provider == "z"
    assert {p for p, _ in attempts_of(result)[:-1]} == {"a", "b"}
