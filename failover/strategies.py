"""Strategies: the order in which a Coordinator considers its providers.

The coordinator walks a strategy's order from the front and sends to the first provider that
has rate-limit quota and whose breaker admits the call now; the rest of the order is where the
request fails over to. Built-in strategies (pass the name)::

    "success_rate"     the providers whose score cannot be told from the best one's come first,
                       by priority (highest first), then EWMA latency (lowest first, unmeasured
                       last), then registration order; the others follow by estimated success
                       rate (s + 1) / (n + 2). The default. See "Scores" below.
    "priority"         priority, highest first; then registration order.
    "round_robin"      each request starts one provider further along the registration order.
    "weighted_random"  the first provider drawn at random in proportion to its weight (seeded);
                       the others drawn the same way, without repetition.
    "least_latency"    EWMA latency, lowest first; unmeasured providers first, so that each gets
                       measured; then registration order.
    "p2c"              power of two choices: two providers drawn at random (seeded), the one with
                       the better score first (within noise: the lower latency), then the other,
                       then the rest in a random rotation.

Liveness, common to every built-in strategy (docs/semantics.md, L1 and L2):

- Time-driven transitions are evaluated at every pick: a breaker whose OPEN deadline or
  HALF_OPEN decision deadline has passed moves on, whether or not the strategy would reach it.
- Probes first: a provider in HALF_OPEN with a probe admission left is offered the request
  before the strategy's own order. So the recovery bound of every built-in strategy is: the
  first request at or after a provider's OPEN deadline is sent to it. Once it is CLOSED again,
  each strategy's own order applies (success_rate: a fresh score cannot be told from a good
  one, so priority decides; priority: at once; round_robin: within one rotation).

Scores (success_rate and p2c): per provider, the coordinator counts its attempts in the current
breaker generation (every transition starts a new score), each weighted by
``0.5 ** (age / SCORE_HALF_LIFE)`` (30 s) and capped at SCORE_MAX_CALLS (100) weighted attempts.
Two scores differ beyond noise when their Wilson score intervals (z = NOISE_Z, 1.96) do not
overlap. Weights fall with time, so an idle provider's interval widens until it overlaps the
best one's: a provider passed over for its failures is back among the first within
SCORE_HALF_LIFE * log2(SCORE_MAX_CALLS**2 / z**4) of its last attempt, about 282 s, at most
(``IDLE_RECOVERY_BOUND``).

Built-in strategies read the coordinator's live per-provider figures and keep their orders up to
date as outcomes arrive, so a pick costs O(1) to O(log n) however many providers there are.

Any callable ``(Sequence[ProviderStatus]) -> Sequence[ProviderStatus]`` is a strategy too: it
gets a status snapshot of every provider and returns them in the order to try (leaving one out
means it is not tried). Building snapshots costs O(n) per request: slower than a built-in. Its
order is followed as it is (no probes first); time-driven transitions still happen.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeAlias

from failover._coordinator.ordering import INF, Ordering, Sorted, probes_first, reposition
from failover._coordinator.slot import SCORE_HALF_LIFE, SCORE_MAX_CALLS, Schedule, Slot
from failover.status import ProviderStatus, provider_status
from statemachines import ConfigurationError

__all__ = [
    "IDLE_RECOVERY_BOUND",
    "NOISE_Z",
    "STRATEGIES",
    "CustomStrategy",
    "StrategyName",
    "wilson",
]

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


NOISE_Z = 1.96
"""How wide a success rate's noise is taken to be: the z of its Wilson score interval (95 %)."""
_Z2 = NOISE_Z * NOISE_Z
_sqrt = math.sqrt
IDLE_RECOVERY_BOUND = SCORE_HALF_LIFE * math.log2(SCORE_MAX_CALLS**2 / NOISE_Z**4)
"""Seconds after its last attempt by which any provider's score, however bad, can no longer be
told from any other's (about 282 s): success_rate then puts it among the first again."""


class _SuccessRate(Sorted):
    """Success rate with noise: the providers whose score is indistinguishable from the best
    one's (their confidence intervals overlap the best lower bound) come first, by priority,
    then latency, then registration order; the others follow by estimated success rate."""

    refresh_every = SCORE_HALF_LIFE / 30  # scores age: re-key idle providers every second

    def __init__(self, slots: Sequence[Slot], rng: random.Random) -> None:
        n = len(slots)
        self._upper = [1.0] * n
        self._lower = [0.0] * n
        self._best = 0  # the index of the best lower bound
        super().__init__(slots, rng)
        self.schedule.on_change = self.update  # a new generation: a new score

    def key(self, slot: Slot) -> tuple[Any, ...]:
        latency = slot.latency
        return (-slot.priority, INF if latency is None else latency, slot.index, slot)

    def update(self, slot: Slot) -> None:
        index = slot.index
        if slot.score_generation == slot.machine.generation:
            calls, successes = slot.score_calls, slot.score_successes
            if calls > SCORE_MAX_CALLS:
                successes *= SCORE_MAX_CALLS / calls
                calls = SCORE_MAX_CALLS
            self._rank(index, successes, calls)
        else:
            self._rank(index, 0.0, 0.0)
        latency = slot.latency  # Sorted.update, inlined
        new = (-slot.priority, INF if latency is None else latency, index, slot)
        old = self._keys[index]
        self._keys[index] = new
        reposition(self._sorted, old, new)

    def _rank(self, index: int, successes: float, calls: float) -> None:
        """Keep ``index``'s interval (``wilson``, inlined: the hot path), and which slot has
        the best lower bound."""
        if calls > 0.0:
            rate = successes / calls
            if rate > 1.0:  # rounding of weighted counts
                rate = 1.0
            z2n = _Z2 / calls
            centre = rate + 0.5 * z2n
            spread = NOISE_Z * _sqrt(rate * (1.0 - rate) / calls + 0.25 * z2n / calls)
            denominator = 1.0 + z2n
            lower = (centre - spread) / denominator
            self._upper[index] = (centre + spread) / denominator
        else:
            lower = 0.0
            self._upper[index] = 1.0
        lowers = self._lower
        lowers[index] = lower
        best = self._best
        if lower > lowers[best]:
            self._best = index
        elif index == best and lower < lowers[best]:  # the best got worse: look again
            self._best = lowers.index(max(lowers))

    def refresh(self, now: float) -> None:
        for slot in self.slots:  # every score aged to now
            self._rank(slot.index, *slot.score(now))
            Sorted.update(self, slot)

    def order(self, now: float, first: bool = True) -> Iterator[Slot]:
        schedule = self._prepare(now)  # Ordering.order with _order inlined: the hot path
        ordered = self._walk(self._lower[self._best])
        if schedule.probing:
            return probes_first(schedule.probing, ordered)
        return ordered

    def leader(self, now: float) -> Slot | None:
        schedule = self._prepare(now)
        if schedule.probing:
            return None
        best_lower, upper = self._lower[self._best], self._upper
        for key in self._sorted:  # _walk's first slot, without a generator
            if upper[key[2]] >= best_lower:
                return key[3]  # type: ignore[no-any-return]
        return None

    def _prepare(self, now: float) -> Schedule:
        """Time caught up (L1) and scores aged to ``now``: what every pick starts with."""
        schedule = self.schedule
        heap = schedule.heap
        if schedule.changed or (heap and heap[0][0] <= now):
            schedule.catch_up(now)
        if now >= self._refresh_at:
            self._refresh_at = now + self.refresh_every
            self.refresh(now)
        return schedule

    def _order(self, now: float, first: bool) -> Iterator[Slot]:
        return self._walk(self._lower[self._best])

    def _walk(self, best_lower: float) -> Iterator[Slot]:
        upper = self._upper
        for key in self._sorted:
            if upper[key[2]] >= best_lower:
                yield key[3]
        rest = [key[3] for key in self._sorted if upper[key[2]] < best_lower]
        rest.sort(key=_estimate)  # stable: priority, latency, index within
        yield from rest


def _estimate(slot: Slot) -> float:
    """Minus the smoothed success rate (s + 1) / (n + 2) of ``slot``'s score now (a sort key)."""
    successes, calls = slot.score(-INF)
    return -(successes + 1.0) / (calls + 2.0)


def wilson(successes: float, calls: float, z: float = NOISE_Z) -> tuple[float, float]:
    """The Wilson score interval of ``successes`` out of ``calls`` (weighted counts allowed):
    ``(0, 1)`` with no calls."""
    if calls <= 0.0:
        return 0.0, 1.0
    rate = successes / calls
    if rate > 1.0:  # rounding of weighted counts
        rate = 1.0
    z2n = z * z / calls
    centre = rate + 0.5 * z2n
    spread = z * math.sqrt(rate * (1.0 - rate) / calls + 0.25 * z2n / calls)
    denominator = 1.0 + z2n
    lower, upper = (centre - spread) / denominator, (centre + spread) / denominator
    return (lower if lower > 0.0 else 0.0), (upper if upper < 1.0 else 1.0)


class _LeastLatency(Sorted):
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

    def _order(self, now: float, first: bool) -> Iterator[Slot]:
        start = self._next
        slots = self.slots
        if first:  # each request (not each attempt) starts one provider further along
            self._next = (start + 1) % len(slots)
        return map(slots.__getitem__, itertools.chain(range(start, len(slots)), range(start)))


class _WeightedRandom(Ordering):
    def __init__(self, slots: Sequence[Slot], rng: random.Random) -> None:
        super().__init__(slots, rng)
        self._cumulative = list(itertools.accumulate(s.weight for s in self.slots))

    def _order(self, now: float, first: bool) -> Iterator[Slot]:
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
    def _order(self, now: float, first: bool) -> Iterator[Slot]:
        slots, n = self.slots, len(self.slots)
        if n == 1:
            yield slots[0]
            return
        rng = self.rng
        i = int(rng.random() * n)
        j = int(rng.random() * (n - 1))
        j += j >= i  # a second, distinct index
        a, b = slots[i], slots[j]
        if _better(b, a, now):
            a, b = b, a
        yield a
        yield b
        start = int(rng.random() * n)
        for k in itertools.chain(range(start, n), range(start)):
            if k != i and k != j:
                yield slots[k]


def _better(a: Slot, b: Slot, now: float) -> bool:
    """Whether ``a`` goes before ``b``: a success rate better beyond noise, else lower latency."""
    lower_a, upper_a = wilson(*a.score(now))
    lower_b, upper_b = wilson(*b.score(now))
    if upper_a < lower_b or upper_b < lower_a:
        return lower_a > lower_b
    lat_a = INF if a.latency is None else a.latency
    lat_b = INF if b.latency is None else b.latency
    return (lat_a, a.index) < (lat_b, b.index)


class _Custom(Ordering):
    probes_first = False  # the order is the user's own

    def __init__(self, slots: Sequence[Slot], rng: random.Random, fn: CustomStrategy) -> None:
        super().__init__(slots, rng)
        self._fn = fn
        self._by_name = {s.name: s for s in self.slots}

    def _order(self, now: float, first: bool) -> Iterator[Slot]:
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
