"""The pool a request draws on (internal): one layout of the coordinator's providers, and what
the coordinator lends a request.

``Plan``, the hedge, the stream and ``run_attempt`` take a ``Pool``, never the Coordinator: its
``layout`` (the slots, how many of them are ranked, the fallbacks in priority order, the
strategy's order), the coordinator's public request settings (``settings``: clock, retry,
all_down, hedge_after), its random source and its fleet state; and how a
request probes when every provider is down (``probe``). ``Coordinator.add`` and ``remove``
swap in a new layout in one assignment; a request keeps the layout it started with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

from failover._coordinator.checks import PROBE_TRIGGER
from statemachines import BreakerState

if TYPE_CHECKING:
    import random

    from failover._coordinator.fleet import Fleet
    from failover._coordinator.ordering import Ordering
    from failover._coordinator.slot import Slot
    from failover.clock import Clock
    from failover.retry import RetryPolicy

__all__ = ["Layout", "Pool", "Settings"]

_OPEN = BreakerState.OPEN


class Layout(NamedTuple):
    """One layout of the providers: ``slots[:ranked]`` the providers, the rest fallbacks
    (``fallbacks``: the same, in priority order); ``ordering`` the strategy's over the ranked."""

    slots: tuple[Slot, ...]
    ranked: int
    fallbacks: tuple[Slot, ...]
    ordering: Ordering


class Settings(Protocol):
    """What a request reads of its coordinator: public attributes only."""

    @property
    def clock(self) -> Clock: ...
    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def all_down(self) -> str: ...
    @property
    def hedge_after(self) -> float | None: ...


class Pool:
    """What a request draws on (see the module docstring)."""

    __slots__ = ("fleet", "layout", "rng", "settings")

    def __init__(
        self, settings: Settings, layout: Layout, rng: random.Random, fleet: Fleet
    ) -> None:
        self.settings = settings
        self.layout = layout
        self.rng = rng
        self.fleet = fleet

    def probe(self, kind: int, now: float) -> tuple[Slot, int] | None:
        """all_down="probe": move the OPEN provider that failed least recently to HALF_OPEN
        (a MANUAL transition, one event) and admit one call to it."""
        layout = self.layout
        candidates = [
            s
            for s in layout.slots[: layout.ranked]
            if s.serves[kind] and s.machine.state is _OPEN and s.quota_at(now) is None
        ]
        if not candidates:
            return None
        slot = min(candidates, key=lambda s: (s.last_failure_at or float("-inf"), s.index))
        slot.breaker.fire(PROBE_TRIGGER)
        generation = slot.admit(now)
        return None if generation is None else (slot, generation)
