"""Ready-made policies that reproduce other circuit breakers' semantics.

``pybreaker_compatible`` is pure data: it does not import pybreaker. Its equivalence with
pybreaker is proven by a differential test (tests/statemachines/test_pybreaker_differential.py)
that drives a real ``pybreaker.CircuitBreaker`` and a ``BreakerMachine`` side by side.
"""

from __future__ import annotations

from statemachines._atoms import consecutive_failures, probes_failed, probes_succeeded
from statemachines._checks import check_int, check_seconds
from statemachines._policy import BreakerPolicy
from statemachines._states import BreakerState, FailoverReason, Stimulus
from statemachines._transition import ANY, Transition

__all__ = ["PYBREAKER_REMOVED_TRANSITIONS", "pybreaker_compatible"]

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


def pybreaker_compatible(
    fail_max: int, reset_timeout: float, success_threshold: int = 1
) -> BreakerPolicy:
    """A policy with the semantics of ``pybreaker.CircuitBreaker(fail_max, reset_timeout,
    success_threshold)``.

    pybreaker (read from its source, 1.x):

    * CLOSED counts consecutive failures; a success (or an excluded exception) resets the count;
      the ``fail_max``-th failure in a row opens the breaker.
    * OPEN rejects every call until ``reset_timeout`` seconds have passed since it opened
      (``now >= opened_at + reset_timeout``), checked at the next call, which moves the breaker
      to HALF_OPEN and goes through as the first trial call. No backoff, no jitter.
    * HALF_OPEN lets trial calls through; the first failure re-opens the breaker (for another
      ``reset_timeout``); ``success_threshold`` successes (necessarily in a row) close it.
      There is no time limit on HALF_OPEN.
    * ``open()``, ``half_open()`` and ``close()`` move the breaker by hand from any state.

    Here: ``trip_condition = consecutive_failures(fail_max)``; ``open_duration =
    max_open_duration = reset_timeout``, ``open_backoff = 1``, ``open_jitter = 0``;
    ``half_open_max_calls = success_threshold``; ``max_half_open_duration = reset_timeout``
    (with no HALF_OPEN timeout it only sets the ``retry_at`` of a call rejected while the probes
    are in flight); HALF_OPEN's "reopen" fires at the first failed probe and "recover" once
    ``success_threshold`` probes succeeded; manual "open" and "half_open" transitions from any
    state mirror pybreaker's methods (``reset`` is its ``close()``). The built-in transitions
    of ``PYBREAKER_REMOVED_TRANSITIONS`` are removed: signals (RATE_LIMITED, AUTH_FAILED) trip
    nothing by themselves, health checks change no state and HALF_OPEN never times out.

    Differences that remain (none shows in a sequence of calls, which the differential test
    checks step by step):

    * Concurrency: pybreaker holds its lock across the guarded call, so it runs one call at a
      time in every state. Here calls run concurrently; in HALF_OPEN up to
      ``success_threshold`` probes are admitted at once (pybreaker admits them one after the
      other), and the others are rejected rather than made to wait. A call that finishes
      after a transition it did not cause counts in the lifetime figures only (I5); pybreaker,
      one call at a time, has no such call.
    * A Retry-After carried by the failure that opens the breaker lengthens that opening here;
      pybreaker has no Retry-After.
    * ``force_open``, ``disable`` and ``reset`` (FORCED_OPEN, DISABLED) are kept: operator
      tools pybreaker lacks, fired only by hand. So is ``probe_now`` (OPEN -> HALF_OPEN), the
      part of pybreaker's ``half_open()`` that starts from OPEN, which the coordinator's
      ``all_down="probe"`` fires (the preset's own ``half_open`` works from any state).
    * Classification belongs to the runtime: pybreaker counts every ``BaseException``
      (cancellation included) as a failure and an ``exclude``-d exception as a success. Give
      ``failover.CircuitBreaker`` a classifier to match, e.g. ``success(*exclude) |
      failure(BaseException)``.

    Args:
        fail_max: pybreaker's ``fail_max``: consecutive failures that open the breaker (>= 1).
        reset_timeout: pybreaker's ``reset_timeout``: seconds the breaker stays OPEN (> 0).
        success_threshold: pybreaker's ``success_threshold``: successful trial calls that close
            it (>= 1).

    Returns:
        The policy.

    Raises:
        ConfigurationError: An argument is out of range (pybreaker's 0 values included: give 1
            for ``fail_max`` or ``success_threshold``, a small positive ``reset_timeout``).
    """
    check_int("pybreaker_compatible(fail_max)", fail_max, minimum=1)
    check_seconds("pybreaker_compatible(reset_timeout)", reset_timeout)
    check_int("pybreaker_compatible(success_threshold)", success_threshold, minimum=1)
    return BreakerPolicy(
        max_consecutive_failures=fail_max,
        trip_condition=consecutive_failures(fail_max),
        open_duration=reset_timeout,
        open_backoff=1.0,
        max_open_duration=reset_timeout,
        open_jitter=0.0,
        half_open_max_calls=success_threshold,
        max_half_open_duration=reset_timeout,
        transitions=_transitions(success_threshold),
        removed_transitions=PYBREAKER_REMOVED_TRANSITIONS,
    )


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
