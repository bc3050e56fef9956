"""failover.tracing: a span per request, a child span per attempt, the failover decisions as
events on the request span; off by default."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BadRequest,
    ConfigurationError,
    ManualClock,
    StreamInterrupted,
    Unavailable,
)
from failover._coordinator.coordinator import Coordinator
from failover.ratelimit import RateLimit
from failover.retry import RetryPolicy
from failover.testing import ScriptedProvider, ScriptedRequest
from failover.tracing import CoordinatorTelemetry
from tests.failover.coordinator.test_coordinator_hedge import Slow
from tests.failover.coordinator.test_coordinator_support import (
    QUIET,
    answers,
    coordinator,
    down,
    drive,
    script,
)
from tests.failover.tracing.test_tracing_support import Recorder, attributes

UNAVAILABLE = "failover.errors.Unavailable"


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


# --- off by default ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_coordinator_has_no_telemetry_unless_asked(rec: Recorder) -> None:
    c, _ = coordinator(down("a"), answers("b"))
    assert c._telemetry is None
    assert "_run" not in vars(c)  # the class's own request path, untouched
    off, _ = coordinator(
        down("a"), answers("b"), telemetry=rec.telemetry(spans=False, gen_ai_metrics=False)
    )
    assert off._telemetry is None
    assert (await off.generate("x")).provider == "b"
    assert [chunk async for chunk in off.stream("x")] == ["b"]
    assert rec.spans() == []
    assert rec.metric_names() == set()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"telemetry": True}, r"telemetry must be a CoordinatorTelemetry or None, got True"),
        ({"telemetry": "spans"}, r"telemetry must be a CoordinatorTelemetry or None"),
    ],
)
def test_telemetry_must_be_a_coordinator_telemetry(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Coordinator([answers("a")], hooks=(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["spans", "gen_ai_metrics"])
def test_its_switches_are_booleans(field: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"CoordinatorTelemetry.{field} must be true"):
        CoordinatorTelemetry(**{field: "yes"})  # type: ignore[arg-type]


def test_without_opentelemetry_enabling_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in ("opentelemetry", "opentelemetry.trace", "opentelemetry.metrics"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ConfigurationError, match=r"pip install 'failover\[otel\]'"):
        Coordinator([answers("a")], hooks=(), telemetry=CoordinatorTelemetry())
    quiet = CoordinatorTelemetry(spans=False, gen_ai_metrics=False)
    assert Coordinator([answers("a")], hooks=(), telemetry=quiet)._telemetry is None


# --- a request and its attempts ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_failing_over_makes_one_request_span_with_an_attempt_span_each(
    rec: Recorder,
) -> None:
    c, _ = coordinator(down("a"), answers("b"), telemetry=rec.telemetry())
    assert (await c.generate("x")).provider == "b"
    request = rec.request()
    assert (request.name, request.kind, request.status.status_code) == (
        "failover generate",
        SpanKind.INTERNAL,
        StatusCode.UNSET,  # instrumentation libraries leave success UNSET
    )
    assert attributes(request) == {
        "failover.request.kind": "generate",
        "failover.attempt.count": 2,
        "failover.provider.name": "b",
    }
    first, second = rec.attempts()
    assert len(rec.spans()) == 3
    assert {s.context.trace_id for s in rec.spans()} == {request.context.trace_id}
    assert (first.name, first.kind) == ("chat scripted", SpanKind.CLIENT)
    assert first.status.status_code is StatusCode.ERROR
    assert attributes(first) == {
        "failover.provider.name": "a",
        "failover.attempt.number": 1,
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "a",
        "gen_ai.request.model": "scripted",
        "error.type": UNAVAILABLE,
    }
    assert second.status.status_code is StatusCode.UNSET
    assert "error.type" not in attributes(second)
    assert attributes(second)["gen_ai.response.model"] == "scripted"
    assert rec.events("failover.attempt.failed") == [
        (
            "failover.attempt.failed",
            {
                "failover.provider.name": "a",
                "failover.attempt.number": 1,
                "error.type": UNAVAILABLE,
            },
        )
    ]


@pytest.mark.asyncio
async def test_an_open_provider_is_skipped_as_not_permitted(rec: Recorder) -> None:
    c, _ = coordinator(answers("a"), answers("b"), telemetry=rec.telemetry(), strategy="priority")
    c.breaker("a").force_open()
    assert (await c.search("q")).provider == "b"
    assert rec.events("failover.provider.skipped") == [
        (
            "failover.provider.skipped",
            {
                "failover.provider.name": "a",
                "failover.skip.reason": "not_permitted",
                "failover.breaker.state": "forced_open",
            },
        )
    ]
    (attempt,) = rec.attempts()
    assert attempt.name == "search b"
    assert not any(key.startswith("gen_ai.") for key in attributes(attempt))


@pytest.mark.asyncio
async def test_a_provider_out_of_quota_is_skipped_for_quota(rec: Recorder) -> None:
    c, _ = coordinator(
        answers("a"),
        answers("b"),
        telemetry=rec.telemetry(),
        strategy="priority",
        priorities={"a": 1},
        rate_limits={"a": RateLimit(per_minute=1)},
    )
    assert (await c.generate("x")).provider == "a"
    rec.exporter.clear()
    assert (await c.generate("x")).provider == "b"
    skipped = rec.events("failover.provider.skipped")
    assert [e["failover.skip.reason"] for _, e in skipped] == ["quota"]
    assert skipped[0][1]["failover.provider.name"] == "a"


@pytest.mark.asyncio
async def test_a_retry_waits_and_says_how_long(rec: Recorder) -> None:
    a = script("a", Unavailable("503", provider="a"), "a")
    c, clock = coordinator(a, telemetry=rec.telemetry(), policy=QUIET)
    result = await drive(clock, c.generate("x"))
    (wait,) = rec.events("failover.retry.wait")
    took = result.attempts[1].started_at - result.attempts[0].started_at
    assert took > 0
    assert wait[1] == {"failover.wait.duration": pytest.approx(took)}
    names = [name for name, _ in rec.events()]
    assert names.index("failover.attempt.failed") < names.index("failover.retry.wait")
    assert (
        "failover.provider.skipped",
        {
            "failover.provider.name": "a",
            "failover.skip.reason": "already_tried",
            "failover.breaker.state": "closed",
        },
    ) in rec.events()
    assert [attributes(s)["failover.attempt.number"] for s in rec.attempts()] == [1, 2]


@pytest.mark.asyncio
async def test_a_request_where_every_attempt_fails_is_an_error(rec: Recorder) -> None:
    c, _ = coordinator(
        down("a"), down("b"), telemetry=rec.telemetry(), retry=RetryPolicy(max_attempts=2)
    )
    with pytest.raises(AllProvidersFailed):
        await c.generate("x")
    request = rec.request()
    assert request.status.status_code is StatusCode.ERROR
    assert attributes(request)["error.type"] == "failover.errors.AllProvidersFailed"
    assert attributes(request)["failover.attempt.count"] == 2
    assert "failover.provider.name" not in attributes(request)
    assert [s.status.status_code for s in rec.attempts()] == [StatusCode.ERROR] * 2
    assert len(rec.events("failover.attempt.failed")) == 2


@pytest.mark.asyncio
async def test_no_provider_admitting_is_an_error_without_attempts(rec: Recorder) -> None:
    c, _ = coordinator(answers("a"), telemetry=rec.telemetry())
    c.breaker("a").force_open()
    with pytest.raises(AllProvidersUnavailable):
        await c.call(lambda p: p.generate("x"))
    request = rec.request()
    assert request.name == "failover call"
    assert attributes(request)["error.type"] == "failover.errors.AllProvidersUnavailable"
    assert rec.attempts() == []


@pytest.mark.asyncio
async def test_a_bad_request_ends_both_spans_with_its_type(rec: Recorder) -> None:
    c, _ = coordinator(
        script("a", BadRequest("too long", provider="a")), answers("b"), telemetry=rec.telemetry()
    )
    with pytest.raises(BadRequest):
        await c.generate("x")
    (attempt,) = rec.attempts()
    assert attributes(rec.request())["error.type"] == "failover.errors.BadRequest"
    assert attributes(attempt)["error.type"] == "failover.errors.BadRequest"


@pytest.mark.asyncio
async def test_a_fallback_is_an_event_and_its_attempt_says_so(rec: Recorder) -> None:
    c, _ = coordinator(
        down("a"), fallback=[answers("basic")], telemetry=rec.telemetry(), policy=QUIET
    )
    c.breaker("a").force_open()
    assert (await c.generate("x")).provider == "basic"
    assert rec.events("failover.fallback") == [
        ("failover.fallback", {"failover.provider.name": "basic"})
    ]
    (attempt,) = rec.attempts()
    assert attributes(attempt)["failover.provider.fallback"] is True


@pytest.mark.asyncio
async def test_all_down_probe_is_an_event(rec: Recorder) -> None:
    c, _ = coordinator(answers("a"), telemetry=rec.telemetry(), all_down="probe")
    breaker = c.breaker("a")
    while breaker.state.value == "closed":
        with pytest.raises(Unavailable):
            breaker.call(down_now)
    assert (await c.generate("x")).provider == "a"
    assert rec.events("failover.probe") == [("failover.probe", {"failover.provider.name": "a"})]


def down_now() -> None:
    raise Unavailable("503", provider="a")


@pytest.mark.asyncio
async def test_a_hedge_is_an_event_and_the_loser_s_span_is_cancelled(rec: Recorder) -> None:
    clock = ManualClock()
    slow, fast = Slow(clock, "a", 10.0), Slow(clock, "b", 0.5)
    c, _ = coordinator(
        slow.provider,
        fast.provider,
        clock=clock,
        telemetry=rec.telemetry(),
        hedge_after=1.0,
        strategy="priority",
        priorities={"a": 2, "b": 1},
    )
    assert (await drive(clock, c.generate("x"))).provider == "b"
    assert rec.events("failover.hedge") == [("failover.hedge", {"failover.provider.name": "b"})]
    loser, winner = rec.attempts()
    assert attributes(loser)["failover.cancelled"] is True
    assert "error.type" not in attributes(loser)
    assert attributes(winner)["failover.provider.name"] == "b"
    assert attributes(rec.request())["failover.provider.name"] == "b"


# --- context ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_spans_nest_under_the_caller_and_the_attempt_is_current_in_the_provider(
    rec: Recorder,
) -> None:
    seen: list[trace.Span] = []

    def handler(request: ScriptedRequest) -> str:
        seen.append(trace.get_current_span())
        return "ok"

    c, _ = coordinator(ScriptedProvider("a", handler), telemetry=rec.telemetry())
    tracer = rec.tracer_provider.get_tracer("caller")
    with tracer.start_as_current_span("handle request") as outer:
        await c.generate("x")
    request = next(s for s in rec.spans() if s.name == "failover generate")
    assert request.parent is not None
    assert request.parent.span_id == outer.get_span_context().span_id
    (attempt,) = [s for s in rec.spans() if s.name == "chat scripted"]
    assert seen[0].get_span_context().span_id == attempt.context.span_id


# --- streams ----------------------------------------------------------------------------------


def _streaming(name: str, *chunks: str, error: Exception | None = None) -> ScriptedProvider:
    async def body() -> AsyncIterator[str]:
        for chunk in chunks:
            yield chunk
        if error is not None:
            raise error

    return ScriptedProvider(name, lambda request: body())


@pytest.mark.asyncio
async def test_a_stream_fails_over_before_its_first_chunk(rec: Recorder) -> None:
    c, _ = coordinator(down("a"), _streaming("b", "he", "llo"), telemetry=rec.telemetry())
    stream = c.stream("x")
    assert await stream.__anext__() == "he"
    assert [s.name for s in rec.spans()] == ["chat scripted"]  # a's: b's ends with the stream
    assert [chunk async for chunk in stream] == ["llo"]
    request = rec.request()
    assert (request.name, request.status.status_code) == ("failover stream", StatusCode.UNSET)
    assert attributes(request)["failover.provider.name"] == "b"
    first, second = rec.attempts()
    assert attributes(first)["error.type"] == UNAVAILABLE
    assert second.status.status_code is StatusCode.UNSET
    assert attributes(second)["failover.provider.name"] == "b"


@pytest.mark.asyncio
async def test_a_stream_that_breaks_after_its_first_chunk_is_an_error(rec: Recorder) -> None:
    broken = _streaming("a", "he", error=Unavailable("reset", provider="a"))
    c, _ = coordinator(broken, telemetry=rec.telemetry())
    received: list[str] = []

    async def read() -> None:
        async for chunk in c.stream("x"):
            received.append(chunk)

    with pytest.raises(StreamInterrupted):
        await read()
    assert received == ["he"]
    assert attributes(rec.request())["error.type"] == "failover.errors.StreamInterrupted"
    (attempt,) = rec.attempts()
    assert attributes(attempt)["error.type"] == UNAVAILABLE


@pytest.mark.asyncio
async def test_a_stream_the_caller_stops_reading_is_cancelled_not_failed(rec: Recorder) -> None:
    c, _ = coordinator(_streaming("a", "1", "2", "3"), telemetry=rec.telemetry())
    stream = c.stream("x")
    assert await stream.__anext__() == "1"
    await stream.aclose()  # type: ignore[attr-defined]
    request = rec.request()
    assert attributes(request)["failover.cancelled"] is True
    assert request.status.status_code is StatusCode.UNSET
    (attempt,) = rec.attempts()
    assert attributes(attempt)["failover.cancelled"] is True
    assert c.breaker("a").statistics().calls == 0  # IGNORED, as without tracing


@pytest.mark.asyncio
async def test_an_empty_stream_answers(rec: Recorder) -> None:
    c, _ = coordinator(_streaming("a"), telemetry=rec.telemetry())
    assert [chunk async for chunk in c.stream("x")] == []
    assert rec.request().status.status_code is StatusCode.UNSET
    assert len(rec.attempts()) == 1


@pytest.mark.asyncio
async def test_search_makes_a_search_span(rec: Recorder) -> None:
    c, _ = coordinator(down("a"), answers("b"), telemetry=rec.telemetry())
    assert (await c.search("q")).provider == "b"
    assert rec.request().name == "failover search"
    assert [s.name for s in rec.attempts()] == ["search a", "search b"]


@pytest.mark.asyncio
async def test_tracing_keeps_the_requests_as_they_are(rec: Recorder) -> None:
    outcomes = [Unavailable("503", provider="a"), "a", Unavailable("503", provider="a"), "a"]
    plain, plain_clock = coordinator(script("a", *outcomes), answers("b"), retry=RetryPolicy())
    traced, traced_clock = coordinator(
        script("a", *outcomes), answers("b"), retry=RetryPolicy(), telemetry=rec.telemetry()
    )
    for _ in range(4):
        one = await drive(plain_clock, plain.generate("x"))
        two = await drive(traced_clock, traced.generate("x"))
        assert one == two
    assert plain.status() == traced.status()
