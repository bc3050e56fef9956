"""One coordinated request: choosing each attempt, running it, waiting, and how it ends.

Per request (docs/reference/failover.md, "The coordinator"): at most ``max_attempts``
attempts; each goes to the first provider in the strategy's order that has quota and whose
breaker admits the call, fresh providers before ones already tried; a provider already tried is
tried again only after ``retry.backoff(...)`` (never before its Retry-After); waits happen on
the injected clock and only when they end within the request's deadline. A BadRequest (and a
ContentBlocked when ``retry.stop_on_content_blocked``) ends the request at once and is raised
as it is.

Fallbacks (basic mode, L6): when no provider admits a call now (fresh, or tried and its
backoff over) or the provider attempts are spent, the first fallback in priority order that
admits and has not been tried in this request gets the attempt, before any wait; each fallback
is tried at most once per request, and fallback attempts do not count against
``max_attempts`` (the deadline still bounds them). ``all_down`` ("wait", "probe") applies only
once no fallback admits either.

The common request (its first pick admits, its first attempt answers) needs none of a Plan's
bookkeeping: ``Coordinator._run`` picks and calls ``run_attempt`` itself and makes a Plan only
when that first attempt failed or nobody admitted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeVar

from failover._base.records import Attempt, Result, Skip, traced_result
from failover._coordinator.slot import Slot
from failover._coordinator.timeouts import await_within, resume_within
from failover._coordinator.trace import skip_of, skips_of
from failover.errors import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BadRequest,
    ContentBlocked,
    FailoverError,
    ProviderTimeout,
)
from failover.provider import LLMResponse
from statemachines import FailoverReason, retry_after_of

if TYPE_CHECKING:
    from failover._coordinator.pool import Pool

__all__ = ["Plan", "request_deadline", "run_attempt"]

T = TypeVar("T")
_RATE_LIMITED = FailoverReason.RATE_LIMITED
_new_attempt = tuple.__new__  # Attempt(...) without its Python-level __new__: the hot path


def request_deadline(pool: Pool, now: float) -> float | None:
    """When a request starting at ``now`` must end (None: no deadline)."""
    timeout = pool.settings.retry.request_timeout
    return None if timeout is None else now + timeout


class Plan:
    """The state of one request: its attempts, tried providers, backoffs and deadline."""

    __slots__ = (
        "attempts",
        "deadline",
        "fallbacks",
        "first",
        "kind",
        "not_before",
        "ordering",
        "passed",
        "pool",
        "probed",
        "ranked",
        "slots",
        "spent",
        "tries",
    )

    def __init__(
        self, pool: Pool, kind: int, deadline: float | None, *, first: bool = True
    ) -> None:
        """``first``: whether the request's first pick is still to be made (the strategy's
        order is told, e.g. round robin moves on once per request)."""
        self.pool = pool
        # the layout the request started with (Coordinator.add / remove swap in a new one)
        self.slots, self.ranked, self.fallbacks, self.ordering = pool.layout
        self.kind = kind
        self.deadline = deadline
        self.first = first
        self.attempts: list[Attempt] = []
        self.tries: dict[int, int] = {}
        self.not_before: dict[int, float] = {}
        self.passed: dict[int, Skip] = {}  # examined and passed over (the decision trace)
        self.probed = False
        self.spent = 0  # attempts at providers (not fallbacks) that ended

    async def run(self, fn: Callable[[Any], Awaitable[T]]) -> Result[T]:
        """Attempt ``fn`` at provider after provider until one answers or the request ends."""
        while True:
            picked = await self.next()
            if picked is None:
                raise self.unavailable()
            slot = picked[0]
            value, record = await run_attempt(self.pool, slot, picked[1], fn, self.deadline)
            self.ended(slot, record)
            if record.error is None:
                return traced_result(value, slot.name, tuple(self.attempts), self.skipped())

    # --- choosing the next attempt -------------------------------------------------------------

    async def next(self) -> tuple[Slot, int] | None:
        """The next provider and its admission's generation; None when the request must end."""
        settings = self.pool.settings
        clock = settings.clock
        limit = settings.retry.max_attempts
        while True:
            now = clock.monotonic()
            if self.deadline is not None and now >= self.deadline:
                return None
            if self.spent < limit:
                picked = self._fresh(now) or self._again(now)
                if picked is not None:
                    return picked
            picked = self._fallback(now)
            if picked is not None or self.spent >= limit:
                return picked
            wake = self._wake_at(now)
            if wake is None or (self.deadline is not None and wake > self.deadline):
                return self._probe(now)
            await clock.sleep(wake - now)

    def pick_now(self) -> tuple[Slot, int] | None:
        """A provider that admits a call at once (for a hedge): never waits, never probes."""
        now = self.pool.settings.clock.monotonic()
        if self.deadline is not None and now >= self.deadline:
            return None
        return self._fresh(now) or self._again(now)

    def _fresh(self, now: float) -> tuple[Slot, int] | None:
        first, self.first = self.first, False
        return self._first_admitting(self.ordering.order(now, first), now)

    def _first_admitting(self, slots: Iterable[Slot], now: float) -> tuple[Slot, int] | None:
        """The first of ``slots`` not tried yet that serves this kind and admits a call now;
        each one passed over is noted with why (the decision trace)."""
        kind, tries = self.kind, self.tries
        for slot in slots:
            if slot.index in tries or slot.live.removed:
                continue
            if slot.serves[kind]:
                generation = slot.admit(now)
                if generation is not None:
                    return slot, generation
            self.passed[slot.index] = skip_of(slot, kind, now)
        return None

    def skipped(self) -> tuple[Skip, ...]:
        """The providers passed over and never attempted in this request, and why."""
        tries = self.tries
        return tuple(skip for index, skip in self.passed.items() if index not in tries)

    def _fallback(self, now: float) -> tuple[Slot, int] | None:
        """The first fallback (priority order) not tried yet that admits a call now."""
        fallbacks = self.fallbacks
        if not fallbacks:
            return None
        self.pool.fleet.refresh()  # the fleet state as this request finds it
        return self._first_admitting(fallbacks, now)

    def _again(self, now: float) -> tuple[Slot, int] | None:
        slots = self.slots
        ready = sorted((t, i) for i, t in self.not_before.items() if t <= now)
        for _, index in ready:
            if slots[index].live.removed:
                continue
            generation = slots[index].admit(now)
            if generation is not None:
                return slots[index], generation
        return None

    def _wake_at(self, now: float) -> float | None:
        """The earliest time worth waiting for: a tried provider's backoff (or quota), and in
        ``all_down="wait"`` mode any provider's (or untried fallback's) cooldown too."""
        wait = self.pool.settings.all_down == "wait"
        ranked = self.ranked
        times = []
        for slot in self.slots:
            if not slot.serves[self.kind] or slot.live.removed:
                continue
            tried = slot.index in self.tries
            if not (tried or wait) or (tried and slot.index >= ranked):
                continue  # a fallback is never tried twice in a request
            when = slot.ready_at(now, breaker=wait)
            if when is not None:
                times.append(max(when, self.not_before.get(slot.index, when)))
        return min(times) if times else None

    def _probe(self, now: float) -> tuple[Slot, int] | None:
        pool = self.pool
        if pool.settings.all_down != "probe" or self.attempts or self.probed:
            return None
        self.probed = True
        return pool.probe(self.kind, now)

    def unavailable(self) -> FailoverError:
        """The error that ends this request now: AllProvidersFailed after an attempt,
        AllProvidersUnavailable (with the earliest retry time) before any."""
        now = self.pool.settings.clock.monotonic()
        untried = [s for s in self.slots if s.index not in self.tries and not s.live.removed]
        skipped = skips_of(untried, self.kind, now)
        if self.attempts:
            failed = AllProvidersFailed(self.attempts, skipped)
            failed.__cause__ = self.attempts[-1].error
            return failed
        slots = [s for s in self.slots if s.serves[self.kind] and not s.live.removed]
        times = [t for s in slots if (t := s.ready_at(now, breaker=True)) is not None]
        earliest = min(times) if times else None
        return AllProvidersUnavailable(earliest, [s.name for s in slots], now, skipped)

    # --- one attempt ---------------------------------------------------------------------------

    async def attempt(
        self,
        slot: Slot,
        generation: int,
        fn: Callable[[Any], Awaitable[T]],
        *,
        finish_success: bool = True,
    ) -> tuple[T | None, BaseException | None]:
        """``run_attempt`` within this request: ``(value, None)`` or ``(None, error)``; a
        request-level error is raised."""
        value, record = await run_attempt(
            self.pool, slot, generation, fn, self.deadline, finish_success
        )
        self.ended(slot, record)
        return value, record.error

    def ended(self, slot: Slot, record: Attempt) -> None:
        """Count an attempt that ended (``run_attempt`` recorded it at the provider); after a
        failure, set when ``slot`` may be tried again, or raise a request-level error."""
        self.attempts.append(record)
        ranked = slot.ordering is not None  # a fallback is in no strategy's order
        self.spent += ranked
        error = record.error
        if error is None:
            return
        retry = self.pool.settings.retry
        if isinstance(error, BadRequest) or (
            isinstance(error, ContentBlocked) and retry.stop_on_content_blocked
        ):
            raise error
        end = record.started_at + record.duration
        retry_after = retry_after_of(getattr(error, "retry_after", None))  # any exception
        if retry_after is not None and getattr(error, "signal", None) is _RATE_LIMITED:
            slot.block(end + retry_after)  # RateLimited, QuotaExhausted
        tries = self.tries[slot.index] = self.tries.get(slot.index, 0) + 1
        if ranked:  # a fallback is not tried again in this request: no backoff to wait for
            wait = retry.backoff(tries, self.pool.rng, retry_after)
            self.not_before[slot.index] = end + wait


async def run_attempt(
    pool: Pool,
    slot: Slot,
    generation: int,
    fn: Callable[[Any], Awaitable[T]],
    deadline: float | None,
    finish_success: bool = True,
) -> tuple[Any, Attempt]:
    """Run ``fn(provider)`` at ``slot`` (admitted in ``generation``) and record how it ended at
    the provider (breaker, figures, strategy, quota): ``(value, attempt)``, ``attempt.error``
    None on success.

    The attempt may take ``retry.attempt_timeout``, cut to what is left until ``deadline``;
    cancellation is recorded as IGNORED and propagates. With ``finish_success`` false a success
    is not told to the breaker (a stream tells it when the stream ends).
    """
    settings = pool.settings
    clock = settings.clock
    started = clock.monotonic()
    quota = slot.quota
    if quota is not None:
        quota.consume(started)
    limit = settings.retry.attempt_timeout
    if deadline is not None and (limit is None or deadline - started < limit):
        limit = deadline - started
    live = slot.live  # counted in flight until the provider's answer or error is in
    live.in_flight += 1
    try:
        awaitable = fn(slot.provider)
        if limit is None:
            value = await awaitable
        elif type(awaitable) is CoroutineType:
            # Stepped once first: one that answers at once needs no timer (and none could
            # have fired); the deadline is armed only if it suspends.
            try:
                yielded = awaitable.send(None)
            except StopIteration as stop:
                value = stop.value
            else:
                value = await resume_within(clock, awaitable, yielded, started + limit)
        else:
            value = await await_within(clock, awaitable, started + limit)
    except TimeoutError as exc:
        error: BaseException = exc
        if limit is not None and clock.monotonic() - started >= limit:
            error = ProviderTimeout(
                f"provider {slot.name!r} did not answer within {limit:.3f} s", provider=slot.name
            )
            error.__cause__ = exc
    except Exception as exc:
        error = exc
    except BaseException as exc:  # cancellation: recorded IGNORED, and it propagates
        live.ended()
        slot.breaker.finish(generation, started, exc)
        raise
    else:
        live.ended()
        end = (
            slot.breaker.finish(generation, started, None, value)
            if finish_success
            else clock.monotonic()
        )
        slot.observe(end - started, False, end)
        ordering = slot.ordering  # None for a fallback, which is in no strategy's order
        if ordering is not None:
            ordering.update(slot)
        if slot.reports_quota:
            _learn_quota(slot, end)
        if quota is not None and isinstance(value, LLMResponse):
            quota.consume_tokens(end, value.usage.total_tokens)
        return value, _new_attempt(Attempt, (slot.name, started, end - started, None))
    live.ended()
    end = slot.breaker.finish(generation, started, error)
    slot.observe(end - started, True, end)
    ordering = slot.ordering
    if ordering is not None:
        ordering.update(slot)
    if slot.reports_quota:
        _learn_quota(slot, end)
    return None, _new_attempt(Attempt, (slot.name, started, end - started, error))


def _learn_quota(slot: Slot, now: float) -> None:
    """Take in the quota the provider reports after an attempt."""
    report = slot.provider.quota_report()  # type: ignore[attr-defined]
    if report is not None:
        slot.learn(report, now)
