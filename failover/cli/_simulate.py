"""``failover simulate``: run a scenario (the bundled one by default) and report it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from failover._config.policy_format import policy_file
from failover.cli._args import ascii_int
from failover.cli._errors import CommandError
from failover.cli._render import Output, Table, fmt_percent, fmt_seconds
from failover.simulation import (
    Scenario,
    SimulationReport,
    load_scenario,
    policy_from_toml,
    simulate,
)
from statemachines import BreakerPolicy, BreakerState

__all__ = ["add_parser", "run"]

_STATE_ORDER = [s.value for s in BreakerState]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``simulate`` subcommand's arguments."""
    parser = commands.add_parser(
        "simulate",
        help="replay an outage scenario against a policy on a virtual clock",
        description="Run a scenario (the bundled default one when none is given) through the "
        "real Coordinator and breakers on a virtual clock, and report what happened.",
    )
    parser.add_argument("scenario", nargs="?", type=Path, help="a scenario TOML file")
    parser.add_argument(
        "--policy",
        type=policy_file,
        help="a policy TOML file (or an example policy's name) to run instead of the scenario's",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        type=policy_file,
        metavar=("POLICY_A", "POLICY_B"),
        help="run two policy files on the same seed and show them side by side",
    )
    parser.add_argument("--seed", type=ascii_int, help="the seed (default: the scenario's)")
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="PNG",
        help="draw each provider's states and outcomes over time to this file",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--details", action="store_true", help="with --json: every request and attempt too"
    )


def run(args: argparse.Namespace, out: Output) -> int:
    """Run the command; the exit code (bad input raises InputFileError, exit code 2)."""
    scenario = load_scenario(args.scenario)
    if args.compare and args.policy:
        raise _usage("give either --policy or --compare, not both")
    runs: list[tuple[str, BreakerPolicy | None]] = [("scenario", None)]
    if args.policy is not None:
        runs = [(str(args.policy), policy_from_toml(args.policy))]
    if args.compare:
        runs = [(str(path), policy_from_toml(path)) for path in args.compare]
    if args.plot is not None:
        _check_plot(args.plot)
    reports = [_run(scenario, policy, args.seed, label, out) for label, policy in runs]
    if args.plot is not None:
        from failover.cli._plot import write_timeline

        write_timeline(reports, args.plot)
    if args.json:
        data = [r.to_json(details=args.details) for r in reports]
        out.json(data[0] if len(data) == 1 else {"compare": data})
    elif len(reports) == 1:
        show_report(reports[0], out)
    else:
        show_comparison(reports, out)
    if args.plot is not None and not args.json:
        out.line(f"timeline written to {args.plot}")
    return 0


def _usage(message: str) -> CommandError:
    return CommandError(message)


def _check_plot(path: Path) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # pragma: no cover - matplotlib comes with the cli extra
        raise _usage("--plot needs matplotlib: pip install 'failover[cli]'") from None
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise _usage(f"--plot {str(path)!r}: give a .png, .svg or .pdf file name")
    if not path.parent.is_dir():
        raise _usage(f"--plot {str(path)!r}: the folder {str(path.parent)!r} does not exist")


def _run(
    scenario: Scenario, policy: BreakerPolicy | None, seed: int | None, label: str, out: Output
) -> SimulationReport:
    duration = scenario.arrivals.duration
    with out.progress(f"simulating {label}", duration) as update:
        return simulate(
            scenario,
            policy,
            seed,
            label=label,
            progress=(None if update is None else lambda now, _: update(now)),
        )


# --- rendering ----------------------------------------------------------------------------------


def show_report(report: SimulationReport, out: Output) -> None:
    """The timeline, the per-provider table and the headline figures of one run."""
    out.line(f"scenario: {report.scenario}")
    out.line(f"policy: {report.policy}; seed {report.seed}; simulated {report.end:.1f} s")
    out.line()
    out.table(timeline_table(report))
    out.line()
    out.table(providers_table(report))
    out.line()
    out.table(summary_table([report]))


def show_comparison(reports: Sequence[SimulationReport], out: Output) -> None:
    """Each run's per-provider table, then the headline figures side by side."""
    out.line(f"scenario: {reports[0].scenario}; seed {reports[0].seed}")
    for report in reports:
        out.line()
        out.table(providers_table(report, title=f"Providers under {report.policy}"))
    out.line()
    out.table(summary_table(reports))


def timeline_table(report: SimulationReport) -> Table:
    """One row per FailoverEvent."""
    rows = tuple(
        (f"{e.at:.3f}", e.provider, f"{e.source.value} -> {e.dest.value}", e.reason.value)
        for e in report.events
    )
    title = f"Timeline: {len(rows)} transition{'' if len(rows) == 1 else 's'}"
    return Table(title, ("t (s)", "provider", "transition", "reason"), rows, frozenset({0}))


def providers_table(report: SimulationReport, *, title: str = "Providers") -> Table:
    """Attempts, success rate, probes and time in each state, per provider."""
    seen = {s for p in report.providers for s in p.time_in_state}
    states = [s for s in _STATE_ORDER if s in seen] + sorted(seen - set(_STATE_ORDER))
    headers = ("provider", "attempts", "success", "probes", *(f"{s} (s)" for s in states))
    rows = tuple(
        (
            p.name,
            str(p.attempts),
            fmt_percent(p.success_rate),
            str(p.probes),
            *(f"{p.time_in_state.get(s, 0.0):.1f}" for s in states),
        )
        for p in report.providers
    )
    return Table(title, headers, rows, frozenset(range(1, len(headers))))


def summary_table(reports: Sequence[SimulationReport]) -> Table:
    """The headline figures, one column per run."""
    figures = [r.summary() for r in reports]
    total = [f["requests"] for f in figures]

    def share(count: int, of: int) -> str:
        return f"{count} ({fmt_percent(count / of if of else None)})"

    rows = [
        ("requests", *(str(t) for t in total)),
        ("succeeded", *(share(f["succeeded"], t) for f, t in zip(figures, total, strict=True))),
        ("failed (all attempts)", *(str(f["failed"]) for f in figures)),
        ("unavailable (no attempt)", *(str(f["unavailable"]) for f in figures)),
        (
            "reached a failing provider",
            *(share(f["reached_failing_provider"], t) for f, t in zip(figures, total, strict=True)),
        ),
        ("added latency p50", *(fmt_seconds(f["added_latency_p50"]) for f in figures)),
        ("added latency p99", *(fmt_seconds(f["added_latency_p99"]) for f in figures)),
        ("transitions", *(str(f["transitions"]) for f in figures)),
    ]
    headers = ("figure", *(r.policy for r in reports)) if len(reports) > 1 else ("figure", "value")
    return Table("Summary", headers, tuple(rows), frozenset(range(1, len(headers))))
