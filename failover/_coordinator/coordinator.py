"""Coordinator: one CircuitBreaker per provider, and requests that fail over between them."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from functools import partial
from operator import methodcaller
from types import TracebackType
from typing import Any, Literal, TypeAlias, TypeVar

from failover._base.records import Result, Skip, traced_result
from failover._breaker.breaker import CircuitBreaker
from failover._coordinator.checks import (
    PROBE_TRIGGER,
    check_can_probe,
    check_fallbacks,
    check_names,
    check_providers,
    check_values,
    check_weights,
    hedge_after_of,
    instance,
    unserved,
)
from failover._coordinator.fleet import Fleet, FleetEvent
from failover._coordinator.health_runner import HealthRunner
from failover._coordinator.hedge import run_hedged
from failover._coordinator.kinds import CALL, GENERATE, SEARCH, STREAM
from failover._coordinator.membership import FleetChanges
from failover._coordinator.plan import Plan, run_attempt
from failover._coordinator.pool import Layout, Pool
from failover._coordinator.running import Running
from failover._coordinator.slot import Slot, share_quotas
from failover._coordinator.stream import stream
from failover._coordinator.trace import skip_of
from failover._distributed.replica import Replica, local_events
from failover.clock import Clock, SystemClock
from failover.health import HealthCheckConfig
from failover.hooks import Hook, resolve_hooks
from failover.provider import LLMResponse, Provider, SearchResults
from failover.ratelimit import Quota, RateLimit
from failover.retry import RetryPolicy
from failover.status import CoordinatorStatus, coordinator_status
from failover.storage import Storage
from failover.strategies import CustomStrategy, StrategyName, bind
from failover.tracing import CoordinatorTelemetry, instrument
from statemachines import (
    BreakerPolicy,
    ConfigurationError,
    FailoverEvent,
)

__all__ = ["ALL_DOWN_MODES", "PROBE_TRIGGER", "AllDown", "Coordinator"]

_new_result = tuple.__new__  # Result(...) without its Python-level __new__: the hot path


T = TypeVar("T")
AllDown: TypeAlias = Literal["fail_fast", "wait", "probe"]
StreamOf: TypeAlias = Callable[
    [str | Mapping[str, object], Mapping[str, object]], AsyncIterator[str]
]
ALL_DOWN_MODES: tuple[AllDown, ...] = ("fail_fast", "wait", "probe")


class Coordinator(FleetChanges, Running):
    """Sends each request to the best provider that admits it, and fails over to the next.

    Args:
        providers: The providers, in registration order (names must be unique).
        fallback: Fallback providers (basic mode): never ranked by the strategy, tried only
            when no provider admits a call or every attempt at the providers failed, each at
            most once per request, in priority order (then registration order); their attempts
            do not count against ``retry.max_attempts``. Names unique across both lists.
        policy: The BreakerPolicy of every provider without its own.
        policies: A policy per provider name.
        strategy: A built-in strategy's name (``failover.strategies``) or a callable over
            status snapshots.
        retry: Attempts, deadlines and backoff per request.
        rate_limits: A RateLimit per provider name; a provider without one is not limited on
            this side (what it reports, a RateLimited's Retry-After, is still honoured).
        health: Background health checks (started by ``start()`` / ``async with``).
        health_checks: A provider's own health-check config, by name, in place of ``health``
            (a longer interval where a check is a billed request, ``enabled=False`` for none).
        clock: Where time comes from (ManualClock in tests).
        hooks: Breaker hooks for every provider's breaker; None for the defaults, () for none.
        fleet_hooks: Callables taking a FleetEvent, called at each change of the fleet state
            (NORMAL, DEGRADED, BASIC: how many providers admit calls); like transition hooks,
            an awaitable they return is scheduled, and one that raises is logged.
        all_down: When no provider admits a call: "fail_fast" raises AllProvidersUnavailable
            at once; "wait" waits for the earliest one if that is within the deadline; "probe"
            probes the OPEN provider that failed least recently.
        priorities: A priority per provider name (default 0; higher first).
        weights: A weight per provider name for "weighted_random" (default 1; > 0).
        seed: Seeds the coordinator's random source (backoff jitter, random strategies).
        hedge_after: Hedging, off by default (None): when an attempt has not answered after
            this many seconds, the next candidate that admits a call is started beside it;
            the first success wins and the others are cancelled (recorded as cancellations,
            not failures). Streams are not hedged.
        storage: Share breaker state with other processes (``failover.storage``, e.g.
            ``RedisStorage(url)``) from ``start()`` to ``aclose()`` (which closes it); None:
            every breaker is this process's own.
        telemetry: OpenTelemetry spans and gen_ai metrics of the requests
            (``failover.tracing``); None, the default, records nothing and costs nothing.

    Raises:
        ConfigurationError: A duplicate provider name, a name in ``policies``,
            ``rate_limits``, ``priorities`` or ``weights`` that is no provider's (a fallback's
            may be in all but ``weights``), or a bad
            strategy, all_down, weight or argument type; all_down="probe" with a policy
            that removed the built-in ``probe_now`` transition.
    """

    def __init__(
        self,
        providers: Iterable[Provider],
        *,
        fallback: Iterable[Provider] = (),
        policy: BreakerPolicy | None = None,
        policies: Mapping[str, BreakerPolicy] | None = None,
        strategy: StrategyName | CustomStrategy = "success_rate",
        retry: RetryPolicy | None = None,
        rate_limits: Mapping[str, RateLimit] | None = None,
        health: HealthCheckConfig | None = None,
        health_checks: Mapping[str, HealthCheckConfig] | None = None,
        clock: Clock | None = None,
        hooks: Iterable[Hook] | None = None,
        fleet_hooks: Iterable[Callable[[FleetEvent], object]] = (),
        all_down: AllDown = "fail_fast",
        priorities: Mapping[str, float] | None = None,
        weights: Mapping[str, float] | None = None,
        seed: int | None = None,
        hedge_after: float | None = None,
        storage: Storage | None = None,
        telemetry: CoordinatorTelemetry | None = None,
    ) -> None:
        providers, fallback = list(providers), list(fallback)
        names = check_providers(providers)
        fallbacks = check_fallbacks(fallback, names)
        policies, rate_limits = dict(policies or {}), dict(rate_limits or {})
        priorities, weights = dict(priorities or {}), dict(weights or {})
        health_checks = dict(health_checks or {})
        for arg, mapping in (
            ("policies", policies),
            ("rate_limits", rate_limits),
            ("priorities", priorities),
            ("health_checks", health_checks),
        ):
            check_names(arg, mapping, names, fallbacks)
        check_weights(weights, names, fallbacks)
        check_values(policy, policies, rate_limits, priorities, weights, health_checks)
        self.retry = instance(retry, RetryPolicy, "retry", "RetryPolicy(max_attempts=3)")
        self.health = instance(health, HealthCheckConfig, "health", "HealthCheckConfig()")
        if all_down not in ALL_DOWN_MODES:
            raise ConfigurationError(
                f"all_down must be one of {list(ALL_DOWN_MODES)!r}, got {all_down!r}"
            )
        self.hedge_after = hedge_after_of(hedge_after)
        self.all_down: AllDown = all_down
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._rng = random.Random(seed)
        self._fleet = Fleet(self.clock, fleet_hooks)
        ranked = len(providers)  # slots[:ranked]: the providers; the rest: fallbacks
        hooks = self._hooks = None if hooks is None else tuple(hooks)
        self._health_checks = health_checks
        slots = tuple(
            self._slot(
                i,
                p,
                policies.get(p.name, policy),
                rate_limits,
                priorities,
                weights,
                hooks,
                ranked=i < ranked,
            )
            for i, p in enumerate([*providers, *fallback])
        )
        self._by_name = {s.name: s for s in slots}
        primaries = slots[:ranked]
        by_priority = tuple(sorted(slots[ranked:], key=lambda s: (-s.priority, s.index)))
        layout = Layout(slots, ranked, by_priority, bind(strategy, primaries, self._rng))
        self._pool = Pool(self, layout, self._rng, self._fleet)
        self._fleet.follow([s.breaker for s in primaries])
        self.strategy = strategy
        self._started = self._closed = False
        self.not_built: dict[str, str] = {}  # managed_failover(on_build_error="degrade")
        self._health_runner = HealthRunner(self._slots, self.clock, self.health, health_checks)
        self._replica = (
            None if storage is None else Replica(storage, [s.breaker for s in self._slots])
        )
        if self._replica is not None:
            share_quotas(self._replica, self._slots, self.clock)
        self._stream: StreamOf = partial(stream, self._pool)
        traced = instrument(self._pool, telemetry)
        self._telemetry = None if traced is None else traced.telemetry
        if traced is not None:  # every request goes through it (set on the instance)
            self.__dict__["_run"] = traced.run
            self._stream = traced.stream

    # --- the current layout (failover._coordinator.pool.Layout: add / remove swap it) ------------

    @property
    def _slots(self) -> tuple[Slot, ...]:
        return self._pool.layout.slots

    @property
    def _ranked(self) -> int:
        return self._pool.layout.ranked

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
    ) -> Slot:
        policy = policy or BreakerPolicy()
        if self.all_down == "probe" and ranked:
            check_can_probe(provider.name, policy)
        resolved = resolve_hooks(hooks)
        if ranked:  # each transition of a provider re-evaluates the fleet state
            resolved = (*resolved, self._fleet.watch)
        breaker = CircuitBreaker(provider.name, policy, clock=self.clock, hooks=resolved)
        limit = rate_limits.get(provider.name)
        return Slot(
            index,
            provider,
            breaker,
            quota=None if limit is None else Quota(limit),
            priority=priorities.get(provider.name, 0.0),
            weight=weights.get(provider.name, 1.0),
        )

    # --- requests -------------------------------------------------------------------------------

    # call/generate/search are plain methods returning the request's coroutine (``await`` it,
    # or hand it to ``asyncio.create_task``): one coroutine fewer per request than ``async def``.

    def call(self, fn: Callable[[Any], Awaitable[T]]) -> Coroutine[Any, Any, Result[T]]:
        """Await ``fn(provider)`` at the best admitting provider, failing over as needed.

        Returns:
            The value, the provider that answered, and every attempt (the answering one last).

        Raises:
            AllProvidersFailed: Every attempt failed (the last error is its ``__cause__``).
            AllProvidersUnavailable: No provider admitted a call: no attempt was made.
            BadRequest: The request is wrong (the provider's own error, raised as it is);
                ContentBlocked too when ``retry.stop_on_content_blocked``.
        """
        return self._run(fn, CALL)

    def generate(
        self, prompt: str | Mapping[str, object], **options: object
    ) -> Coroutine[Any, Any, Result[LLMResponse]]:
        """``provider.generate(prompt, **options)`` through ``call`` (LLM providers only: with
        none, ConfigurationError naming what the providers serve)."""
        return self._run(methodcaller("generate", prompt, **options), GENERATE)

    def search(self, query: str, **options: object) -> Coroutine[Any, Any, Result[SearchResults]]:
        """``provider.search(query, **options)`` through ``call`` (search providers only: with
        none, ConfigurationError naming what the providers serve)."""
        return self._run(methodcaller("search", query, **options), SEARCH)

    def stream(self, prompt: str | Mapping[str, object], **options: object) -> AsyncIterator[str]:
        """The generated text chunk by chunk, from the best admitting LLM provider.

        Fails over until the first chunk arrives; an error after it raises StreamInterrupted
        (carrying the text so far) and counts as the provider's failure. A coordinator none of
        whose providers can stream raises ConfigurationError here.
        """
        if (error := unserved(self._slots, STREAM)) is not None:
            raise error
        return self._stream(prompt, options)

    async def _run(self, fn: Callable[[Any], Awaitable[T]], kind: int) -> Result[T]:
        now = self.clock.monotonic()
        timeout = self.retry.request_timeout
        deadline = None if timeout is None else now + timeout
        if self.hedge_after is not None:  # a capability no provider serves is misuse: say so
            if (error := unserved(self._slots, kind)) is not None:
                raise error
            return await run_hedged(Plan(self._pool, kind, deadline), fn, self.hedge_after)
        # The common case first, without a Plan: the first provider in the strategy's order
        # that admits the call answers at once.
        ordering = self._pool.layout.ordering
        leader = ordering.leader(now)
        passed: list[Skip] | None = None  # passed over before the answer (the decision trace)
        if leader is not None and leader.serves[kind]:
            slot, generation = leader, leader.admit(now)
        else:
            generation = None
        if generation is None:
            passed = []
            for slot in ordering.order(now, True):
                if slot is not leader and slot.serves[kind]:  # the leader was asked: once
                    generation = slot.admit(now)
                    if generation is not None:
                        break
                passed.append(skip_of(slot, kind, now))
            else:  # nobody admitted at once: a capability no provider serves is misuse, say so
                if (error := unserved(self._slots, kind)) is not None:
                    raise error
                return await Plan(self._pool, kind, deadline, first=False).run(fn)
        value, record = await run_attempt(self._pool, slot, generation, fn, deadline)
        if record.error is None:
            if passed:
                return traced_result(value, slot.name, (record,), tuple(passed))
            return _new_result(Result, (value, slot.name, (record,)))
        plan = Plan(self._pool, kind, deadline, first=False)
        plan.ended(slot, record)  # raises a request-level error (BadRequest)
        return await plan.run(fn)

    # --- inspection -----------------------------------------------------------------------------

    @property
    def providers(self) -> tuple[Provider, ...]:
        """The providers (not the fallbacks), in registration order."""
        return tuple(s.provider for s in self._slots[: self._ranked])

    @property
    def fallbacks(self) -> tuple[Provider, ...]:
        """The fallback providers, in registration order."""
        return tuple(s.provider for s in self._slots[self._ranked :])

    def breaker(self, name: str) -> CircuitBreaker:
        """The breaker of the provider called ``name``."""
        try:
            return self._by_name[name].breaker
        except KeyError:
            raise KeyError(
                f"no provider named {name!r}; the coordinator has {list(self._by_name)!r}"
            ) from None

    def status(self) -> CoordinatorStatus:
        """A frozen snapshot of every provider and fallback, the overall health and the fleet
        state (evaluated now: a cooldown that has ended counts without any request)."""
        fleet = self._fleet
        return coordinator_status(self._slots, self._ranked, fleet, self.clock, self.not_built)

    async def events(
        self, provider: str | None = None, *, since: int = 0, limit: int | None = None
    ) -> tuple[FailoverEvent, ...]:
        """The event log, per provider in seq order (seq > ``since``, at most ``limit`` each),
        providers in registration order: with a storage, the shared log of every process;
        without one, each breaker's recent ``events``."""
        names = list(self._by_name) if provider is None else [self.breaker(provider).name]
        if self._replica is not None:
            return await self._replica.events(names, since, limit)
        return local_events([self._by_name[n].breaker for n in names], since, limit)

    async def __aenter__(self) -> Coordinator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self._slots[: self._ranked])
        fallbacks = ", ".join(s.name for s in self._slots[self._ranked :])
        fallback = f" fallback=[{fallbacks}]" if fallbacks else ""
        return f"<Coordinator [{names}]{fallback} strategy={self.strategy!r}>"


# --- validation -------------------------------------------------------------------------------
