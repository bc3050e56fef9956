"""Example policies: a worked custom state, and a deliberately broken policy.

``throttled_policy()`` is the worked example of the how-to on custom transitions: a provider that
answers 429 is not broken, it asks to be left alone for a while. Instead of tripping to OPEN
(where the breaker would back off exponentially and probe), the policy parks it in a THROTTLED
state until its Retry-After has passed, then goes straight back to CLOSED::

    >>> from statemachines import verify_policy
    >>> from statemachines.examples import throttled_policy
    >>> verify_policy(throttled_policy()).ok
    True

``broken_policy()`` is what ``verify_policy`` exists for: it has one defect of each kind that a
hand-written policy most often has, and the report names each one.
"""

from __future__ import annotations

from statemachines._builtin_conditions import deadline_passed, signalled, timed_out
from statemachines._policy import ANY, BreakerPolicy, Transition
from statemachines._states import (
    BreakerState,
    CustomState,
    FailoverReason,
    ProviderHealth,
    Stimulus,
)

__all__ = ["LIMBO", "ORPHAN", "QUARANTINE", "THROTTLED", "broken_policy", "throttled_policy"]

THROTTLED = CustomState(
    "throttled", health=ProviderHealth.DEGRADED, admits_calls=False, duration=5.0
)
"""The provider asked to be left alone (429): no call until its Retry-After has passed.

DEGRADED rather than UNHEALTHY: it works, it only wants fewer calls. ``duration`` is a floor: a
429 that carries a Retry-After stays until then, and one without a Retry-After stays 5 s (without
a duration the state would have no deadline, and ``deadline_passed()`` would never let it go).
"""

LIMBO = CustomState("limbo", health=ProviderHealth.UNHEALTHY)
"""``broken_policy``'s state that is entered automatically and has no automatic way out."""

ORPHAN = CustomState("orphan", health=ProviderHealth.DEGRADED, admits_calls=True)
"""``broken_policy``'s state that no transition enters."""

QUARANTINE = CustomState("quarantine", duration=300.0)
"""``broken_policy``'s state with no ProviderHealth."""


def throttled_policy(base: BreakerPolicy | None = None) -> BreakerPolicy:
    """``base`` (the default policy when None) with a THROTTLED state for 429 answers.

    - ``throttle``: CLOSED -> THROTTLED on an outcome signalled RATE_LIMITED (reason
      RATE_LIMITED); it replaces the built-in ``trip_rate_limited``, removed.
    - ``unthrottle``: THROTTLED -> CLOSED at the first admission (or tick) once the state's
      deadline, its Retry-After, has passed (reason COOLDOWN_ELAPSED).
    - The trip rule becomes ``base``'s rule ``& ~signalled(RATE_LIMITED)``: a 429 that is also
      the third failure in a row must throttle, not trip, and saying so makes the two
      transitions exclusive (``verify_policy`` reports them AMBIGUOUS otherwise).

    In HALF_OPEN a 429 still reopens (``reopen_rate_limited``): a probe that is refused says
    nothing about recovery.

    Args:
        base: The policy to extend; its own states and transitions are kept.

    Returns:
        The extended policy. It verifies clean.
    """
    base = base or BreakerPolicy()
    rate_limited = signalled(FailoverReason.RATE_LIMITED)
    throttle = Transition(
        "throttle",
        BreakerState.CLOSED,
        THROTTLED,
        FailoverReason.RATE_LIMITED,
        condition=rate_limited,
    )
    unthrottle = Transition(
        "unthrottle",
        THROTTLED,
        BreakerState.CLOSED,
        FailoverReason.COOLDOWN_ELAPSED,
        on=Stimulus.TICK,
        condition=deadline_passed(),
    )
    return base.with_changes(
        states=(*base.states, THROTTLED),
        transitions=(throttle, unthrottle, *base.transitions),
        removed_transitions=base.removed_transitions | {"trip_rate_limited"},
        trip_condition=base.effective_trip_condition() & ~rate_limited,
    )


def broken_policy() -> BreakerPolicy:
    """A policy with one defect of each structural kind, for ``verify_policy`` to report.

    - UNREACHABLE_STATE: ``orphan`` is declared, but no transition enters it.
    - NO_WAY_BACK: ``limbo`` is entered automatically (``linger``: HALF_OPEN -> limbo once
      probing has lasted 30 s) and nothing automatic leaves it: only an operator's reset does.
    - AMBIGUOUS: ``linger`` (HALF_OPEN -> limbo) and the built-in ``reopen_timeout``
      (HALF_OPEN -> OPEN after max_half_open_duration, 60 s) both hold on a tick 60 s after
      HALF_OPEN was entered.
    - MISSING_HEALTH: ``quarantine`` (entered by the operator's ``quarantine`` trigger and left
      after 300 s by ``release``) declares no ProviderHealth.

    Returns:
        The broken policy (a valid BreakerPolicy: these defects are not configuration errors).
    """
    return BreakerPolicy(
        states=(ORPHAN, LIMBO, QUARANTINE),
        transitions=(
            Transition(
                "linger",
                BreakerState.HALF_OPEN,
                LIMBO,
                FailoverReason.PROBE_TIMEOUT,
                on=Stimulus.TICK,
                condition=timed_out(30.0),
            ),
            Transition("quarantine", ANY, QUARANTINE, FailoverReason.MANUAL, on=Stimulus.MANUAL),
            Transition(
                "release",
                QUARANTINE,
                BreakerState.CLOSED,
                FailoverReason.COOLDOWN_ELAPSED,
                on=Stimulus.TICK,
                condition=deadline_passed(),
            ),
        ),
    )
