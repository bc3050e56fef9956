"""Run-time fleet changes: ``Coordinator.add`` and ``Coordinator.remove`` (internal).

A change is checked and a new layout swapped in with no await in between (slots numbered
afresh, primaries first, then fallbacks; a new strategy order; the fleet state following the
new primaries; new health checks, started once the old ones have stopped), so that a request
sees either the old layout or the new one, and two changes never interleave their checks. A
request already running keeps the layout it started with (``Plan`` holds it); the slots of one
provider in both layouts share its breaker, quota and ``Live`` record, so a removed provider is
skipped by every request from the moment ``remove`` is called, and its attempts in flight are
counted until they end. With a storage, an added provider's breaker and rate limit join the
replica (``Replica.join``), and a removed one leaves it once drained (``Replica.leave``). See
docs/how-to/change-the-fleet.md.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from failover._base.log import get_logger
from failover._base.numbers import in_range
from failover._coordinator.checks import check_values, instance
from failover._coordinator.health_runner import HealthRunner
from failover._coordinator.pool import Layout
from failover._coordinator.slot import Slot, share_quotas
from failover._coordinator.timeouts import clock_timeout
from failover.provider import Provider
from failover.ratelimit import RateLimit
from failover.strategies import bind
from statemachines import BreakerPolicy, ConfigurationError

if TYPE_CHECKING:
    import random

    from failover._coordinator.fleet import Fleet
    from failover._coordinator.pool import Pool
    from failover._distributed.replica import Replica
    from failover._tracing.runtime import Instrumented
    from failover.clock import Clock
    from failover.health import HealthCheckConfig
    from failover.hooks import Hook
    from failover.strategies import CustomStrategy, StrategyName

__all__ = ["FleetChanges", "add", "remove"]

logger = get_logger(__name__)


def _open(coordinator: FleetChanges, what: str) -> None:
    if coordinator._closed:
        raise ConfigurationError(f"Coordinator.{what}() on a closed coordinator")


async def add(
    coordinator: FleetChanges,
    provider: Provider,
    policy: BreakerPolicy | None,
    rate_limit: RateLimit | None,
    priority: float,
    weight: float,
    fallback: bool,
) -> None:
    """``Coordinator.add``."""
    _open(coordinator, "add")
    name = getattr(provider, "name", None)
    if not isinstance(name, str) or not name or not isinstance(provider, Provider):
        raise ConfigurationError(
            f"add() needs a Provider (name, health_check() and aclose()), got {provider!r}"
        )
    limits = {} if rate_limit is None else {name: rate_limit}
    check_values(None, {} if policy is None else {name: policy}, limits, {name: priority}, {})
    if not fallback:
        check_values(None, {}, {}, {}, {name: weight})
    if name in coordinator._by_name:
        raise ConfigurationError(
            f"a provider named {name!r} is already in the coordinator; the providers are "
            f"{list(coordinator._by_name)!r}"
        )
    slot = coordinator._slot(
        len(coordinator._slots),
        provider,
        instance(policy, BreakerPolicy, "policy", "BreakerPolicy()"),
        limits,
        {name: priority},
        {name: weight},
        coordinator._hooks,
        ranked=not fallback,
    )
    if coordinator._telemetry is not None:  # its spans and gen_ai metrics
        coordinator._telemetry.describe(slot, fallback=fallback)
    if (replica := coordinator._replica) is not None:  # shared: the new breaker and limit too
        replica.join(slot.breaker)
        share_quotas(replica, [slot], coordinator.clock)
    primaries = list(coordinator._slots[: coordinator._ranked])
    fallbacks = list(coordinator._slots[coordinator._ranked :])
    (fallbacks if fallback else primaries).append(slot)
    old = _swap(coordinator, primaries, fallbacks)  # no await before: the check still holds
    await _restart_health(coordinator, old)
    logger.info("provider %r added to the coordinator", name)
    coordinator._fleet.announce("added", name, "fallback" if fallback else "")


async def remove(coordinator: FleetChanges, name: str, drain_timeout: float | None) -> None:
    """``Coordinator.remove``."""
    _open(coordinator, "remove")
    if drain_timeout is not None and not in_range(drain_timeout, 0, math.inf):
        raise ConfigurationError(
            f"drain_timeout must be None (no limit) or a finite number of seconds >= 0, "
            f"got {drain_timeout!r}"
        )
    slot = coordinator._by_name.get(name)
    if slot is None:
        raise ConfigurationError(
            f"no provider named {name!r}; the providers are {list(coordinator._by_name)!r}"
        )
    live = slot.live
    ranked = coordinator._slots[: coordinator._ranked]
    if slot.ordering is not None and all(s.live is live for s in ranked):
        raise ConfigurationError(
            f"cannot remove {name!r}: it is the coordinator's last provider that is not a "
            "fallback (a coordinator needs one); add another first"
        )
    live.removed = True  # no await since the checks: from now on no request picks it
    current = coordinator._slots
    primaries = [s for s in current[: coordinator._ranked] if s.live is not live]
    fallbacks = [s for s in current[coordinator._ranked :] if s.live is not live]
    old = _swap(coordinator, primaries, fallbacks)
    await _restart_health(coordinator, old)
    await _drain(coordinator, slot, drain_timeout)
    if coordinator._replica is not None:
        coordinator._replica.leave(name)
    try:
        await slot.provider.aclose()
    except Exception:
        logger.exception("closing removed provider %r failed; ignored", name)
    logger.info("provider %r removed from the coordinator", name)
    coordinator._fleet.announce("removed", name, "")


async def _drain(coordinator: FleetChanges, slot: Slot, timeout: float | None) -> None:
    """Wait until ``slot``'s attempts in flight have ended (or ``timeout`` has passed)."""
    live = slot.live
    if not live.in_flight:
        return
    live.drained = drained = asyncio.Event()
    try:
        if timeout is None:
            await drained.wait()
        else:
            async with clock_timeout(coordinator.clock, timeout):
                await drained.wait()
    except TimeoutError:
        logger.warning(
            "provider %r still had %d attempt(s) in flight after %s s; closing it anyway",
            slot.name,
            live.in_flight,
            timeout,
        )


def _swap(
    coordinator: FleetChanges, primaries: Sequence[Slot], fallbacks: Sequence[Slot]
) -> HealthRunner:
    """Swap in a layout of ``primaries`` then ``fallbacks`` (fresh indexes, a new order, new
    health checks, not started yet); synchronous, so that no request sees half of it. The
    health runner it replaced is returned (``_restart_health`` stops it)."""
    slots = tuple(s.moved(i) for i, s in enumerate([*primaries, *fallbacks]))
    ranked = len(primaries)
    pool = coordinator._pool
    old_ordering, old_runner = pool.layout.ordering, coordinator._health_runner
    by_priority = tuple(sorted(slots[ranked:], key=lambda s: (-s.priority, s.index)))
    ordering = bind(coordinator.strategy, slots[:ranked], pool.rng)
    pool.layout = Layout(slots, ranked, by_priority, ordering)  # one assignment: old or new
    coordinator._by_name = {s.name: s for s in slots}
    coordinator._health_runner = HealthRunner(
        slots, coordinator.clock, coordinator.health, coordinator._health_checks
    )
    old_ordering.close()
    coordinator._fleet.follow([s.breaker for s in slots[:ranked]])
    return old_runner


async def _restart_health(coordinator: FleetChanges, old: HealthRunner) -> None:
    """Stop the health checks of a layout that was swapped out and start the current one's."""
    if coordinator._started and not coordinator._closed:
        await old.stop()
        if not coordinator._closed:
            coordinator._health_runner.start(coordinator._rng)


class FleetChanges:
    """``Coordinator.add`` and ``Coordinator.remove`` (the Coordinator's base class, which
    declares here what of the Coordinator they change)."""

    clock: Clock
    health: HealthCheckConfig
    strategy: StrategyName | CustomStrategy
    not_built: dict[str, str]
    _closed: bool
    _started: bool
    _by_name: dict[str, Slot]
    _hooks: tuple[Hook, ...] | None
    _health_checks: Mapping[str, HealthCheckConfig]
    _health_runner: HealthRunner
    _replica: Replica | None
    _rng: random.Random
    _fleet: Fleet
    _pool: Pool
    _telemetry: Instrumented | None

    if TYPE_CHECKING:

        @property
        def _slots(self) -> tuple[Slot, ...]: ...
        @property
        def _ranked(self) -> int: ...
        def _slot(
            self,
            index: int,
            provider: Provider,
            policy: BreakerPolicy | None,
            rate_limits: Mapping[str, RateLimit],
            priorities: Mapping[str, float],
            weights: Mapping[str, float],
            hooks: Iterable[Hook] | None,
            *,
            ranked: bool,
        ) -> Slot: ...

    async def add(
        self,
        provider: Provider,
        *,
        policy: BreakerPolicy | None = None,
        rate_limit: RateLimit | None = None,
        priority: float = 0.0,
        weight: float = 1.0,
        fallback: bool = False,
    ) -> None:
        """Add ``provider`` while requests run: it joins the strategy's order (or the
        fallbacks), the fleet state, the health checks, the shared storage and the telemetry,
        if any; a FleetEvent (``change="added"``). See docs/how-to/change-the-fleet.md.

        Raises:
            ConfigurationError: A provider of that name is already here, a bad value, or the
                coordinator is closed.
        """
        await add(self, provider, policy, rate_limit, priority, weight, fallback)

    def report_not_built(self, name: str, reason: str) -> None:
        """Say that provider ``name`` of the settings could not be built, for ``reason`` (give
        it redacted): it shows in ``status().not_built`` and a FleetEvent
        (``change="not_built"``) is sent. ``managed_failover(on_build_error="degrade")`` calls
        this for each provider it could not build."""
        self.not_built[name] = reason
        self._fleet.announce("not_built", name, reason)

    async def remove(self, name: str, *, drain_timeout: float | None = 30.0) -> None:
        """Take provider ``name`` out while requests run: no request picks it once this is
        called; its attempts in flight are awaited (up to ``drain_timeout`` seconds on the
        coordinator's clock, None for no limit; then it is closed anyway, with a warning),
        then it is closed; a FleetEvent (``change="removed"``).

        Raises:
            ConfigurationError: No provider has that name, it is the last one that is not a
                fallback, or the coordinator is closed.
        """
        await remove(self, name, drain_timeout)
