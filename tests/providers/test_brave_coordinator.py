"""Brave through the Coordinator (ManualClock, a ScriptedProvider as the second search
provider): each error row's class, breaker reason and failover; a 429 or a remaining of 0
skips Brave until the reset without a request reaching it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from failover import BreakerState, Coordinator, ManualClock, RetryPolicy, status_to_json
from failover.errors import (
    AllProvidersFailed,
    BadRequest,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.provider import SearchResult
from failover.testing import ScriptedProvider, ScriptedRequest
from providers.brave import BraveSearchProvider
from providers.testing._server import Reply
from providers.testing.brave import FakeBrave, brave_error, html_page, web_results
from statemachines import FailoverReason
from tests.failover.coordinator.test_coordinator_support import down

_S, _R = BreakerState, FailoverReason


def backup_provider() -> ScriptedProvider:
    def handler(request: ScriptedRequest) -> list[SearchResult]:
        return [SearchResult(f"backup: {request.payload}", "https://backup.example")]

    return ScriptedProvider("backup", handler)


class Setup:
    """A coordinator preferring Brave (on the fake) over the scripted backup."""

    def __init__(self, brave: FakeBrave, backup: ScriptedProvider, **kw: object) -> None:
        self.brave, self.backup = brave, backup
        self.clock = ManualClock()
        self.provider = BraveSearchProvider(brave.token, base_url=brave.base_url)
        self.coord = Coordinator(
            [self.provider, backup],
            strategy="priority",
            priorities={"brave": 2, "backup": 1},
            clock=self.clock,
            hooks=(),
            seed=0,
            **kw,  # type: ignore[arg-type]
        )

    async def who(self, query: str = "cats") -> str:
        """Search; the provider that answered."""
        return (await self.coord.search(query)).provider


@pytest_asyncio.fixture
async def setup() -> AsyncIterator[Setup]:
    async with FakeBrave() as brave:
        made = Setup(brave, backup_provider())
        yield made
        await made.coord.aclose()


@pytest.mark.asyncio
async def test_brave_answers_first_and_its_results_come_back(setup: Setup) -> None:
    result = await setup.coord.search("cats", count=2)
    assert result.provider == "brave"
    assert [r.title for r in result.value.results] == ["Result 1 for cats", "Result 2 for cats"]
    assert setup.brave.requests[0].query == {"q": "cats", "count": "2"}
    assert setup.backup.requests == []


@pytest.mark.asyncio
async def test_a_429_skips_brave_until_its_reset_without_a_request(setup: Setup) -> None:
    setup.brave.script(brave_error("RATE_LIMITED", remaining=(0, 900), reset=(120, 9000)))
    assert await setup.who() == "backup"  # Brave's 429, then the backup at once
    assert len(setup.brave.requests) == 1
    event = setup.coord.breaker("brave").events[-1]
    assert (event.dest, event.reason) == (_S.OPEN, _R.RATE_LIMITED)
    for _ in range(4):
        setup.clock.advance(29.0)  # up to t=116 < 120
        assert await setup.who() == "backup"
    assert len(setup.brave.requests) == 1  # nothing reached Brave before the reset
    setup.clock.advance(4.5)  # t=120.5: past the reset
    assert await setup.who() == "brave"
    assert len(setup.brave.requests) == 2
    assert len(setup.backup.requests) == 5


@pytest.mark.asyncio
async def test_remaining_zero_on_a_200_skips_brave_until_the_month_resets(setup: Setup) -> None:
    setup.brave.script(web_results("cats", remaining=(19, 0), reset=(1, 3600)))
    assert await setup.who() == "brave"  # the last request of the month succeeds
    for _ in range(3):
        setup.clock.advance(1000.0)  # up to t=3000
        assert await setup.who() == "backup"
    assert len(setup.brave.requests) == 1
    assert setup.coord.breaker("brave").state is _S.CLOSED  # a quota, not a failure
    setup.clock.advance(601.0)
    assert await setup.who() == "brave"
    assert len(setup.brave.requests) == 2


@pytest.mark.asyncio
async def test_an_exhausted_second_skips_brave_for_that_second_only(setup: Setup) -> None:
    setup.brave.script(web_results("a", remaining=(0, 14000), reset=(1, 9000)))
    assert await setup.who("a") == "brave"
    assert await setup.who("b") == "backup"
    setup.clock.advance(1.0)
    assert await setup.who("c") == "brave"
    assert [r.query["q"] for r in setup.brave.requests] == ["a", "c"]


FAILOVER_ROWS = [
    (brave_error("RATE_LIMITED", remaining=(0, 9), reset=(60, 900)), RateLimited, _R.RATE_LIMITED),
    (brave_error("QUOTA_LIMITED", remaining=(5, 0)), QuotaExhausted, _R.RATE_LIMITED),
    (brave_error("OPTION_NOT_IN_PLAN"), Unauthorized, _R.AUTH_FAILED),
    (brave_error("INTERNAL", status=503), Unavailable, None),
    (html_page(502), Unavailable, None),
    (html_page(200), Unavailable, None),
    (web_results(reset_mid_body=True), Unavailable, None),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("reply", "cls", "reason"), FAILOVER_ROWS)
async def test_each_provider_side_error_fails_over(
    setup: Setup, reply: Reply, cls: type[ProviderError], reason: FailoverReason | None
) -> None:
    setup.brave.script(reply)
    result = await setup.coord.search("cats")
    assert result.provider == "backup"
    first = result.attempts[0]
    assert first.provider == "brave"
    assert type(first.error) is cls
    breaker = setup.coord.breaker("brave")
    if reason is None:  # one failure does not trip the default policy
        assert breaker.state is _S.CLOSED
        assert breaker.statistics().failures == 1
    else:
        assert (breaker.state, breaker.events[-1].reason) == (_S.OPEN, reason)


@pytest.mark.asyncio
async def test_a_wrong_key_opens_brave_with_auth_failed() -> None:
    async with FakeBrave() as brave:
        made = Setup(brave, backup_provider())
        made.provider = BraveSearchProvider("BSA-revoked", base_url=brave.base_url)
        made.coord = Coordinator(
            [made.provider, made.backup],
            strategy="priority",
            priorities={"brave": 2, "backup": 1},
            clock=made.clock,
            hooks=(),
        )
        result = await made.coord.search("cats")
        assert result.provider == "backup"
        assert type(result.attempts[0].error) is Unauthorized
        assert result.attempts[0].error.status == 422  # type: ignore[union-attr]
        event = made.coord.breaker("brave").events[-1]
        assert (event.dest, event.reason) == (_S.OPEN, _R.AUTH_FAILED)
        assert await made.who() == "backup"
        assert len(brave.requests) == 1
        await made.coord.aclose()


@pytest.mark.asyncio
async def test_validation_ends_the_request_without_failover_or_blame(setup: Setup) -> None:
    setup.brave.script(brave_error("VALIDATION"))
    with pytest.raises(BadRequest, match="422 VALIDATION"):
        await setup.coord.search("cats")
    assert setup.backup.requests == []
    assert setup.coord.breaker("brave").statistics().failures == 0


@pytest.mark.asyncio
async def test_an_option_brave_rejects_is_refused_before_anything_is_sent(setup: Setup) -> None:
    with pytest.raises(BadRequest, match="offset=10"):
        await setup.coord.search("cats", offset=10)
    assert setup.brave.requests == []
    assert setup.backup.requests == []


@pytest.mark.asyncio
async def test_a_slow_first_byte_times_out_and_fails_over() -> None:
    release = asyncio.Event()
    async with FakeBrave() as brave:
        made = Setup(brave, backup_provider(), retry=RetryPolicy(attempt_timeout=5.0))
        brave.script(web_results(hold=release))
        task = asyncio.ensure_future(made.coord.search("cats"))
        await brave.until_requests(1)  # the request reached the fake, which holds its answer
        made.clock.advance(5.0)
        result = await task
        release.set()
        assert result.provider == "backup"
        assert type(result.attempts[0].error) is ProviderTimeout
        await made.coord.aclose()


@pytest.mark.asyncio
async def test_no_log_line_event_status_or_error_of_a_failing_run_shows_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "BSA-secret-never-shown-42"
    async with FakeBrave(token=key) as brave:
        brave.script(
            brave_error("INTERNAL", status=503, detail=f"upstream saw token {key}"),
            html_page(502),
        )
        made = Setup(brave, down("backup"), retry=RetryPolicy(max_attempts=2))
        with pytest.raises(AllProvidersFailed) as caught:
            await made.coord.search("cats")
        await made.coord.check_health(force=True)
        texts = [str(caught.value), repr(caught.value), repr(made.provider)]
        texts += [f"{a.error!s} {a.error!r}" for a in caught.value.attempts]
        texts += [repr(e) for e in made.coord.breaker("brave").events]
        texts.append(status_to_json(made.coord.status()))
        await made.coord.aclose()
    texts += [record.getMessage() for record in caplog.records]
    assert len(brave.requests) == 2  # the failed search and the failed health check
    assert any("***" in text for text in texts)  # the echoed key was masked
    assert not [text for text in texts if key in text]
