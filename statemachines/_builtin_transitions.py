"""The built-in transition table of docs/semantics.md ("Transitions"), made from a policy's
thresholds."""

from __future__ import annotations

from statemachines._builtin_conditions import (
    deadline_passed,
    health_check_passed,
    health_checks_failed,
    probes_failed,
    probes_succeeded,
    signalled,
    timed_out,
)
from statemachines._conditions import PolicyView
from statemachines._states import BreakerState, FailoverReason, Stimulus
from statemachines._transition import ANY, Transition

__all__ = ["BUILTIN_NAMES", "builtin_transitions"]

BUILTIN_NAMES = frozenset(
    {
        "trip_rate_limited",
        "trip_auth_failed",
        "trip",
        "trip_health_check",
        "probe",
        "probe_health_check",
        "probe_now",
        "reopen_rate_limited",
        "reopen",
        "recover",
        "reopen_timeout",
        "force_open",
        "disable",
        "reset",
    }
)

_S = BreakerState
_R = FailoverReason


def builtin_transitions(policy: PolicyView) -> tuple[Transition, ...]:
    """The rows of docs/semantics.md's transition table for ``policy``, in evaluation order."""
    threshold, probes = policy.failure_rate_threshold, policy.half_open_max_calls
    rate_limited = signalled(_R.RATE_LIMITED)
    table = [
        Transition(
            "trip_rate_limited", _S.CLOSED, _S.OPEN, _R.RATE_LIMITED, condition=rate_limited
        ),
        Transition(
            "trip_auth_failed",
            _S.CLOSED,
            _S.OPEN,
            _R.AUTH_FAILED,
            condition=signalled(_R.AUTH_FAILED),
        ),
        Transition(
            "trip",
            _S.CLOSED,
            _S.OPEN,
            _R.ERROR_RATE,
            condition=policy.effective_trip_condition(),
        ),
        Transition(
            "trip_health_check",
            _S.CLOSED,
            _S.OPEN,
            _R.HEALTH_CHECK_FAILED,
            on=Stimulus.HEALTH_CHECK,
            condition=health_checks_failed(policy.health_failures_to_trip),
        ),
        Transition(
            "probe",
            _S.OPEN,
            _S.HALF_OPEN,
            _R.COOLDOWN_ELAPSED,
            on=Stimulus.TICK,
            condition=deadline_passed(),
        ),
        Transition(
            "probe_health_check",
            _S.OPEN,
            _S.HALF_OPEN,
            _R.HEALTH_CHECK_PASSED,
            on=Stimulus.HEALTH_CHECK,
            condition=health_check_passed(),
        ),
        # fired by hand or by the coordinator (all_down="probe"): probe before the cooldown ends
        Transition("probe_now", _S.OPEN, _S.HALF_OPEN, _R.MANUAL, on=Stimulus.MANUAL),
        Transition(
            "reopen_rate_limited", _S.HALF_OPEN, _S.OPEN, _R.RATE_LIMITED, condition=rate_limited
        ),
        Transition(
            "reopen",
            _S.HALF_OPEN,
            _S.OPEN,
            _R.PROBE_FAILED,
            condition=probes_failed(threshold, max_calls=probes),
        ),
        Transition(
            "recover",
            _S.HALF_OPEN,
            _S.CLOSED,
            _R.PROBES_SUCCEEDED,
            condition=probes_succeeded(threshold, max_calls=probes) & ~rate_limited,
        ),
        Transition(
            "reopen_timeout",
            _S.HALF_OPEN,
            _S.OPEN,
            _R.PROBE_TIMEOUT,
            on=Stimulus.TICK,
            condition=timed_out(policy.max_half_open_duration),
        ),
        Transition("force_open", ANY, _S.FORCED_OPEN, _R.MANUAL, on=Stimulus.MANUAL),
        Transition("disable", ANY, _S.DISABLED, _R.MANUAL, on=Stimulus.MANUAL),
        Transition("reset", ANY, _S.CLOSED, _R.MANUAL, on=Stimulus.MANUAL),
    ]
    if not policy.health_check_can_probe:
        table = [t for t in table if t.name != "probe_health_check"]
    return tuple(table)
