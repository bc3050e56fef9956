"""Every JSON the library writes is strict JSON: no NaN, Infinity or -Infinity, which strict
parsers reject. Checked for each writer (status_to_json, event_to_json, the JSON lines hook,
the CLI's --json output) with records carrying the extreme values: a breaker opened by a huge
Retry-After, and, for the writers that take any data, floats that are not finite."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import (
    MAX_RETRY_AFTER,
    BreakerState,
    CircuitBreaker,
    ManualClock,
    RateLimited,
    status_to_json,
)
from failover._base.json import dumps
from failover.cli import main
from failover.cli._render import Output
from failover.telemetry import JsonLinesHook
from statemachines import FailoverEvent, FailoverReason, converter, event_to_json
from tests.failover.coordinator.test_coordinator_support import answers, coordinator, down

HUGE = [10**12, "1" * 400, 10**400, 1e308, math.inf, math.nan, "soon"]
S = BreakerState


def strict(text: str) -> Any:
    """``json.loads`` that rejects NaN, Infinity and -Infinity."""

    def refuse(name: str) -> Any:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def numbers(data: Any) -> list[float]:
    """Every float in parsed JSON."""
    if isinstance(data, float):
        return [data]
    if isinstance(data, dict):
        return [n for value in data.values() for n in numbers(value)]
    if isinstance(data, list):
        return [n for value in data for n in numbers(value)]
    return []


def extreme_event() -> FailoverEvent:
    """An event built by hand with figures no machine writes."""
    details = {"retry_after": math.inf, "deadline": -math.inf, "rate": math.nan, "calls": 3}
    return FailoverEvent("p", 1, S.CLOSED, S.OPEN, FailoverReason.RATE_LIMITED, 0.0, 1, details)


# --- the breaker's records: status and events -------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("retry_after", HUGE, ids=lambda v: type(v).__name__ + str(v)[:12])
async def test_status_and_events_of_a_breaker_opened_by_a_huge_retry_after_are_strict(
    retry_after: object,
) -> None:
    error = RateLimited("429", provider="limited", retry_after=retry_after)  # type: ignore[arg-type]
    c, _ = coordinator(down("limited", lambda _: error), answers("backup"), strategy="priority")
    assert (await c.generate("hi")).provider == "backup"
    status = strict(status_to_json(c.status()))
    (limited, _) = status["providers"]
    assert limited["state"] == "open"
    assert 0.0 < limited["retry_at"] <= MAX_RETRY_AFTER
    assert all(math.isfinite(n) for n in numbers(status))
    (event,) = c.breaker("limited").events
    line = strict(event_to_json(event))
    assert line["details"]["retry_after"] == error.retry_after
    assert math.isfinite(line["details"]["deadline"])
    await c.aclose()


# --- the JSON lines hook ----------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", HUGE, ids=lambda v: type(v).__name__ + str(v)[:12])
def test_the_json_lines_hook_writes_strict_lines(retry_after: object) -> None:
    stream = io.StringIO()
    breaker = CircuitBreaker("p", clock=ManualClock(), hooks=[JsonLinesHook(stream)])
    with pytest.raises(RateLimited):
        breaker.call(lambda: (_ for _ in ()).throw(RateLimited("429", retry_after=retry_after)))  # type: ignore[arg-type]
    breaker.reset()
    lines = stream.getvalue().splitlines()
    assert [strict(line)["dest"] for line in lines] == ["open", "closed"]
    assert lines == [event_to_json(e) for e in breaker.events]  # the same text as the core's


def test_the_json_lines_hook_writes_a_non_finite_figure_as_null() -> None:
    stream = io.StringIO()
    JsonLinesHook(stream).on_transition(extreme_event())
    details = strict(stream.getvalue())["details"]
    assert details == {"retry_after": None, "deadline": None, "rate": None, "calls": 3}


# --- the CLI's --json -------------------------------------------------------------------------

SCENARIO = """
name = "a 429 asking for 10**12 seconds"
seed = 1
strategy = "priority"
[arrivals]
rate = 1.0
duration = 60
[retry]
max_attempts = 2
[policy]
[[providers]]
name = "limited"
priority = 2
latency = 0.1
rate_limit_bursts = [{ start = 10, end = 20, retry_after = 1e12 }]
[[providers]]
name = "backup"
priority = 1
latency = 0.2
"""


def test_simulate_json_of_a_huge_retry_after_is_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    assert main(["simulate", str(path), "--json", "--details"]) == 0
    report = strict(capsys.readouterr().out)
    (opened,) = report["events"]
    assert (opened["provider"], opened["dest"]) == ("limited", "open")
    assert opened["details"]["retry_after"] == MAX_RETRY_AFTER
    assert opened["details"]["deadline"] <= opened["at"] + MAX_RETRY_AFTER
    assert all(math.isfinite(n) for n in numbers(report))


def test_the_cli_writers_write_non_finite_floats_as_null() -> None:
    stream = io.StringIO()
    out = Output(stream, rich=False)
    out.json({"latency": math.inf, "rates": [math.nan, 0.5, -math.inf], "ok": (1, 2.5)})
    out.json_line(converter.unstructure(extreme_event()))  # `failover events --json`
    first, second = stream.getvalue().split("\n}\n")
    assert strict(first + "}") == {"latency": None, "rates": [None, 0.5, None], "ok": [1, 2.5]}
    assert strict(second)["details"]["retry_after"] is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5) | st.floats(), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_strict_dumps_is_json_dumps_with_null_for_each_non_finite_float(data: Any) -> None:
    lenient = json.loads(json.dumps(data), parse_constant=lambda name: None)
    assert strict(dumps(data)) == lenient
