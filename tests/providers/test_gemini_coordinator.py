"""Every Gemini error row through the Coordinator: which error, whether Gemini's breaker opened
(and why), whether the request failed over to the backup provider."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from failover import (
    AllProvidersFailed,
    BadRequest,
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    ContentBlocked,
    Coordinator,
    ManualClock,
    NotFound,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    RetryPolicy,
    StreamInterrupted,
    Unauthorized,
    Unavailable,
)
from failover.testing import ScriptedProvider, ScriptedRequest
from providers import _gemini_wire
from providers.gemini import GeminiProvider
from providers.openai import OpenAICompatibleProvider
from providers.testing import gemini as fake
from providers.testing._server import FakeServer, Reply
from providers.testing.openai import FakeOpenAI, completion
from statemachines import FailoverReason

POLICY = BreakerPolicy(open_jitter=0.0)  # the defaults: trips after 3 failures in a row


def backup() -> ScriptedProvider:
    """The second provider: answers at once."""

    def handler(request: ScriptedRequest) -> object:
        return ["from ", "backup"] if request.kind == "stream" else "from backup"

    return ScriptedProvider("backup", handler)


class Setup:
    """A fake Gemini, its provider, a backup and a coordinator on a manual clock."""

    def __init__(self, server: fake.FakeGemini, **kw: Any) -> None:
        self.server = server
        self.clock = ManualClock()
        self.gemini = GeminiProvider(fake.KEY, base_url=server.base_url, timeout=5.0)
        self.backup = backup()
        kw.setdefault("policy", POLICY)
        kw.setdefault("strategy", "priority")  # Gemini first whenever it admits calls
        kw.setdefault("priorities", {"gemini": 1})
        self.coordinator = Coordinator(
            [self.gemini, self.backup], clock=self.clock, hooks=(), seed=0, **kw
        )

    @property
    def breaker(self) -> Any:
        return self.coordinator.breaker("gemini")


@pytest_asyncio.fixture
async def setup() -> AsyncIterator[Setup]:
    async with fake.FakeGemini() as server:
        built = Setup(server)
        yield built
        await built.coordinator.aclose()


# (reply, error class, breaker state after one failure, the opening's reason, failed over)
ROWS = [
    pytest.param(fake.rate_limited("26s"), RateLimited, "open", "rate_limited", True, id="429"),
    pytest.param(
        fake.rate_limited(per_day=True), QuotaExhausted, "open", "rate_limited", True, id="day"
    ),
    pytest.param(fake.bad_key(), Unauthorized, "open", "auth_failed", True, id="bad-key"),
    pytest.param(fake.unauthenticated(), Unauthorized, "open", "auth_failed", True, id="401"),
    pytest.param(fake.permission_denied(), Unauthorized, "open", "auth_failed", True, id="403"),
    pytest.param(
        fake.failed_precondition(), Unauthorized, "open", "auth_failed", True, id="precondition"
    ),
    pytest.param(fake.invalid_argument(), BadRequest, "closed", None, False, id="400"),
    pytest.param(fake.not_found(), NotFound, "closed", None, True, id="404"),
    pytest.param(fake.internal(), Unavailable, "closed", None, True, id="500"),
    pytest.param(fake.overloaded(), Unavailable, "closed", None, True, id="503"),
    pytest.param(fake.deadline_exceeded(), ProviderTimeout, "closed", None, True, id="504"),
    pytest.param(fake.html_page(), Unavailable, "closed", None, True, id="html"),
    pytest.param(fake.garbage(), Unavailable, "closed", None, True, id="not-a-response"),
    pytest.param(fake.reset_mid_body(), Unavailable, "closed", None, True, id="reset"),
    pytest.param(fake.blocked_prompt(), ContentBlocked, "closed", None, False, id="blocked"),
    pytest.param(fake.blocked_answer(), ContentBlocked, "closed", None, False, id="safety"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("reply", "error", "state", "reason", "failed_over"), ROWS)
async def test_each_error_row(
    setup: Setup,
    reply: Reply,
    error: type[ProviderError],
    state: str,
    reason: str | None,
    failed_over: bool,
) -> None:
    setup.server.script(reply)
    if failed_over:
        result = await setup.coordinator.generate("Hi")
        assert (result.value.text, result.provider) == ("from backup", "backup")
        assert [a.provider for a in result.attempts] == ["gemini", "backup"]
        raised = result.attempts[0].error
    else:
        with pytest.raises(error) as caught:
            await setup.coordinator.generate("Hi")
        raised = caught.value
        assert setup.backup.requests == []  # the caller's fault: no other provider is asked
    assert type(raised) is error
    assert raised.provider == "gemini"
    assert fake.KEY not in str(raised)
    assert setup.breaker.state.value == state
    events = setup.breaker.events
    assert [e.reason.value for e in events] == ([reason] if reason else [])


@pytest.mark.asyncio
async def test_a_retry_delay_keeps_the_provider_open_that_long(setup: Setup) -> None:
    setup.server.script(fake.rate_limited("45s"))  # longer than the policy's 30 s
    await setup.coordinator.generate("Hi")
    assert setup.breaker.statistics().deadline == pytest.approx(45.0)
    setup.clock.advance(44.0)
    assert (await setup.coordinator.generate("Hi")).provider == "backup"
    assert len(setup.server.requests) == 1  # nothing reached Gemini while it was open
    setup.clock.advance(1.0)
    result = await setup.coordinator.generate("Hi")
    assert (result.provider, result.value.text) == ("gemini", "Hello from Gemini")
    assert setup.breaker.state is BreakerState.CLOSED


@pytest.mark.asyncio
async def test_a_daily_quota_keeps_the_provider_open_until_the_daily_reset(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reset is hours away at most times of day, seconds away just before midnight
    # Pacific time: the wall clock is fixed, five hours before it (tests/providers/
    # test_gemini_wire.py checks seconds_to_daily_reset itself).
    monkeypatch.setattr(_gemini_wire, "seconds_to_daily_reset", lambda now: 5 * 3600.0)
    setup.server.script(fake.rate_limited("26s", per_day=True))
    start = setup.clock.monotonic()
    await setup.coordinator.generate("Hi")
    assert setup.breaker.statistics().deadline == pytest.approx(start + 5 * 3600.0)


@pytest.mark.asyncio
async def test_three_503s_in_a_row_open_the_provider(setup: Setup) -> None:
    setup.server.script(fake.overloaded(), fake.overloaded(), fake.overloaded())
    for _ in range(3):
        assert (await setup.coordinator.generate("Hi")).provider == "backup"
    assert setup.breaker.state is BreakerState.OPEN
    assert setup.breaker.events[-1].reason is FailoverReason.CONSECUTIVE_FAILURES
    with pytest.raises(CallNotPermitted):
        await setup.breaker.acall(setup.gemini.generate, "Hi")


@pytest.mark.asyncio
async def test_a_503_fails_over_with_both_attempts_in_the_result(setup: Setup) -> None:
    setup.server.script(fake.overloaded("3"))
    result = await setup.coordinator.generate("Hi")
    first = result.attempts[0].error
    assert isinstance(first, Unavailable)
    assert (first.status, first.retry_after) == (503, 3.0)
    assert result.attempts[1].succeeded


@pytest.mark.asyncio
async def test_when_every_provider_fails_the_gemini_error_is_kept() -> None:
    async with fake.FakeGemini() as server:
        server.script(fake.overloaded())
        gemini = GeminiProvider(fake.KEY, base_url=server.base_url)
        down = ScriptedProvider("down", lambda r: (_ for _ in ()).throw(Unavailable("x")))
        retry = RetryPolicy(max_attempts=2)  # one attempt each: no backoff on the manual clock
        async with Coordinator([gemini, down], clock=ManualClock(), retry=retry, hooks=()) as c:
            with pytest.raises(AllProvidersFailed) as caught:
                await c.generate("Hi")
    assert [type(a.error) for a in caught.value.attempts] == [Unavailable, Unavailable]
    assert caught.value.attempts[0].provider == "gemini"


@pytest.mark.asyncio
async def test_a_slow_first_byte_times_out_and_fails_over() -> None:
    release = asyncio.Event()
    async with fake.FakeGemini() as server:
        server.script(fake.slow(fake.ok(), release))
        built = Setup(server, retry=RetryPolicy(attempt_timeout=2.0))
        task = asyncio.ensure_future(built.coordinator.generate("Hi"))
        while not server.requests:  # the request reached the server, which holds its answer
            await asyncio.sleep(0)
        built.clock.advance(2.0)
        result = await task
        release.set()
        await built.coordinator.aclose()
    assert result.provider == "backup"
    assert isinstance(result.attempts[0].error, ProviderTimeout)
    assert built.breaker.statistics().failures == 1


@pytest.mark.asyncio
async def test_the_provider_s_own_read_timeout_is_a_provider_timeout() -> None:
    release = asyncio.Event()
    async with fake.FakeGemini() as server:
        server.script(fake.slow(fake.ok(), release))
        gemini = GeminiProvider(fake.KEY, base_url=server.base_url, timeout=0.05)
        with pytest.raises(ProviderTimeout) as caught:
            await gemini.generate("Hi")
        release.set()
        await gemini.aclose()
    assert caught.value.provider == "gemini"


# --- streams -------------------------------------------------------------------------------------


async def collect(stream: AsyncIterator[str], into: list[str]) -> None:
    async for chunk in stream:
        into.append(chunk)


@pytest.mark.asyncio
async def test_a_stream_error_before_the_first_chunk_fails_over(setup: Setup) -> None:
    setup.server.script(fake.overloaded())
    assert [c async for c in setup.coordinator.stream("Hi")] == ["from ", "backup"]
    assert setup.breaker.statistics().failures == 1


@pytest.mark.asyncio
async def test_a_stream_cut_after_its_first_chunk_is_interrupted(setup: Setup) -> None:
    setup.server.script(fake.stream(["Hel", "lo ", "wor", "ld"], cut_after=2))
    received: list[str] = []
    with pytest.raises(StreamInterrupted) as caught:
        await collect(setup.coordinator.stream("Hi"), received)
    assert received == ["Hel", "lo "]
    assert (caught.value.text_so_far, caught.value.provider) == ("Hello ", "gemini")
    assert isinstance(caught.value.cause, Unavailable)
    assert setup.backup.requests == []
    assert setup.breaker.statistics().failures == 1


@pytest.mark.asyncio
async def test_a_whole_stream_through_the_coordinator(setup: Setup) -> None:
    chunks = [c async for c in setup.coordinator.stream("Hi")]
    assert "".join(chunks) == "Hello from Gemini"
    assert len(chunks) == 3
    assert setup.breaker.statistics().calls == 1


@pytest.mark.asyncio
async def test_a_blocked_stream_is_content_blocked_and_not_failed_over(setup: Setup) -> None:
    setup.server.script(fake.stream(["x"], finish="SAFETY"))
    with pytest.raises(ContentBlocked):
        await collect(setup.coordinator.stream("Hi"), [])
    assert setup.backup.requests == []


@pytest.mark.asyncio
async def test_a_gemini_503_is_answered_by_the_openai_compatible_provider() -> None:
    answering = FakeOpenAI(Reply.json(completion("Hello from Ollama", model="llama3")))
    async with fake.FakeGemini() as server, FakeServer(answering) as other:
        server.script(fake.overloaded())
        gemini = GeminiProvider(fake.KEY, base_url=server.base_url)
        ollama = OpenAICompatibleProvider(other.base_url, None, "llama3", name="ollama")
        async with Coordinator(
            [gemini, ollama], strategy="priority", priorities={"gemini": 1}, clock=ManualClock()
        ) as c:
            result = await c.generate("Hi")
    assert (result.provider, result.value.text) == ("ollama", "Hello from Ollama")
    assert isinstance(result.attempts[0].error, Unavailable)
    assert result.attempts[0].error.status == 503


@pytest.mark.asyncio
async def test_no_key_in_logs_events_status_or_errors_of_a_failing_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    replies = [fake.bad_key(), fake.rate_limited("5s"), fake.html_page(), fake.reset_mid_body()]
    seen: list[str] = []
    async with fake.FakeGemini() as server:
        server.script(*replies)
        for _ in replies:
            gemini = GeminiProvider(fake.KEY, base_url=server.base_url)  # closed by c
            one = RetryPolicy(max_attempts=1)
            async with Coordinator([gemini], clock=ManualClock(), retry=one, seed=0) as c:
                with pytest.raises(AllProvidersFailed) as caught:
                    await c.generate("Hi")
                seen += [repr(caught.value), str(caught.value.__cause__)]
                seen += [repr(e) for e in c.breaker("gemini").events]
                seen.append(repr(c.status()))
        gemini = GeminiProvider(fake.KEY, base_url=server.base_url, api_version="v0")
        seen += [repr(gemini), repr(await gemini.health_check())]
        await gemini.aclose()
    seen += [record.getMessage() for record in caplog.records]
    assert len(server.requests) == len(replies) + 1  # each request really failed on the wire
    assert all(fake.KEY not in text for text in seen)
    assert all(r.headers["x-goog-api-key"] == fake.KEY for r in server.requests)
