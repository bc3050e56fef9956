"""Strategies: the order in which a Coordinator considers its providers.

The coordinator walks a strategy's order from the front and sends to the first provider that
has rate-limit quota and whose breaker admits the call now; the rest of the order is where the
request fails over to. Built-in strategies (pass the name)::

    "success_rate"     smoothed success rate (s + 1) / (n + 2) over the breaker's window, highest
                       first; then priority (highest first), then EWMA latency (lowest first,
                       unmeasured last), then registration order. The default.
    "priority"         priority, highest first; then registration order.
    "round_robin"      each request starts one provider further along the registration order.
    "weighted_random"  the first provider drawn at random in proportion to its weight (seeded);
                       the others drawn the same way, without repetition.
    "least_latency"    EWMA latency, lowest first; unmeasured providers first, so that each gets
                       measured; then registration order.
    "p2c"              power of two choices: two providers drawn at random (seeded), the one with
                       the better success rate first, then the other, then the rest in a random
                       rotation.

Built-in strategies read the coordinator's live per-provider figures and keep their orders up to
date as outcomes arrive, so a pick costs O(1) to O(log n) however many providers there are.

Any callable ``(Sequence[ProviderStatus]) -> Sequence[ProviderStatus]`` is a strategy too: it
gets a status snapshot of every provider and returns them in the order to try (leaving one out
means it is not tried). Building snapshots costs O(n) per request: slower than a built-in.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, Literal, TypeAlias

from failover._selection import Slot
from failover.status import ProviderStatus, provider_status
from statemachines import ConfigurationError, TimeWindow

__all__ = ["STRATEGIES", "CustomStrategy", "StrategyName"]

StrategyName: TypeAlias = Literal[
    "success_rate", "priority", "round_robin", "weighted_random", "least_latency", "p2c"
]
"""The names of the built-in strategies."""

CustomStrategy: TypeAlias = Callable[[Sequence[ProviderStatus]], Sequence[ProviderStatus]]
"""A strategy of your own: the providers' statuses in, the order to try them out."""

STRATEGIES: tuple[StrategyName, ...] = (
    "success_rate",
    "priority",
    "round_robin",
    "weighted_random",
    "least_latency",
    "p2c",
)
"""Every built-in strategy's name, the default first."""

_INF = float("inf")
_LAST = itemgetter(-1)


class Ordering:
    """A strategy bound to one coordinator's slots (internal)."""

    def __init__(self, slots: Sequence[Slot], rng: random.Random) -> None:
        self.slots = tuple(slots)
        self.rng = rng

    def order(self, now: float, first: bool = True) -> Iterator[Slot]:
        """The slots in the order to try them; ``first``: the request's first pick (later
        picks of the same request, after a failure, pass False)."""
        return iter(self.slots)

    def update(self, slot: Slot) -> None:
        """``slot``'s figures changed (an attempt ended)."""


class _Sorted(Ordering):
    """An order kept sorted by a key per slot, repositioned (bisect) when a slot changes."""

    def __init__(self, slots: Sequence[Slot], rng: random.Random) -> None:
        super().__init__(slots, rng)
        self._keys = [self.key(s) for s in self.slots]
        self._sorted = sorted(self._keys)
        # Outcomes age out of time windows without an attempt: refresh every key once per
        # (narrowest) bucket width, so an idle provider's figures are never older than that.
        widths = [
            w.seconds / w.buckets
            for s in self.slots
            if isinstance(w := s.machine.policy.window, TimeWindow)
        ]
        self._refresh_every = min(widths) if widths else None
        self._refresh_at = -_INF

    def key(self, slot: Slot) -> tuple[Any, ...]:
        """The sort key: figures, then the slot's index (unique: the slot itself, last, is
        never compared)."""
        raise NotImplementedError

    def order(self, now: float, first: bool = True) -> Iterator[Slot]:
        if self._refresh_every is not None and now >= self._refresh_at:
            self._refresh_at = now + self._refresh_every
            for slot in self.slots:
                slot.breaker.statistics()  # drops what has aged out of its window by now
                self.update(slot)
        return map(_LAST, self._sorted)

    def update(self, slot: Slot) -> None:
        new = self.key(slot)
        index = slot.index
        old = self._keys[index]
        self._keys[index] = new
        ordered = self._sorted
        at = bisect.bisect_left(ordered, old)
        if (at == 0 or ordered[at - 1] < new) and (at + 1 == len(ordered) or new < ordered[at + 1]):
            ordered[at] = new  # still in place: the common case
        else:
            del ordered[at]
            bisect.insort(ordered, new)


class _SuccessRate(_Sorted):
    def key(self, slot: Slot) -> tuple[Any, ...]:
        latency = slot.latency
        window = slot.window
        calls = window.calls
        return (
            (window.failures - calls - 1) / (calls + 2),  # -success_rate, without a call
            -slot.priority,
            _INF if latency is None else latency,
            slot.index,
            slot,
        )


class _LeastLatency(_Sorted):
    def key(self, slot: Slot) -> tuple[Any, ...]:
        latency = slot.latency
        return (-1.0 if latency is None else latency, slot.index, slot)


class _Priority(Ordering):
    def __init__(self, slots: Sequence[Slot], rng: random.Random) -> None:
        super().__init__(sorted(slots, key=lambda s: (-s.priority, s.index)), rng)


class _RoundRobin(Ordering):
    def __init__(self, slots: Sequence[Slot], rng: random.Random) -> None:
        super().__init__(slots, rng)
        self._next = 0

    def order(self, now: float, first: bool = True) -> Iterator[Slot]:
        start = self._next
        slots = self.slots
        if first:  # each request (not each attempt) starts one provider further along
            self._next = (start + 1) % len(slots)
        return map(slots.__getitem__, itertools.chain(range(start, len(slots)), range(start)))


class _WeightedRandom(Ordering):
    def __init__(self, slots: Sequence[Slot], rng: random.Random) -> None:
        super().__init__(slots, rng)
        self._cumulative = list(itertools.accumulate(s.weight for s in self.slots))

    def order(self, now: float, first: bool = True) -> Iterator[Slot]:
        slots, cumulative, rng = self.slots, self._cumulative, self.rng
        total = cumulative[-1]
        seen: set[int] = set()
        for _ in range(2 * len(slots)):
            index = bisect.bisect_right(cumulative, rng.random() * total)
            index = min(index, len(slots) - 1)
            if index not in seen:
                seen.add(index)
                yield slots[index]
                if len(seen) == len(slots):
                    return
        # unlucky draws: the rest by weight, heaviest first
        rest = sorted((s for s in slots if s.index not in seen), key=lambda s: (-s.weight, s.index))
        yield from rest


class _PowerOfTwo(Ordering):
    def order(self, now: float, first: bool = True) -> Iterator[Slot]:
        slots, n = self.slots, len(self.slots)
        if n == 1:
            yield slots[0]
            return
        rng = self.rng
        i = int(rng.random() * n)
        j = int(rng.random() * (n - 1))
        j += j >= i  # a second, distinct index
        a, b = slots[i], slots[j]
        if _better(b, a):
            a, b = b, a
        yield a
        yield b
        start = int(rng.random() * n)
        for k in itertools.chain(range(start, n), range(start)):
            if k != i and k != j:
                yield slots[k]


def _better(a: Slot, b: Slot) -> bool:
    rate_a, rate_b = a.success_rate, b.success_rate
    if rate_a != rate_b:
        return rate_a > rate_b
    lat_a = _INF if a.latency is None else a.latency
    lat_b = _INF if b.latency is None else b.latency
    return (lat_a, a.index) < (lat_b, b.index)


class _Custom(Ordering):
    def __init__(self, slots: Sequence[Slot], rng: random.Random, fn: CustomStrategy) -> None:
        super().__init__(slots, rng)
        self._fn = fn
        self._by_name = {s.name: s for s in self.slots}

    def order(self, now: float, first: bool = True) -> Iterator[Slot]:
        statuses = [provider_status(s, now) for s in self.slots]
        ordered = self._fn(statuses)
        by_name = self._by_name
        for status in ordered:
            slot = by_name.get(getattr(status, "name", None))  # type: ignore[arg-type]
            if slot is None or not isinstance(status, ProviderStatus):
                raise ConfigurationError(
                    f"strategy {self._fn!r} returned {status!r}; a strategy must return "
                    f"some of the ProviderStatus records it was given ({sorted(by_name)!r})"
                )
            yield slot


_BUILTIN: dict[str, Callable[[Sequence[Slot], random.Random], Ordering]] = {
    "success_rate": _SuccessRate,
    "priority": _Priority,
    "round_robin": _RoundRobin,
    "weighted_random": _WeightedRandom,
    "least_latency": _LeastLatency,
    "p2c": _PowerOfTwo,
}


def check_strategy(strategy: object) -> None:
    """Raise ConfigurationError unless ``strategy`` names a built-in or is callable."""
    if isinstance(strategy, str):
        if strategy not in _BUILTIN:
            raise ConfigurationError(
                f"unknown strategy {strategy!r}; use one of {list(STRATEGIES)!r} "
                "or a callable (Sequence[ProviderStatus]) -> Sequence[ProviderStatus]"
            )
    elif not callable(strategy):
        raise ConfigurationError(
            f"strategy must be one of {list(STRATEGIES)!r} or a callable "
            f"(Sequence[ProviderStatus]) -> Sequence[ProviderStatus], got {strategy!r}"
        )


def bind(
    strategy: StrategyName | CustomStrategy, slots: Sequence[Slot], rng: random.Random
) -> Ordering:
    """``strategy`` bound to ``slots`` (internal: the coordinator calls it once)."""
    check_strategy(strategy)
    if isinstance(strategy, str):
        return _BUILTIN[strategy](slots, rng)
    return _Custom(slots, rng, strategy)
