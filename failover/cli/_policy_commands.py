"""``failover verify`` and ``failover diagram``: a policy file checked, or drawn."""

from __future__ import annotations

import argparse
from pathlib import Path

from failover._config.policy_format import policy_file
from failover.cli._render import Output, Table
from failover.simulation import policy_from_toml
from statemachines import VerificationReport, to_mermaid, verify_policy

__all__ = ["add_parsers", "diagram", "verify"]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``verify`` and ``diagram`` subcommands' arguments."""
    parser = commands.add_parser(
        "verify",
        help="check a policy file for defects (exit code 1 if any)",
        description="Explore a policy's machine exhaustively (statemachines.verify_policy) and "
        "report unreachable states, states with no way back, ambiguous transitions, states "
        "without health, transitions that never fire and conditions that raise.",
    )
    parser.add_argument(
        "policy",
        type=policy_file,
        help="a policy TOML file ([policy] table), or the name of an example policy",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser = commands.add_parser(
        "diagram",
        help="print a policy's state machine as a Mermaid diagram",
        description="Print the policy's machine as a Mermaid stateDiagram-v2 "
        "(statemachines.to_mermaid).",
    )
    parser.add_argument(
        "policy",
        type=policy_file,
        help="a policy TOML file ([policy] table), or the name of an example policy",
    )
    parser.add_argument("--output", type=Path, help="write the diagram to this file instead")
    parser.add_argument("--json", action="store_true", help="print {policy, mermaid} as JSON")


def verify(args: argparse.Namespace, out: Output) -> int:
    """0 when the policy verifies clean, 1 when it has defects."""
    report = verify_policy(policy_from_toml(args.policy))
    if args.json:
        out.json(report_json(str(args.policy), report))
    elif report.ok:
        out.line(f"{args.policy}: {report}")
    else:
        rows = tuple((d.kind.name, d.message) for d in report.defects)
        count = len(rows)
        title = f"{args.policy}: {count} defect{'' if count == 1 else 's'}"
        out.table(Table(title, ("defect", "what is wrong, and what to do"), rows))
    return 0 if report.ok else 1


def report_json(policy: str, report: VerificationReport) -> dict[str, object]:
    """A verification report as JSON-ready data."""
    return {
        "policy": policy,
        "ok": report.ok,
        "samples": report.samples,
        "reachable": [s.value for s in report.reachable],
        "defects": [
            {
                "kind": d.kind.value,
                "message": d.message,
                "states": list(d.states),
                "transitions": list(d.transitions),
            }
            for d in report.defects
        ],
    }


def diagram(args: argparse.Namespace, out: Output) -> int:
    """Print (or write) the Mermaid text; 0."""
    text = to_mermaid(policy_from_toml(args.policy))
    if args.output is not None:
        args.output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    if args.json:
        out.json({"policy": str(args.policy), "mermaid": text})
    elif args.output is None:
        out.line(text.rstrip("\n"))
    else:
        out.line(f"diagram written to {args.output}")
    return 0
