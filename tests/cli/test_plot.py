"""``--plot``: the bands drawn are the bands computed from the event log, and those match
replaying the events."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover.cli import main
from failover.cli._plot import draw_timeline, drawn_bands
from failover.simulation import (
    Band,
    SimulationReport,
    load_scenario,
    scenario_from_mapping,
    simulate,
    state_bands,
)
from statemachines import BreakerPolicy, BreakerState, FailoverEvent, FailoverReason, replay

POLICY = BreakerPolicy(open_duration=3.0, max_open_duration=20.0, open_jitter=0.0)


def assert_bands_replay(report: SimulationReport, policy: BreakerPolicy) -> None:
    """Each provider's bands are contiguous over [0, end), and each band's state is what
    replaying the events up to its start gives; each boundary is an event's time."""
    for name, bands in report.bands().items():
        events = [e for e in report.events if e.provider == name]
        assert bands[0].start == 0.0
        assert bands[-1].end == report.end
        assert all(a.end == b.start for a, b in itertools.pairwise(bands))
        assert all(b.length > 0 for b in bands)
        times = {e.at for e in events}
        for band in bands:
            before = [e for e in events if e.at <= band.start]
            assert replay(before, policy).value == band.state
            assert band.start == 0.0 or band.start in times


def windows(draw: Any, horizon: float) -> list[dict[str, float]]:
    found = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(st.floats(0, horizon - 1, allow_nan=False))
        length = draw(st.floats(0.5, horizon / 2, allow_nan=False))
        found.append({"start": start, "end": start + length})
    return found


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    """Small scenarios (30 s, two or three providers) with random fault schedules."""
    providers = []
    for index in range(draw(st.integers(2, 3))):
        spec: dict[str, Any] = {
            "name": f"p{index}",
            "priority": draw(st.integers(0, 3)),
            "error_rate": draw(st.sampled_from([0.0, 0.1, 0.5])),
            "latency": {
                "dist": "lognormal",
                "median": 0.2,
                "p99": draw(st.sampled_from([0.5, 3.0])),
            },
            "outages": [
                {**w, "mode": draw(st.sampled_from(["error", "timeout"]))}
                for w in windows(draw, 30.0)
            ],
            "rate_limit_bursts": [{**w, "retry_after": 4.0} for w in windows(draw, 30.0)],
        }
        if draw(st.booleans()):
            spec["quota"] = {"per_minute": draw(st.integers(5, 40))}
        providers.append(spec)
    return {
        "seed": draw(st.integers(0, 2**32)),
        "strategy": draw(st.sampled_from(["priority", "success_rate", "round_robin"])),
        "arrivals": {"rate": draw(st.sampled_from([1.0, 3.0])), "duration": 30.0},
        "retry": {"attempt_timeout": 2.0, "initial_backoff": 0.2, "request_timeout": 6.0},
        "providers": providers,
    }


# Each example runs a whole simulation (~60 ms): at most 200 of them, also under the ci profile.
@settings(max_examples=min(settings.default.max_examples, 200))
@given(scenarios())
def test_bands_match_replaying_the_events(data: dict[str, Any]) -> None:
    report = simulate(scenario_from_mapping(data), POLICY)
    assert_bands_replay(report, POLICY)


def test_default_scenario_bands_match_the_events_and_the_drawing() -> None:
    report = simulate(load_scenario())
    assert_bands_replay(report, BreakerPolicy())
    drawn = drawn_bands(draw_timeline([report]))
    bands = report.bands()
    assert set(drawn) == set(bands)
    for name, segments in drawn.items():
        flat = [x for segment in segments for x in segment]
        assert flat == pytest.approx([x for b in bands[name] for x in (b.start, b.end)])


def event(seq: int, at: float, source: BreakerState, dest: BreakerState) -> FailoverEvent:
    return FailoverEvent("p", seq, source, dest, FailoverReason.MANUAL, at, seq)


def test_state_bands_from_events() -> None:
    events = [
        event(1, 10.0, BreakerState.CLOSED, BreakerState.OPEN),
        event(2, 40.0, BreakerState.OPEN, BreakerState.HALF_OPEN),
        event(3, 40.0, BreakerState.HALF_OPEN, BreakerState.OPEN),  # instant: no band
        event(4, 70.0, BreakerState.OPEN, BreakerState.CLOSED),
    ]
    assert state_bands(reversed(events), ["p", "q"], 100.0) == {
        "p": (
            Band("p", "closed", 0.0, 10.0),
            Band("p", "open", 10.0, 40.0),
            Band("p", "open", 40.0, 70.0),
            Band("p", "closed", 70.0, 100.0),
        ),
        "q": (Band("q", "closed", 0.0, 100.0),),
    }


def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "timeline.png"
    assert main(["simulate", "--plot", str(path)]) == 0
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"timeline written to {path}" in capsys.readouterr().out


def test_compare_plot_has_a_panel_per_policy(tmp_path: Path) -> None:
    report = simulate(load_scenario())
    figure = draw_timeline([report, report])
    assert len(figure.axes) == 2


@pytest.mark.parametrize(
    ("name", "message"),
    [("timeline.txt", "give a .png, .svg or .pdf"), ("nowhere/timeline.png", "does not exist")],
)
def test_bad_plot_path_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    assert main(["simulate", "--plot", str(tmp_path / name)]) == 2
    assert message in capsys.readouterr().err
