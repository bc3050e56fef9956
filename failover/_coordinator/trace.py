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

from collections.abc import Iterable
from typing import TYPE_CHECKING

from failover._base.records import Skip, SkipReason
from statemachines import BreakerState

if TYPE_CHECKING:
    from failover._coordinator.slot import Slot

__all__ = ["skip_of", "skips_of"]

# by kind: failover._coordinator.kinds.CALL...
_CAPABILITIES = ("call", "generate", "stream", "search")


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
