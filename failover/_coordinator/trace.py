"""The decision trace of a request: which providers were passed over, and why.

``Result.skipped`` lists the providers a request examined and passed over before the one that
answered (in the order the strategy offered them; a HALF_OPEN provider whose probe slots are
all taken is not offered, so it is not among them), ``AllProvidersUnavailable.skipped`` and
``AllProvidersFailed.skipped`` every provider the request did not attempt. Each is a ``Skip``:
the provider, a ``SkipReason``, when it may be tried again (``retry_at`` on the coordinator's
clock and ``retry_after`` seconds from the decision; None when not foreseeable) and a
``detail`` for people (such as "client-side limit per_minute = 60"). A request whose first pick
answers examined no other provider: its ``skipped`` is empty (the rest were ranked after it).
docs/reference/failover.md ("Decision trace") lists the reasons.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from statemachines import BreakerState

if TYPE_CHECKING:
    from failover._coordinator.slot import Slot

__all__ = ["Skip", "SkipReason", "describe_skips", "skip_of", "skips_of"]

# by kind: failover._coordinator.slot.CALL...
_CAPABILITIES = ("call", "generate", "stream", "search")


class SkipReason(enum.Enum):
    """Why a request did not attempt a provider."""

    NOT_SERVING = "not_serving"
    """The provider lacks the capability asked for (a search provider for generate)."""
    OPEN = "open"
    """Its breaker is OPEN (or HALF_OPEN past its probe window) until ``retry_at``."""
    PROBES_TAKEN = "probes_taken"
    """Its breaker is HALF_OPEN and every probe slot is taken (here or, shared, elsewhere)."""
    FORCED_OPEN = "forced_open"
    """An operator forced it open: only an operator's reset lifts it."""
    NO_QUOTA = "no_quota"
    """A client-side rate limit, the provider's Retry-After or its reported quota refuses a
    request until ``retry_at``; ``detail`` names which."""
    OUTRANKED = "outranked"
    """It would have admitted the call, but the request's attempts (or deadline) ran out on
    providers ranked before it."""


class Skip(NamedTuple):
    """One provider a request passed over (an immutable record).

    Attributes:
        provider: The provider's name.
        reason: Why.
        retry_at: When it may be tried again, on the coordinator's monotonic clock (None: not
            foreseeable, or now).
        retry_after: Seconds from the decision until ``retry_at`` (None when unknown).
        detail: What a person should read, such as "client-side limit per_minute = 60".
    """

    provider: str
    reason: SkipReason
    retry_at: float | None = None
    retry_after: float | None = None
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.provider}: {self.reason.value}"
        if self.detail:
            text += f" ({self.detail})"
        if self.retry_after is not None and self.reason is not SkipReason.NO_QUOTA:
            text += f", retry in {self.retry_after:.1f} s"  # NO_QUOTA's detail says each time
        return text


def _skip(slot: Slot, reason: SkipReason, now: float, at: float | None, detail: str) -> Skip:
    after = None if at is None else max(0.0, at - now)
    return Skip(slot.name, reason, at, after, detail)


def skip_of(slot: Slot, kind: int, now: float) -> Skip:
    """Why ``slot`` is not attempted for a request of ``kind`` at ``now`` (no side effect):
    the first reason that holds, else OUTRANKED (it would admit a call)."""
    if not slot.serves[kind]:
        serves = [c for c, ok in zip(_CAPABILITIES, slot.serves, strict=True) if ok and c != "call"]
        detail = f"serves {', '.join(serves) or 'call only'}, not {_CAPABILITIES[kind]}"
        return _skip(slot, SkipReason.NOT_SERVING, now, None, detail)
    machine = slot.machine
    state = machine.state
    if not slot.would_admit(now):
        if state is BreakerState.FORCED_OPEN:
            return _skip(slot, SkipReason.FORCED_OPEN, now, None, "until an operator's reset")
        if state is BreakerState.HALF_OPEN:
            at = slot.ready_at(now, breaker=True)
            taken = f"{machine.policy.half_open_max_calls} probe(s) in flight"
            return _skip(slot, SkipReason.PROBES_TAKEN, now, at, taken)
        return _skip(slot, SkipReason.OPEN, now, machine.retry_at, "")
    quota = slot.quota
    refusals = [] if quota is None else quota.refusals(now)
    if refusals:
        detail = "; ".join(f"{what} frees in {max(0.0, at - now):.1f} s" for what, at in refusals)
        return _skip(slot, SkipReason.NO_QUOTA, now, max(at for _, at in refusals), detail)
    return _skip(slot, SkipReason.OUTRANKED, now, None, "ranked after the providers attempted")


def skips_of(slots: Iterable[Slot], kind: int, now: float) -> tuple[Skip, ...]:
    """``skip_of`` for each slot."""
    return tuple(skip_of(slot, kind, now) for slot in slots)


def describe_skips(skips: Iterable[Skip]) -> str:
    """The skips as one line for a message ("a: open, retry in 3.0 s; b: no_quota (client-side
    limit per_minute = 60 frees in 4.1 s)")."""
    return "; ".join(map(str, skips))
