"""The built-in MANUAL transition ``probe_now`` (OPEN -> HALF_OPEN, reason MANUAL).

It is what the coordinator's ``all_down="probe"`` fires: a probe before the cooldown ends that
still goes through the breaker (fire, then admit), so no call reaches an OPEN provider (I4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from statemachines import (
    BUILTIN_NAMES,
    BreakerMachine,
    BreakerPolicy,
    BreakerState,
    DefectKind,
    FailoverEvent,
    FailoverReason,
    IllegalTransitionError,
    Outcome,
    pybreaker_compatible,
    replay,
    verify_policy,
)

S, R = BreakerState, FailoverReason


def machine(policy: BreakerPolicy | None = None) -> tuple[BreakerMachine, list[FailoverEvent]]:
    """A machine named "p" (open_jitter=0 unless ``policy`` says otherwise) and its events."""
    events: list[FailoverEvent] = []
    policy = policy or BreakerPolicy(open_jitter=0.0)
    return BreakerMachine("p", policy, on_event=events.append), events


def to_open(m: BreakerMachine, now: float = 1.0) -> None:
    """CLOSED -> OPEN through an AUTH_FAILED outcome."""
    generation = m.admit(now)
    assert generation is not None
    m.record(generation, Outcome.FAILURE, now, signal=R.AUTH_FAILED)
    assert m.state is S.OPEN


def summary(event: FailoverEvent) -> tuple[object, ...]:
    return event.source, event.dest, event.reason, event.seq, event.generation, event.at


def test_probe_now_moves_open_to_half_open_before_the_cooldown_ends() -> None:
    m, events = machine()
    to_open(m, now=10.0)  # open_until = 40
    event = m.fire("probe_now", 12.0)
    assert summary(event) == (S.OPEN, S.HALF_OPEN, R.MANUAL, 2, 2, 12.0)
    assert (event.trigger, events[-1]) == ("probe_now", event)
    assert m.admit(12.0) == 2  # the probe goes through the breaker, in the new generation
    assert m.admit(12.0) is None  # half_open_max_calls = 1
    m.record(2, Outcome.SUCCESS, 13.0)
    assert m.state is S.CLOSED
    assert replay(events, m.policy) is S.CLOSED


def test_a_failed_probe_after_probe_now_reopens_with_the_next_backoff_step() -> None:
    m, events = machine(BreakerPolicy(open_jitter=0.0, open_duration=30.0, open_backoff=2.0))
    to_open(m, now=10.0)
    m.fire("probe_now", 12.0)
    generation = m.admit(13.0)
    assert generation is not None
    m.record(generation, Outcome.FAILURE, 13.0)
    assert summary(events[-1]) == (S.HALF_OPEN, S.OPEN, R.PROBE_FAILED, 3, 3, 13.0)
    assert m.retry_at == 13.0 + 60.0  # second opening without a CLOSED between: 30 * 2


INTO: dict[BreakerState, Callable[[BreakerMachine], Any]] = {
    S.CLOSED: lambda m: None,
    S.HALF_OPEN: lambda m: (to_open(m), m.health_check(True, 1.0)),
    S.FORCED_OPEN: lambda m: (to_open(m), m.force_open(1.0)),
    S.DISABLED: lambda m: m.disable(1.0),
}


@pytest.mark.parametrize("source", list(INTO))
def test_probe_now_is_declared_from_open_only(source: BreakerState) -> None:
    m, events = machine()
    INTO[source](m)
    assert m.state is source
    before = len(events)
    with pytest.raises(IllegalTransitionError) as info:
        m.fire("probe_now", 5.0)
    assert (info.value.name, info.value.source) == ("probe_now", source.value)
    assert (m.state, len(events)) == (source, before)


def test_probe_now_is_built_in_and_removable() -> None:
    assert "probe_now" in BUILTIN_NAMES
    policy = BreakerPolicy(removed_transitions={"probe_now"})
    assert "probe_now" not in {t.name for t in policy.transition_table()}
    m, _ = machine(policy)
    to_open(m)
    with pytest.raises(IllegalTransitionError, match="'probe_now' is not declared"):
        m.fire("probe_now", 2.0)


def test_the_pybreaker_preset_keeps_probe_now() -> None:
    m, _ = machine(pybreaker_compatible(1, 30.0))
    to_open(m)
    assert summary(m.fire("probe_now", 2.0))[:3] == (S.OPEN, S.HALF_OPEN, R.MANUAL)


def test_verify_counts_probe_now_as_a_way_in_but_not_as_a_way_back() -> None:
    # without the automatic ways into HALF_OPEN it is still reachable by hand, but OPEN leads
    # back to CLOSED only through an operator: still a defect
    report = verify_policy(BreakerPolicy(removed_transitions={"probe", "probe_health_check"}))
    assert [d.kind for d in report.defects] == [DefectKind.NO_WAY_BACK]
    assert report.defects[0].states == ("open",)
    assert S.HALF_OPEN in report.reachable
