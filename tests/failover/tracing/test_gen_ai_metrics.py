"""failover.tracing's gen_ai client metrics: gen_ai.client.operation.duration and
gen_ai.client.token.usage per attempt at an LLM provider, with the semconv attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from failover import LLMResponse, ManualClock, Unavailable, Usage
from failover._tracing.attrs import DURATION_BUCKETS, TOKEN_BUCKETS, error_type, slot_info
from failover.lifecycle import _coordinator
from failover.settings import FailoverSettings
from failover.testing import ScriptedProvider, ScriptedRequest
from failover.tracing import CoordinatorTelemetry
from providers.gemini import GeminiProvider
from providers.openai import OpenAICompatibleProvider
from tests.failover.coordinator.test_coordinator_support import (
    answers,
    coordinator,
    down,
    drive,
    script,
)
from tests.failover.tracing.test_tracing_support import Recorder, attributes

DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def _slow(clock: ManualClock, name: str, seconds: float, answer: object) -> ScriptedProvider:
    """A provider that answers ``answer`` (or raises it) after ``seconds`` on ``clock``."""

    async def handler(request: ScriptedRequest) -> object:
        await clock.sleep(seconds)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return ScriptedProvider(name, handler, model="m-req")


@pytest.mark.asyncio
async def test_each_attempt_records_its_duration_and_the_answer_its_tokens(rec: Recorder) -> None:
    clock = ManualClock()
    answer = LLMResponse("hi", "b", "m-resp", Usage(12, 34, 46), "stop")
    a = _slow(clock, "a", 0.25, Unavailable("503", provider="a"))
    b = _slow(clock, "b", 1.5, answer)
    c, _ = coordinator(a, b, clock=clock, telemetry=rec.telemetry(spans=False))
    assert (await drive(clock, c.generate("x"))).provider == "b"
    base = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m-req"}
    durations = {
        tuple(sorted(p.attributes.items())): (p.count, p.sum) for p in rec.points(DURATION)
    }
    failed = {**base, "gen_ai.provider.name": "a", "error.type": "failover.errors.Unavailable"}
    answered = {**base, "gen_ai.provider.name": "b", "gen_ai.response.model": "m-resp"}
    assert durations == {
        tuple(sorted(failed.items())): (1, 0.25),
        tuple(sorted(answered.items())): (1, 1.5),
    }
    tokens = {
        p.attributes["gen_ai.token.type"]: (p.sum, dict(p.attributes)) for p in rec.points(TOKENS)
    }
    assert tokens == {
        "input": (12, {**answered, "gen_ai.token.type": "input"}),
        "output": (34, {**answered, "gen_ai.token.type": "output"}),
    }
    assert rec.spans() == []  # spans=False


@pytest.mark.asyncio
async def test_the_histograms_have_the_semconv_units_and_buckets(rec: Recorder) -> None:
    answer = LLMResponse("hi", "a", "m", Usage(1, 2, 3))
    c, _ = coordinator(script("a", answer), telemetry=rec.telemetry())
    await c.generate("x")
    data = rec.reader.get_metrics_data()
    assert data is not None
    found = {
        m.name: (m.unit, tuple(m.data.data_points[0].explicit_bounds))
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
    }
    assert found == {DURATION: ("s", DURATION_BUCKETS), TOKENS: ("{token}", TOKEN_BUCKETS)}
    assert DURATION_BUCKETS[0] == 0.01
    assert DURATION_BUCKETS[-1] == pytest.approx(81.92)
    assert TOKEN_BUCKETS[-1] == 67108864


@pytest.mark.asyncio
async def test_an_answer_without_usage_records_no_tokens(rec: Recorder) -> None:
    c, _ = coordinator(answers("a"), telemetry=rec.telemetry())
    await c.generate("x")
    assert len(rec.points(DURATION)) == 1
    assert rec.points(TOKENS) == []
    (attempt,) = rec.attempts()
    assert "gen_ai.usage.input_tokens" not in attributes(attempt)


@pytest.mark.asyncio
async def test_the_attempt_span_carries_the_usage_and_finish_reason(rec: Recorder) -> None:
    answer = LLMResponse("hi", "a", "m-resp", Usage(5, 7, 12), "length")
    c, _ = coordinator(script("a", answer), telemetry=rec.telemetry())
    await c.generate("x")
    (attempt,) = rec.attempts()
    found = attributes(attempt)
    assert found["gen_ai.usage.input_tokens"] == 5
    assert found["gen_ai.usage.output_tokens"] == 7
    assert found["gen_ai.response.finish_reasons"] == ("length",)
    assert found["gen_ai.response.model"] == "m-resp"


@pytest.mark.asyncio
async def test_search_and_call_record_no_gen_ai_metrics(rec: Recorder) -> None:
    c, _ = coordinator(down("a"), answers("b"), telemetry=rec.telemetry())
    await c.search("q")

    async def fn(provider: ScriptedProvider) -> str:
        return "ok"

    await c.call(fn)
    assert rec.metric_names() == set()


@pytest.mark.asyncio
async def test_a_stream_records_its_whole_duration_and_metrics_only(rec: Recorder) -> None:
    clock = ManualClock()

    async def body() -> AsyncIterator[str]:
        yield "he"
        await clock.sleep(2.0)
        yield "llo"

    async def handler(request: ScriptedRequest) -> AsyncIterator[str]:
        await clock.sleep(0.5)
        return body()

    c, _ = coordinator(
        ScriptedProvider("a", handler), clock=clock, telemetry=rec.telemetry(spans=False)
    )

    async def read() -> list[str]:
        return [chunk async for chunk in c.stream("x")]

    assert await drive(clock, read()) == ["he", "llo"]
    (point,) = rec.points(DURATION)
    assert (point.count, point.sum) == (1, 2.5)
    assert "error.type" not in point.attributes
    assert rec.spans() == []


@pytest.mark.asyncio
async def test_metrics_off_records_spans_only(rec: Recorder) -> None:
    answer = LLMResponse("hi", "a", "m", Usage(1, 2, 3))
    c, _ = coordinator(script("a", answer), telemetry=rec.telemetry(gen_ai_metrics=False))
    await c.generate("x")
    assert rec.metric_names() == set()
    assert len(rec.spans()) == 2


# --- provider names -----------------------------------------------------------------------------


def _info(provider: object) -> dict[str, str]:
    return dict(slot_info(getattr(provider, "name", "p"), provider, True, False).gen_ai)


def test_the_built_in_providers_have_semconv_provider_names() -> None:
    gemini = GeminiProvider("key", "gemini-2.0-flash", name="g")
    openai = OpenAICompatibleProvider("https://api.example.com/v1", "key", "gpt-4o", name="o")
    assert _info(gemini) == {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": "gemini-2.0-flash",
    }
    assert _info(openai) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
    }


def test_a_provider_may_name_itself_and_is_named_by_its_name_otherwise() -> None:
    own = ScriptedProvider("mine", lambda request: "x", model="claude")
    own.gen_ai_provider_name = "anthropic"  # type: ignore[attr-defined]
    assert _info(own)["gen_ai.provider.name"] == "anthropic"
    assert _info(ScriptedProvider("local", lambda request: "x"))["gen_ai.provider.name"] == "local"


@pytest.mark.asyncio
async def test_a_gemini_attempt_span_is_named_generate_content_and_its_model(
    rec: Recorder,
) -> None:
    provider = ScriptedProvider("g", lambda request: "hi", model="gemini-2.0-flash")
    provider.gen_ai_provider_name = "gcp.gemini"  # type: ignore[attr-defined]
    c, _ = coordinator(provider, telemetry=rec.telemetry())
    await c.generate("x")
    (attempt,) = rec.attempts()
    assert attempt.name == "generate_content gemini-2.0-flash"


def test_error_type_is_the_qualified_class_name() -> None:
    assert error_type(TimeoutError()) == "TimeoutError"
    assert error_type(Unavailable("x", provider="a")) == "failover.errors.Unavailable"


# --- settings -----------------------------------------------------------------------------------


def test_settings_turn_each_part_on() -> None:
    assert CoordinatorTelemetry.from_settings({}) is None
    assert CoordinatorTelemetry.from_settings({"tracing": False}) is None
    tracing = CoordinatorTelemetry.from_settings({"tracing": True})
    assert tracing == CoordinatorTelemetry(spans=True, gen_ai_metrics=False)
    both = CoordinatorTelemetry.from_settings({"tracing": True, "gen_ai_metrics": True})
    assert both == CoordinatorTelemetry()


def test_a_coordinator_built_from_settings_has_the_telemetry_they_ask_for() -> None:
    data = {"providers": [{"name": "a", "kind": "callable"}], "telemetry": {"gen_ai_metrics": True}}
    settings = FailoverSettings.from_mapping(data)
    assert settings.telemetry == {"gen_ai_metrics": True}
    assert FailoverSettings.from_mapping(settings.to_mapping()) == settings
    built = _coordinator(settings, [(settings.providers[0], answers("a"))], None)
    assert built._telemetry is not None
    assert (built._telemetry.config.spans, built._telemetry.config.gen_ai_metrics) == (False, True)
    bare = FailoverSettings.from_mapping({"providers": data["providers"]})
    plain = _coordinator(bare, [(bare.providers[0], answers("a"))], None)
    assert plain._telemetry is None
