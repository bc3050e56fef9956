"""How long a state lasts once entered: OPEN's backoff, cap, jitter and Retry-After; HALF_OPEN's
decision deadline; a custom state's duration (docs/semantics.md, "Open duration")."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from statemachines._policy import BreakerPolicy
from statemachines._states import BreakerState, CustomState, State, retry_after_of

if TYPE_CHECKING:
    from statemachines._machine_view import MachineView

__all__ = ["deadline_of", "open_duration"]

_CLOSED, _OPEN, _HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def open_duration(
    policy: BreakerPolicy, k: int, retry_after: float | None, rng: random.Random
) -> float:
    """How long the k-th consecutive opening lasts under ``policy`` (draws from ``rng`` when
    jitter is on). A Retry-After raises it, never lowers it, and is first made a valid one
    (``retry_after_of``): no input leaves OPEN without a finite deadline."""
    base = policy.max_open_duration
    if policy.open_backoff == 1 or k - 1 < math.log(
        base / policy.open_duration, policy.open_backoff
    ):
        base = min(policy.open_duration * policy.open_backoff ** (k - 1), base)  # < cap
    if policy.open_jitter:
        base *= 1.0 - policy.open_jitter * rng.random()
    return max(base, retry_after_of(retry_after) or 0.0)


def deadline_of(
    view: MachineView, dest: State, now: float, rng: random.Random
) -> tuple[int, float | None]:
    """The openings count and deadline ``dest`` gets if ``view``'s machine enters it at ``now``
    (reads the stimulus's Retry-After; changes nothing but ``rng``)."""
    retry_after = view.retry_after
    if dest is _OPEN:
        openings = view.openings + 1
        return openings, now + open_duration(view.policy, openings, retry_after, rng)
    openings = 0 if dest is _CLOSED else view.openings
    if dest is _HALF_OPEN:
        return openings, now + view.policy.max_half_open_duration
    if isinstance(dest, CustomState) and (dest.duration or retry_after):
        return openings, now + max(dest.duration or 0.0, retry_after or 0.0)
    return openings, None
