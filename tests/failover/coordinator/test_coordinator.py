"""Coordinator: configuration errors, failover order, how a request ends, and what it records."""

from __future__ import annotations

import random

import pytest

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BadRequest,
    BreakerPolicy,
    BreakerState,
    ConfigurationError,
    ContentBlocked,
    QuotaExhausted,
    Unauthorized,
    Unavailable,
)
from failover._coordinator.coordinator import Coordinator
from failover.ratelimit import RateLimit
from failover.retry import RetryPolicy
from failover.testing import ScriptedProvider
from statemachines import FailoverReason
from tests.failover.coordinator.test_coordinator_support import (
    QUIET,
    answers,
    coordinator,
    down,
    drive,
    script,
)

# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"policies": {"x": BreakerPolicy()}}, r"policies names unknown providers \['x'\]"),
        ({"rate_limits": {"x": RateLimit()}}, r"rate_limits names unknown providers \['x'\]"),
        ({"priorities": {"x": 1}}, r"priorities names unknown providers \['x'\]"),
        ({"weights": {"x": 1}}, r"weights names unknown providers \['x'\]"),
        ({"strategy": "fastest"}, r"unknown strategy 'fastest'; use one of \['success_rate'"),
        ({"strategy": 3}, r"strategy must be one of .* got 3"),
        ({"all_down": "panic"}, r"all_down must be one of \['fail_fast', 'wait', 'probe'\]"),
        ({"weights": {"a": 0}}, r"weights\['a'\] must be a finite number > 0, got 0"),
        ({"priorities": {"a": "high"}}, r"priorities\['a'\] must be a number, got 'high'"),
        ({"policy": "strict"}, r"policy must be a BreakerPolicy, got 'strict'"),
        ({"rate_limits": {"a": 60}}, r"rate_limits\['a'\] must be a RateLimit, got 60"),
        ({"retry": 3}, r"retry must be a RetryPolicy, got 3"),
        (
            {"all_down": "probe", "policy": BreakerPolicy(removed_transitions={"probe_now"})},
            r"fires the MANUAL transition 'probe_now' .* provider 'a' has no such transition",
        ),
    ],
)
def test_bad_configuration_names_what_and_what_is_accepted(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Coordinator([answers("a"), answers("b")], hooks=(), **kwargs)


def test_duplicate_provider_names_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"duplicate provider name 'a'.*\['a'\]"):
        Coordinator([answers("a"), answers("a")])


def test_no_provider_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least one provider"):
        Coordinator([])


def test_each_provider_gets_its_own_policy_or_the_default() -> None:
    own = BreakerPolicy(max_consecutive_failures=7)
    c, _ = coordinator(answers("a"), answers("b"), policies={"b": own})
    assert c.breaker("a").policy == BreakerPolicy()
    assert c.breaker("b").policy == own
    with pytest.raises(KeyError, match=r"no provider named 'z'; the coordinator has \['a', 'b'\]"):
        c.breaker("z")


# --- failover ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_fails_over_in_order_and_reports_every_attempt() -> None:
    a, b, c_ = down("a"), down("b"), answers("c")
    c, _ = coordinator(a, b, c_)
    result = await c.generate("hello")
    assert (result.provider, result.value.text) == ("c", "c")
    assert [t.provider for t in result.attempts] == ["a", "b", "c"]
    assert [type(t.error) for t in result.attempts] == [Unavailable, Unavailable, type(None)]
    assert [len(p.requests) for p in (a, b, c_)] == [1, 1, 1]
    assert a.requests[0].payload == "hello"


@pytest.mark.asyncio
async def test_all_providers_failed_carries_each_error_and_the_last_as_cause() -> None:
    c, _ = coordinator(down("a"), down("b"), down("c"))
    with pytest.raises(AllProvidersFailed) as caught:
        await c.call(lambda p: p.generate("x"))
    attempts = caught.value.attempts
    assert [t.provider for t in attempts] == ["a", "b", "c"]
    assert all(isinstance(t.error, Unavailable) for t in attempts)
    assert caught.value.__cause__ is attempts[-1].error


@pytest.mark.asyncio
async def test_never_more_than_max_attempts() -> None:
    providers = [down(n) for n in "abcde"]
    c, _ = coordinator(*providers, retry=RetryPolicy(max_attempts=2))
    with pytest.raises(AllProvidersFailed) as caught:
        await c.generate("x")
    assert len(caught.value.attempts) == 2
    assert sum(len(p.requests) for p in providers) == 2


@pytest.mark.asyncio
async def test_call_hands_the_provider_to_the_function() -> None:
    c, _ = coordinator(answers("a"))

    async def fn(provider: ScriptedProvider) -> str:
        return provider.name.upper()

    result = await c.call(fn)
    assert (result.value, result.provider) == ("A", "a")


@pytest.mark.asyncio
async def test_any_exception_of_the_function_is_a_failure_that_fails_over() -> None:
    c, _ = coordinator(answers("a"), answers("b"))

    async def fn(provider: ScriptedProvider) -> str:
        if provider.name == "a":
            raise KeyError("boom")
        return "ok"

    result = await c.call(fn)
    assert result.provider == "b"
    assert isinstance(result.attempts[0].error, KeyError)
    assert c.breaker("a").statistics().failures == 1


@pytest.mark.asyncio
async def test_search_skips_providers_without_search() -> None:
    class LLMOnly:
        name = "llm"
        generated = 0

        async def generate(self, prompt: object, **options: object) -> str:
            self.generated += 1
            return "text"

        async def health_check(self) -> None: ...
        async def aclose(self) -> None: ...

    llm = LLMOnly()
    c, _ = coordinator(llm, answers("s"))
    assert (await c.search("q")).provider == "s"
    assert llm.generated == 0


# --- request-level errors ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_bad_request_stops_at_once_and_is_raised_as_it_is() -> None:
    error = BadRequest("prompt too long", provider="a")
    a, b = script("a", error), answers("b")
    c, _ = coordinator(a, b)
    with pytest.raises(BadRequest) as caught:
        await c.generate("x")
    assert caught.value is error
    assert len(b.requests) == 0
    assert c.breaker("a").statistics().calls == 0  # the caller's fault: not recorded


@pytest.mark.asyncio
async def test_content_blocked_stops_by_default_and_fails_over_when_configured() -> None:
    blocked = ContentBlocked("unsafe", provider="a")
    c, _ = coordinator(script("a", blocked), answers("b"))
    with pytest.raises(ContentBlocked):
        await c.generate("x")
    c, _ = coordinator(
        script("a", blocked), answers("b"), retry=RetryPolicy(stop_on_content_blocked=False)
    )
    assert (await c.generate("x")).provider == "b"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (Unauthorized("401", provider="a"), FailoverReason.AUTH_FAILED),
        (QuotaExhausted("daily quota", provider="a"), FailoverReason.RATE_LIMITED),
    ],
)
async def test_unauthorized_and_quota_exhausted_open_the_provider_and_move_on(
    error: Exception, reason: FailoverReason
) -> None:
    a, b = script("a", error, "a"), answers("b")
    c, _ = coordinator(a, b)
    assert (await c.generate("x")).provider == "b"
    assert c.breaker("a").state is BreakerState.OPEN
    assert c.breaker("a").events[-1].reason is reason
    assert (await c.generate("x")).provider == "b"
    assert len(a.requests) == 1


# --- retries, backoff, Retry-After ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_provider_is_tried_again_only_after_its_seeded_backoff() -> None:
    a = script("a", Unavailable("1"), Unavailable("2"), "a")
    retry = RetryPolicy(max_attempts=3, initial_backoff=1.0, backoff_factor=2.0)
    c, clock = coordinator(a, policy=QUIET, retry=retry, seed=42)
    result = await drive(clock, c.generate("x"))
    replica = random.Random(42)
    waits = [retry.backoff(1, replica), retry.backoff(2, replica)]
    starts = [t.started_at for t in result.attempts]
    assert starts == pytest.approx([0.0, waits[0], waits[0] + waits[1]])
    assert 0 <= waits[0] < 1.0
    assert 0 <= waits[1] < 2.0


@pytest.mark.asyncio
async def test_fresh_providers_come_before_a_retry_and_no_wait_is_made_for_them() -> None:
    c, clock = coordinator(down("a"), down("b"), answers("c"), policy=QUIET)
    result = await c.generate("x")
    assert clock.monotonic() == 0.0
    assert [t.started_at for t in result.attempts] == [0.0, 0.0, 0.0]


@pytest.mark.asyncio
async def test_retry_after_is_honoured_when_retrying_the_same_provider() -> None:
    a = script("a", QuotaExhausted("429", provider="a", retry_after=100.0), "a")
    policy = BreakerPolicy(open_duration=1.0, open_jitter=0.0)
    retry = RetryPolicy(request_timeout=500.0)
    c, clock = coordinator(a, policy=policy, retry=retry, all_down="wait")
    result = await drive(clock, c.generate("x"))
    assert [t.provider for t in result.attempts] == ["a", "a"]
    assert result.attempts[1].started_at == 100.0  # not before, and not later than needed


@pytest.mark.asyncio
async def test_a_wait_beyond_the_deadline_is_not_made() -> None:
    a = script("a", QuotaExhausted("429", provider="a", retry_after=100.0), "a")
    c, clock = coordinator(a, retry=RetryPolicy(request_timeout=50.0), all_down="wait")
    with pytest.raises(AllProvidersFailed):
        await drive(clock, c.generate("x"))
    assert clock.monotonic() == 0.0


@pytest.mark.asyncio
async def test_rate_limited_blocks_the_quota_and_never_lowers_the_open_duration() -> None:
    from failover import RateLimited

    a = script("a", RateLimited("429", retry_after=5.0))
    policy = BreakerPolicy(open_duration=30.0, open_jitter=0.0)
    c, _ = coordinator(a, answers("b"), policy=policy)
    assert (await c.generate("x")).provider == "b"
    status = c.status().provider("a")
    assert status.quota_available_at == 5.0
    assert status.retry_at == 30.0  # the breaker's own cooldown is not lowered to 5 s


# --- quota ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_provider_without_quota_is_skipped_not_failed_and_says_until_when() -> None:
    a, b = answers("a"), answers("b")
    c, clock = coordinator(a, b, rate_limits={"a": RateLimit(per_minute=1, per_day=None)})
    clock.advance(5.0)
    assert (await c.generate("x")).provider == "a"
    assert (await c.generate("x")).provider == "b"
    assert len(a.requests) == 1
    status = c.status().provider("a")
    assert (status.quota_left, status.quota_available_at) == (0, 65.0)
    assert c.breaker("a").statistics().failures == 0
    clock.advance(60.0)
    assert (await c.generate("x")).provider == "a"


@pytest.mark.asyncio
async def test_no_quota_anywhere_is_all_providers_unavailable_with_the_reset_time() -> None:
    limit = RateLimit(per_minute=1, per_day=None)
    c, _ = coordinator(answers("a"), rate_limits={"a": limit})
    await c.generate("x")
    with pytest.raises(AllProvidersUnavailable) as caught:
        await c.generate("x")
    assert caught.value.retry_at == 60.0


# --- when no provider admits ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_fail_fast_raises_unavailable_with_the_earliest_retry_time_and_calls_nobody() -> None:
    a, b = answers("a"), answers("b")
    c, _ = coordinator(a, b, policy=BreakerPolicy(open_jitter=0.0))
    c.breaker("a").record_signal(FailoverReason.RATE_LIMITED, retry_after=90.0)
    c.breaker("b").record_signal(FailoverReason.RATE_LIMITED, retry_after=40.0)
    with pytest.raises(AllProvidersUnavailable) as caught:
        await c.generate("x")
    assert caught.value.retry_at == 40.0
    assert caught.value.providers == ("a", "b")
    assert a.requests == b.requests == []


@pytest.mark.asyncio
async def test_fail_fast_with_every_provider_forced_open_has_no_retry_time() -> None:
    c, _ = coordinator(answers("a"))
    c.breaker("a").force_open()
    with pytest.raises(AllProvidersUnavailable) as caught:
        await c.generate("x")
    assert caught.value.retry_at is None


@pytest.mark.asyncio
async def test_wait_waits_for_the_earliest_provider_within_the_deadline() -> None:
    c, clock = coordinator(answers("a"), answers("b"), all_down="wait")
    c.breaker("a").record_signal(FailoverReason.RATE_LIMITED, retry_after=50.0)
    c.breaker("b").record_signal(FailoverReason.RATE_LIMITED, retry_after=45.0)
    result = await drive(clock, c.generate("x"))
    assert result.provider == "b"
    assert result.attempts[0].started_at == c.breaker("b").events[0].details["deadline"]


@pytest.mark.asyncio
async def test_wait_beyond_the_deadline_fails_fast() -> None:
    c, clock = coordinator(answers("a"), all_down="wait", retry=RetryPolicy(request_timeout=10))
    c.breaker("a").record_signal(FailoverReason.RATE_LIMITED, retry_after=50.0)
    with pytest.raises(AllProvidersUnavailable):
        await drive(clock, c.generate("x"))
    assert clock.monotonic() == 0.0


@pytest.mark.asyncio
async def test_probe_tries_the_provider_that_failed_least_recently() -> None:
    a = script("a", "a", Unavailable("down"), "a")
    b = script("b", Unavailable("down"), "b")
    policy = BreakerPolicy(max_consecutive_failures=1, open_duration=300.0)
    c, clock = coordinator(a, b, policy=policy, all_down="probe", priorities={"b": 1})
    assert c.breaker("b").policy is policy  # probe_now is built in: the policy is used as given
    assert (await c.generate("x")).provider == "a"  # t=0: b fails and opens, a answers
    clock.advance(1.0)
    with pytest.raises(AllProvidersFailed):
        await c.generate("x")  # t=1: a fails and opens; b still OPEN: nothing more admits
    clock.advance(1.0)
    result = await c.generate("x")  # t=2: none admits; b failed least recently
    assert (result.provider, len(result.attempts)) == ("b", 1)
    event = c.breaker("b").events[-2]
    assert (event.source, event.dest, event.reason) == (
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        FailoverReason.MANUAL,
    )
    assert c.breaker("b").state is BreakerState.CLOSED


def test_probe_accepts_the_pybreaker_preset_which_keeps_probe_now() -> None:
    policy = BreakerPolicy.pybreaker_compatible(1, 30.0)
    c, _ = coordinator(answers("a"), policy=policy, all_down="probe")
    assert c.breaker("a").policy is policy


# --- lifecycle -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_with_closes_every_provider_and_logs_close_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(ScriptedProvider):
        async def aclose(self) -> None:
            raise OSError("socket already gone")

    a, b = Broken("a", lambda r: "a"), answers("b")
    async with Coordinator([a, b], hooks=()) as c:
        assert (await c.generate("x")).provider == "a"
    assert b.closed
    assert "closing provider 'a' failed" in caplog.text
    await c.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await c.start()
