"""``--plot``: each provider's breaker states over time as coloured bands, the attempts that
reached it drawn on its band (matplotlib, Agg: no display needed).

The bands drawn are exactly ``SimulationReport.bands()`` (``state_bands`` over the event log);
each provider's band collection carries the gid ``bands:<provider>`` so that a test can read the
drawn segments back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from failover.simulation import AttemptRecord, SimulationReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["STATE_COLOURS", "draw_timeline", "drawn_bands", "write_timeline"]

STATE_COLOURS = {
    "closed": "#a5d6a7",
    "half_open": "#ffe082",
    "open": "#ef9a9a",
    "forced_open": "#b71c1c",
    "disabled": "#cfd8dc",
}
"""The band colour of each built-in state; a policy's own states take ``_CUSTOM`` colours."""
_CUSTOM = ("#ce93d8", "#90caf9", "#ffcc80", "#80cbc4", "#bcaaa4")
_OUTCOMES = {
    "ok": ("#1b5e20", ".", "answered"),
    "error": ("#c62828", "x", "error (503)"),
    "timeout": ("#6a1b9a", "x", "timed out"),
    "rate_limited": ("#e65100", "^", "429 / quota"),
    "quota_exhausted": ("#e65100", "^", "429 / quota"),
}


def colour_of(state: str, custom: list[str]) -> str:
    """A state's band colour (custom states: one of ``_CUSTOM`` each, in order of meeting)."""
    if state in STATE_COLOURS:
        return STATE_COLOURS[state]
    if state not in custom:
        custom.append(state)
    return _CUSTOM[custom.index(state) % len(_CUSTOM)]


def draw_timeline(reports: Sequence[SimulationReport]) -> Figure:
    """A figure with one panel per report, one row per provider."""
    from matplotlib.figure import Figure

    rows = sum(len(r.providers) for r in reports)
    figure = Figure(figsize=(12, 1.0 + 0.9 * rows + 0.6 * len(reports)), layout="constrained")
    axes = figure.subplots(len(reports), 1, squeeze=False, sharex=True)[:, 0]
    custom: list[str] = []
    for ax, report in zip(axes, reports, strict=True):
        _panel(ax, report, custom)
    axes[-1].set_xlabel("simulated time (s)")
    return figure


def _panel(ax: Axes, report: SimulationReport, custom: list[str]) -> None:
    names = [p.name for p in report.providers]
    bands = report.bands()
    seen: dict[str, str] = {}
    for row, name in enumerate(names):
        segments = [(b.start, b.length) for b in bands[name]]
        colours = [colour_of(b.state, custom) for b in bands[name]]
        seen.update({b.state: c for b, c in zip(bands[name], colours, strict=True)})
        collection = ax.broken_barh(segments, (row - 0.4, 0.8), facecolors=colours)
        collection.set_gid(f"bands:{name}")
    _outcomes(ax, report.attempts, names)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(0, report.end)
    ax.set_title(f"{report.scenario} (policy: {report.policy}, seed {report.seed})", loc="left")
    _legend(ax, seen)


def _outcomes(ax: Axes, attempts: Sequence[AttemptRecord], names: list[str]) -> None:
    rows = {name: i for i, name in enumerate(names)}
    for outcome, (colour, marker, label) in _OUTCOMES.items():
        mine = [a for a in attempts if a.outcome == outcome and a.provider in rows]
        if not mine:
            continue
        ys = [rows[a.provider] + (0.15 if outcome == "ok" else -0.15) for a in mine]
        size = 4 if outcome == "ok" else 16
        ax.scatter(
            [a.ended for a in mine],
            ys,
            s=size,
            c=colour,
            marker=marker,
            label=label,
            linewidths=0.8,
            alpha=0.6 if outcome == "ok" else 0.9,
            zorder=3,
        )


def _legend(ax: Axes, states: dict[str, str]) -> None:
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    patches = [Patch(facecolor=colour, label=state) for state, colour in states.items()]
    ax.legend(
        handles=[*patches, *unique.values()],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize="small",
        frameon=False,
    )


def write_timeline(reports: Sequence[SimulationReport], path: Path) -> None:
    """Draw ``reports`` and save the figure to ``path`` (png, svg or pdf by its suffix)."""
    figure = draw_timeline(reports)
    figure.savefig(path, dpi=110)


def drawn_bands(figure: Figure) -> dict[str, list[tuple[float, float]]]:
    """The (start, end) segments drawn for each provider of a single-panel figure."""
    found: dict[str, list[tuple[float, float]]] = {}
    for collection in figure.axes[0].collections:
        gid = collection.get_gid() or ""
        if gid.startswith("bands:"):
            xs = [_xs(path) for path in collection.get_paths()]
            found[gid.removeprefix("bands:")] = [(min(x), max(x)) for x in xs]
    return found


def _xs(path: Any) -> list[float]:
    """The x coordinates of a matplotlib Path's vertices."""
    return [float(vertex[0]) for vertex in path.vertices]
