"""Drive one breaker through trip -> probe -> recover on a manual clock and print its events.

This is ``make demo`` until the outage simulator lands. Time is a plain number advanced by hand:
the pure core never reads a clock, so the run is the same every time (invariant I8).
"""

from __future__ import annotations

from statemachines import (
    BreakerMachine,
    BreakerPolicy,
    FailoverEvent,
    Outcome,
    events_to_jsonl,
    replay,
)


def show(event: FailoverEvent) -> None:
    """Print one transition as a line of the timeline."""
    deadline = event.details.get("deadline")
    until = f"  (until t={deadline:.1f}s)" if isinstance(deadline, float) else ""
    print(
        f"t={event.at:6.1f}s  #{event.seq}  {event.source.value:>9} -> {event.dest.value:<9}"
        f"  {event.reason.value}{until}"
    )


def call(machine: BreakerMachine, now: float, outcome: Outcome) -> None:
    """One call at ``now``: admitted and recorded, or rejected."""
    generation = machine.admit(now)
    if generation is None:
        retry = "" if machine.retry_at is None else f", retry at t={machine.retry_at:.1f}s"
        print(f"t={now:6.1f}s      rejected: {machine.state.value}{retry}")
        return
    machine.record(generation, outcome, now)


def main() -> None:
    """Run the scenario and check that the event log replays to the final state."""
    events: list[FailoverEvent] = []
    policy = BreakerPolicy(open_duration=30.0, open_jitter=0.0, half_open_max_calls=2)
    machine = BreakerMachine("gemini", policy, on_event=lambda e: (events.append(e), show(e)))
    print("gemini: 5 successes, then 3 failures in a row (max_consecutive_failures=3)")
    now = 0.0
    for outcome in [Outcome.SUCCESS] * 5 + [Outcome.FAILURE] * 3:
        call(machine, now, outcome)
        now += 1.0
    call(machine, now, Outcome.SUCCESS)
    print("30 s later the cooldown has passed: the next calls are probes")
    now = 40.0
    for _ in range(2):
        call(machine, now, Outcome.SUCCESS)
    assert replay(events, policy) is machine.state
    print(f"final state: {machine.state.value} ({machine.health.value}); events replay to it")
    print("events as JSON lines:")
    print(events_to_jsonl(events), end="")


if __name__ == "__main__":
    main()
