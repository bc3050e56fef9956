"""Gemini's wire format, without a network: requests, responses, and every error row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.errors import (
    BadRequest,
    ContentBlocked,
    NotFound,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.provider import Usage
from providers import _gemini_wire as wire
from providers._http import body_excerpt
from providers.testing import gemini as fake

NOON_UTC = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)  # 04:00 Pacific (PST, UTC-8)


def body_of(reply: Any) -> bytes:
    return reply.payload()


def error(reply: Any, **kw: Any) -> ProviderError:
    kw.setdefault("now", NOON_UTC)
    return wire.error_for(reply.status, body_of(reply), provider="gemini", **kw)


# --- requests ------------------------------------------------------------------------------------


def test_a_text_prompt_is_one_user_turn() -> None:
    assert wire.build_request("Hi", {}) == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}]
    }


def test_options_map_into_generation_config_in_either_case() -> None:
    body = wire.build_request("Hi", {"temperature": 0.2, "max_output_tokens": 64, "topK": 3})
    assert body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 64, "topK": 3}


def test_a_mapping_is_sent_as_is_and_options_override_its_config() -> None:
    request = {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"temperature": 1.0, "topP": 0.9},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    body = wire.build_request(request, {"temperature": 0.0})
    assert body["generationConfig"] == {"temperature": 0.0, "topP": 0.9}
    assert body["systemInstruction"] == request["systemInstruction"]
    assert body["safetySettings"] == request["safetySettings"]
    assert request["generationConfig"] == {"temperature": 1.0, "topP": 0.9}  # not mutated


@pytest.mark.parametrize(
    ("prompt", "options", "names"),
    [
        ("Hi", {"temprature": 1}, "temprature"),
        ({"contents": [], "system_instruction": {}}, {}, "system_instruction"),
        ({"systemInstruction": {}}, {}, "contents"),
        (42, {}, "int"),
    ],
)
def test_a_malformed_request_is_a_bad_request_naming_the_culprit(
    prompt: Any, options: dict[str, Any], names: str
) -> None:
    with pytest.raises(BadRequest, match=names):
        wire.build_request(prompt, options)


@given(st.text())
def test_estimate_is_four_characters_per_token_rounded_up(text: str) -> None:
    tokens = wire.estimate_tokens(text)
    assert 4 * (tokens - 1) < len(text) <= 4 * tokens or (text == "" and tokens == 0)


# --- responses -----------------------------------------------------------------------------------


def test_text_usage_and_finish_of_a_response() -> None:
    data = fake.response_body("Hello", usage=(3, 4))
    assert wire.response_text(data, "gemini") == "Hello"
    assert wire.usage_of(data) == Usage(3, 4, 7)
    assert wire.finish_reason(data) == "stop"


def test_thought_parts_are_left_out_and_thinking_tokens_count_as_output() -> None:
    data = fake.response_body("answer")
    data["candidates"][0]["content"]["parts"].insert(0, {"text": "hmm", "thought": True})
    data["usageMetadata"].update(thoughtsTokenCount=10, totalTokenCount=22)
    assert wire.response_text(data, "gemini") == "answer"
    assert wire.usage_of(data) == Usage(5, 17, 22)


def test_no_usage_is_zeros_and_left_out_counts_are_zero() -> None:
    data = fake.response_body("answer")
    data["usageMetadata"] = None
    assert wire.usage_of(data) is None
    assert wire.llm_response(data, "gemini", "m", 0.1).usage == Usage()
    data["usageMetadata"] = {"candidatesTokenCount": 3}
    assert wire.usage_of(data) == Usage(0, 3, 3)


@pytest.mark.parametrize(
    "meta",
    [
        [],
        "many",
        {"promptTokenCount": "12x"},
        {"promptTokenCount": "many"},
        {"totalTokenCount": float("inf")},
        {"candidatesTokenCount": 1.5},
        {"thoughtsTokenCount": True},
        {"promptTokenCount": -1},
        {"promptTokenCount": 10**12 + 1},
    ],
)
def test_usage_that_is_not_counts_makes_the_answer_malformed(meta: object) -> None:
    data = fake.response_body("answer")
    data["usageMetadata"] = meta
    with pytest.raises(Unavailable, match="usageMetadata") as caught:
        wire.llm_response(data, "gemini", "m", 0.1)
    assert caught.value.provider == "gemini"


@pytest.mark.parametrize(
    ("finish", "expected"), [("MAX_TOKENS", "length"), ("OTHER", "other"), (None, None)]
)
def test_finish_reasons_are_named(finish: str | None, expected: str | None) -> None:
    assert wire.finish_reason(fake.response_body("x", finish=finish)) == expected


@pytest.mark.parametrize("reason", ["SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT"])
def test_a_blocked_prompt_is_content_blocked(reason: str) -> None:
    with pytest.raises(ContentBlocked, match=reason):
        wire.response_text(fake.response_body("", block_reason=reason), "gemini")


@pytest.mark.parametrize("finish", sorted(wire.BLOCKED_FINISH_REASONS))
def test_a_safety_family_finish_is_content_blocked(finish: str) -> None:
    with pytest.raises(ContentBlocked, match=finish):
        wire.response_text(fake.response_body("partial", finish=finish), "gemini")


def test_a_response_without_candidates_is_unavailable_unless_a_stream_chunk() -> None:
    data = {"usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 1}}
    with pytest.raises(Unavailable, match="no candidates"):
        wire.response_text(data, "gemini")
    assert wire.response_text(data, "gemini", require=False) == ""


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"[1, 2]", b"", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_unavailable_with_its_first_bytes(body: bytes) -> None:
    with pytest.raises(Unavailable) as caught:
        wire.parse_json(body, "gemini")
    assert body_excerpt(body) in str(caught.value)
    assert caught.value.provider == "gemini"


# --- errors: one test per row --------------------------------------------------------------------


def test_429_with_retry_info_is_rate_limited_for_its_delay() -> None:
    err = error(fake.rate_limited("26s"))
    assert type(err) is RateLimited
    assert (err.retry_after, err.status, err.provider) == (26.0, 429, "gemini")
    assert "RESOURCE_EXHAUSTED" in str(err)


@pytest.mark.parametrize(("said", "seconds"), [("20.5s", 20.5), ("711.87ms", 0.71187)])
def test_429_without_retry_info_reads_the_message(said: str, seconds: float) -> None:
    err = error(fake.rate_limited(None, message_delay=said))
    assert type(err) is RateLimited
    assert err.retry_after == pytest.approx(seconds)


def test_429_retry_info_wins_over_message_and_header() -> None:
    reply = fake.rate_limited("2s", message_delay="9s", retry_after_header="30")
    assert error(reply, retry_after=30.0).retry_after == 2.0


def test_429_with_nothing_else_takes_the_retry_after_header() -> None:
    assert error(fake.rate_limited(None), retry_after=7.0).retry_after == 7.0
    assert error(fake.rate_limited(None)).retry_after is None


def test_429_on_a_daily_quota_is_quota_exhausted_until_midnight_pacific() -> None:
    err = error(fake.rate_limited("26s", per_day=True))
    assert type(err) is QuotaExhausted
    assert err.retry_after == 20 * 3600  # 04:00 PST -> midnight PST


# The reset is asked of the current time: real clock values, not datetime's extreme years (at
# year 1 or 9999 the next Pacific midnight is outside datetime's range).
@given(st.datetimes(datetime(1970, 1, 1), datetime(9000, 12, 31), timezones=st.just(UTC)))
def test_the_daily_reset_is_within_a_day_and_lands_on_pacific_midnight(now: datetime) -> None:
    seconds = wire.seconds_to_daily_reset(now)
    assert 0 < seconds <= 25 * 3600  # a DST day lasts 25 hours
    reset = (now + timedelta(seconds=seconds)).astimezone(wire.ZoneInfo("America/Los_Angeles"))
    assert (reset.hour, reset.minute, reset.second) == (0, 0, 0)


def test_400_api_key_invalid_is_unauthorized() -> None:
    err = error(fake.bad_key())
    assert type(err) is Unauthorized
    assert err.status == 400
    assert "API key not valid" in str(err)


def test_400_failed_precondition_is_unauthorized_so_the_provider_opens() -> None:
    err = error(fake.failed_precondition())
    assert type(err) is Unauthorized
    assert "FAILED_PRECONDITION" in str(err)


def test_400_invalid_argument_is_a_bad_request() -> None:
    assert type(error(fake.invalid_argument())) is BadRequest


@pytest.mark.parametrize(
    ("reply", "cls", "status"),
    [
        (fake.unauthenticated(), Unauthorized, 401),
        (fake.permission_denied(), Unauthorized, 403),
        (fake.not_found(), NotFound, 404),
        (fake.internal(), Unavailable, 500),
        (fake.overloaded(), Unavailable, 503),
        (fake.deadline_exceeded(), ProviderTimeout, 504),
        (fake.html_page(502), Unavailable, 502),
        (fake.html_page(413), BadRequest, 413),
    ],
)
def test_other_statuses(reply: Any, cls: type[ProviderError], status: int) -> None:
    err = error(reply)
    assert type(err) is cls
    assert err.status == status


def test_503_keeps_a_retry_after_header() -> None:
    assert error(fake.overloaded("12"), retry_after=12.0).retry_after == 12.0


def test_an_error_inside_a_json_array_is_read_too() -> None:
    body = json.dumps([fake.error_body(429, "RESOURCE_EXHAUSTED", "x", fake.retry_info("3s"))])
    err = wire.error_for(429, body, provider="gemini")
    assert (type(err), err.retry_after) == (RateLimited, 3.0)


@given(st.sampled_from([400, 401, 403, 404, 408, 429, 500, 502, 503, 504]), st.binary())
def test_any_error_body_gives_a_provider_error(status: int, body: bytes) -> None:
    err = wire.error_for(status, body, provider="gemini", now=NOON_UTC)
    assert isinstance(err, ProviderError)
    assert (err.provider, err.status) == ("gemini", status)


@pytest.mark.parametrize(
    ("text", "seconds"), [("26s", 26.0), ("1.5s", 1.5), ("0.000340s", 0.00034), ("26", None)]
)
def test_parse_delay_reads_json_durations(text: str, seconds: float | None) -> None:
    assert wire.parse_delay(text) == seconds
