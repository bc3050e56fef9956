"""to_mermaid: the default diagram, pinned; custom states, ANY sources, labels and ids."""

from __future__ import annotations

import re

from statemachines import (
    ANY,
    BreakerPolicy,
    BreakerState,
    CustomState,
    FailoverReason,
    ProviderHealth,
    Stimulus,
    Transition,
    consecutive_failures,
    deadline_passed,
    signalled,
    to_mermaid,
)
from statemachines.examples import broken_policy, throttled_policy

S, R = BreakerState, FailoverReason

DEFAULT_DIAGRAM = """\
stateDiagram-v2
    [*] --> closed
    state "any state" as any_state
    closed --> open: trip_rate_limited (RATE_LIMITED)
    closed --> open: trip_auth_failed (AUTH_FAILED)
    closed --> open: trip (CONSECUTIVE_FAILURES, ERROR_RATE, SLOW_CALLS)
    closed --> open: trip_health_check (HEALTH_CHECK_FAILED)
    open --> half_open: probe (COOLDOWN_ELAPSED)
    open --> half_open: probe_health_check (HEALTH_CHECK_PASSED)
    open --> half_open: probe_now (MANUAL)
    half_open --> open: reopen_rate_limited (RATE_LIMITED)
    half_open --> open: reopen (PROBE_FAILED)
    half_open --> closed: recover (PROBES_SUCCEEDED)
    half_open --> open: reopen_timeout (PROBE_TIMEOUT)
    any_state --> forced_open: force_open (MANUAL)
    any_state --> disabled: disable (MANUAL)
    any_state --> closed: reset (MANUAL)
    classDef healthy fill:#d4edda,stroke:#2e7d32,color:#1b4d20
    classDef degraded fill:#fff3cd,stroke:#b8860b,color:#5c4300
    classDef unhealthy fill:#f8d7da,stroke:#c62828,color:#6b1414
    classDef unknown fill:#e2e3e5,stroke:#6c757d,color:#343a40
    classDef anystate fill:#ffffff,stroke:#6c757d,stroke-dasharray:4 4
    class closed healthy
    class half_open degraded
    class open,forced_open unhealthy
    class disabled unknown
    class any_state anystate
"""

EDGE = re.compile(r"^    (\S+) --> (\S+): (.*)$")


def edges(diagram: str) -> list[tuple[str, str, str]]:
    return [m.groups() for line in diagram.splitlines() if (m := EDGE.match(line))]  # type: ignore[misc]


def test_the_default_diagram() -> None:
    assert to_mermaid(BreakerPolicy()) == DEFAULT_DIAGRAM


def test_the_diagram_is_deterministic() -> None:
    assert to_mermaid(throttled_policy()) == to_mermaid(throttled_policy())


def test_custom_states_appear_with_their_edges_description_and_health() -> None:
    diagram = to_mermaid(throttled_policy())
    assert "    throttled: custom state, rejects calls\n" in diagram
    assert ("closed", "throttled", "throttle (RATE_LIMITED)") in edges(diagram)
    assert ("throttled", "closed", "unthrottle (COOLDOWN_ELAPSED)") in edges(diagram)
    assert "    class half_open,throttled degraded\n" in diagram
    assert not any(label.startswith("trip_rate_limited") for _, _, label in edges(diagram))


def test_every_state_of_the_broken_policy_appears_even_one_that_no_edge_touches() -> None:
    diagram = to_mermaid(broken_policy())
    assert "    orphan: custom state, admits calls\n" in diagram
    assert "    quarantine: custom state, rejects calls, no health declared\n" in diagram
    assert "    class disabled,quarantine unknown\n" in diagram  # no health: drawn as unknown
    assert ("any_state", "quarantine", "quarantine (MANUAL)") in edges(diagram)
    assert ("half_open", "limbo", "linger (PROBE_TIMEOUT)") in edges(diagram)


def test_a_transition_from_several_states_is_drawn_from_each() -> None:
    sources = (S.OPEN, S.FORCED_OPEN)
    cooled = Transition(
        "cool", sources, S.CLOSED, R.COOLDOWN_ELAPSED, Stimulus.TICK, deadline_passed()
    )
    diagram = to_mermaid(BreakerPolicy(transitions=(cooled,)))
    assert [(a, b) for a, b, label in edges(diagram) if label.startswith("cool ")] == [
        ("open", "closed"),
        ("forced_open", "closed"),
    ]


def test_an_automatic_transition_from_any_state_is_drawn_once_from_the_any_state_box() -> None:
    panic = Transition(
        "panic", ANY, S.FORCED_OPEN, R.AUTH_FAILED, condition=signalled(R.AUTH_FAILED)
    )
    diagram = to_mermaid(BreakerPolicy(transitions=(panic,)))
    assert [e for e in edges(diagram) if e[2].startswith("panic")] == [
        ("any_state", "forced_open", "panic (AUTH_FAILED)")
    ]


def test_without_transitions_from_any_state_there_is_no_any_state_box() -> None:
    policy = BreakerPolicy(removed_transitions={"force_open", "disable", "reset"})
    diagram = to_mermaid(policy)
    assert "any_state" not in diagram
    assert "anystate fill" in diagram  # the style is always defined; nothing uses it


def test_labels_name_the_reasons_a_condition_can_give() -> None:
    transitions = (
        Transition("plain", S.CLOSED, S.OPEN, R.SLOW_CALLS, condition=lambda ctx: True),
        Transition(
            "guarded",
            S.CLOSED,
            S.OPEN,
            R.ERROR_RATE,
            condition=~signalled(R.AUTH_FAILED) & consecutive_failures(5),
        ),
        Transition("negated", S.CLOSED, S.OPEN, R.ERROR_RATE, condition=~consecutive_failures(5)),
    )
    labels = [label for _, _, label in edges(to_mermaid(BreakerPolicy(transitions=transitions)))]
    assert labels[:3] == [
        "plain (SLOW_CALLS)",
        "guarded (CONSECUTIVE_FAILURES)",
        "negated (ERROR_RATE)",
    ]


def test_labels_never_hold_a_second_colon_or_a_semicolon() -> None:
    # Mermaid ends a transition's label at ':' or ';'
    for policy in (BreakerPolicy(), throttled_policy(), broken_policy()):
        for _, _, label in edges(to_mermaid(policy)):
            assert ":" not in label
            assert ";" not in label


def test_states_named_like_mermaid_keywords_get_a_safe_id_and_keep_their_name() -> None:
    note = CustomState("note", health=ProviderHealth.DEGRADED)
    default_x = CustomState("default_route", health=ProviderHealth.HEALTHY)
    any_state = CustomState("any_state", health=ProviderHealth.UNHEALTHY)
    enter = [
        Transition(f"to_{s.value}", S.CLOSED, s, R.MANUAL, on=Stimulus.MANUAL)
        for s in (note, default_x, any_state)
    ]
    diagram = to_mermaid(BreakerPolicy(states=(note, default_x, any_state), transitions=enter))
    assert '    state "note" as s_note\n' in diagram
    assert '    state "default_route" as s_default_route\n' in diagram
    assert ("closed", "s_note", "to_note (MANUAL)") in edges(diagram)
    assert ("closed", "any_state", "to_any_state (MANUAL)") in edges(diagram)
    assert '    state "any state" as any_state_\n' in diagram  # the ANY box steps aside
    assert ("any_state_", "closed", "reset (MANUAL)") in edges(diagram)
