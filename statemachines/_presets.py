"""The fields of ready-made policies that reproduce other circuit breakers' semantics
(``BreakerPolicy.pybreaker_compatible`` builds the policy; this module names no policy).

``pybreaker_compatible`` is pure data: it does not import pybreaker. Its equivalence with
pybreaker is proven by a differential test (tests/statemachines/test_pybreaker_differential.py)
that drives a real ``pybreaker.CircuitBreaker`` and a ``BreakerMachine`` side by side.
"""

from __future__ import annotations

from typing import Any

from statemachines._builtin_conditions import consecutive_failures, probes_failed, probes_succeeded
from statemachines._checks import check_int, check_seconds
from statemachines._states import BreakerState, FailoverReason, Stimulus
from statemachines._transition import ANY, Transition

__all__ = ["PYBREAKER_REMOVED_TRANSITIONS", "pybreaker_fields"]

_S, _R = BreakerState, FailoverReason

PYBREAKER_REMOVED_TRANSITIONS = frozenset(
    {
        # pybreaker has no signals: a 429 or a 401 is a failure like any other
        "trip_rate_limited",
        "trip_auth_failed",
        "reopen_rate_limited",
        # pybreaker has no health checks
        "trip_health_check",
        "probe_health_check",
        # pybreaker's HALF_OPEN waits for the next call however long it takes
        "reopen_timeout",
        # replaced by the policy's own "reopen" and "recover" (see below)
        "reopen",
        "recover",
    }
)
"""The built-in transitions that ``pybreaker_compatible`` policies remove."""


def pybreaker_fields(
    fail_max: int, reset_timeout: float, success_threshold: int = 1
) -> dict[str, Any]:
    """The BreakerPolicy fields of ``pybreaker_compatible(fail_max, reset_timeout,
    success_threshold)`` (statemachines._policy), its arguments checked.

    Raises:
        ConfigurationError: An argument is out of range.
    """
    check_int("pybreaker_compatible(fail_max)", fail_max, minimum=1)
    check_seconds("pybreaker_compatible(reset_timeout)", reset_timeout)
    check_int("pybreaker_compatible(success_threshold)", success_threshold, minimum=1)
    return {
        "max_consecutive_failures": fail_max,
        "trip_condition": consecutive_failures(fail_max),
        "open_duration": reset_timeout,
        "open_backoff": 1.0,
        "max_open_duration": reset_timeout,
        "open_jitter": 0.0,
        "half_open_max_calls": success_threshold,
        "max_half_open_duration": reset_timeout,
        "transitions": _transitions(success_threshold),
        "removed_transitions": PYBREAKER_REMOVED_TRANSITIONS,
    }


# holds from the first failed probe on (1 >= 1.0 * 1)
_ONE_PROBE_FAILED = probes_failed(1.0, max_calls=1)


def _transitions(success_threshold: int) -> tuple[Transition, ...]:
    return (
        Transition("reopen", _S.HALF_OPEN, _S.OPEN, _R.PROBE_FAILED, condition=_ONE_PROBE_FAILED),
        # with no failed probe, probes_succeeded(1.0, max_calls=n) holds once n probes succeeded
        Transition(
            "recover",
            _S.HALF_OPEN,
            _S.CLOSED,
            _R.PROBES_SUCCEEDED,
            condition=probes_succeeded(1.0, max_calls=success_threshold) & ~_ONE_PROBE_FAILED,
        ),
        Transition("open", ANY, _S.OPEN, _R.MANUAL, on=Stimulus.MANUAL),
        Transition("half_open", ANY, _S.HALF_OPEN, _R.MANUAL, on=Stimulus.MANUAL),
    )
