"""The base of every strategy's order (internal): time caught up and probes first at each
pick (``Ordering``), and an order kept sorted by a key per slot (``_Sorted``). The built-in
strategies themselves are in ``failover.strategies``."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Sequence
from operator import attrgetter, itemgetter
from typing import Any

from failover._coordinator.slot import Schedule, Slot

__all__ = ["INF", "LAST", "Ordering", "Sorted", "probes_first", "reposition"]

INF = float("inf")
LAST = itemgetter(-1)
_INDEX = attrgetter("index")


class Ordering:
    """A strategy bound to one coordinator's slots (internal).

    ``order(now)`` first catches time up (every breaker whose time-driven transition is due
    is ticked: L1), then, for the built-in strategies, offers the providers that are probing
    (HALF_OPEN, with a probe admission left) before the strategy's own order: a provider that
    admits calls again is sent the very next request (L2).
    """

    probes_first = True

    def __init__(self, slots: Sequence[Slot], rng: random.Random) -> None:
        self.slots = tuple(slots)
        self.rng = rng
        self.schedule = Schedule(self.slots)
        for slot in self.slots:
            slot.ordering = self

    def close(self) -> None:
        """This order is no longer the coordinator's (its layout changed): stop listening."""
        self.schedule.close()

    def order(self, now: float, first: bool = True) -> Iterator[Slot]:
        """The slots in the order to try them; ``first``: the request's first pick (later
        picks of the same request, after a failure, pass False)."""
        schedule = self.schedule
        heap = schedule.heap
        if schedule.changed or (heap and heap[0][0] <= now):
            schedule.catch_up(now)
        ordered = self._order(now, first)
        if schedule.probing and self.probes_first:
            return probes_first(schedule.probing, ordered)
        return ordered

    def _order(self, now: float, first: bool) -> Iterator[Slot]:
        """The strategy's own order."""
        return iter(self.slots)

    def leader(self, now: float) -> Slot | None:
        """The first slot ``order(now)`` would offer, when the strategy can say it cheaply
        (a request's common case: it admits and answers); None: walk ``order(now)``."""
        return None

    def update(self, slot: Slot) -> None:
        """``slot``'s figures changed (an attempt ended)."""


def probes_first(probing: dict[int, Slot], ordered: Iterator[Slot]) -> Iterator[Slot]:
    probes = sorted((s for s in probing.values() if s.machine.probe_permits), key=_INDEX)
    yield from probes
    for slot in ordered:
        if slot.index not in probing:
            yield slot


class Sorted(Ordering):
    """An order kept sorted by a key per slot, repositioned (bisect) when a slot changes."""

    refresh_every: float | None = None  # re-key every slot this often (figures that age)

    def __init__(self, slots: Sequence[Slot], rng: random.Random) -> None:
        super().__init__(slots, rng)
        self._keys = [self.key(s) for s in self.slots]
        self._sorted = sorted(self._keys)
        self._refresh_at = -INF

    def key(self, slot: Slot) -> tuple[Any, ...]:
        """The sort key: figures, then the slot's index (unique: the slot itself, last, is
        never compared)."""
        raise NotImplementedError

    def _order(self, now: float, first: bool) -> Iterator[Slot]:
        if self.refresh_every is not None and now >= self._refresh_at:
            self._refresh_at = now + self.refresh_every
            self.refresh(now)
        return map(LAST, self._sorted)

    def refresh(self, now: float) -> None:
        """Re-key every slot as of ``now``."""
        for slot in self.slots:
            self.update(slot)

    def update(self, slot: Slot) -> None:
        new = self.key(slot)
        index = slot.index
        old = self._keys[index]
        self._keys[index] = new
        reposition(self._sorted, old, new)


def reposition(ordered: list[Any], old: Any, new: Any) -> None:
    at = bisect.bisect_left(ordered, old)
    if (at == 0 or ordered[at - 1] < new) and (at + 1 == len(ordered) or new < ordered[at + 1]):
        ordered[at] = new  # still in place: the common case
    else:
        del ordered[at]
        bisect.insort(ordered, new)
