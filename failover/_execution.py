"""One coordinated request: choosing each attempt, running it, waiting, and how it ends.

Per request (DESIGN.md, "The coordinator"): at most ``max_attempts`` attempts; each goes to the
first provider in the strategy's order that has quota and whose breaker admits the call, fresh
providers before ones already tried; a provider already tried is tried again only after
``retry.backoff(...)`` (never before its Retry-After); waits happen on the injected clock and
only when they end within the request's deadline. A BadRequest (and a ContentBlocked when
``retry.stop_on_content_blocked``) ends the request at once and is raised as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from types import CoroutineType, TracebackType
from types import coroutine as types_coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from failover._attempt import Attempt
from failover._selection import Slot
from failover.clock import Clock, SystemClock
from failover.errors import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BadRequest,
    ContentBlocked,
    FailoverError,
    ProviderTimeout,
)
from failover.provider import LLMResponse
from statemachines import FailoverReason

if TYPE_CHECKING:
    from failover._coordinator import Coordinator

__all__ = ["Plan", "clock_timeout"]

T = TypeVar("T")
_RATE_LIMITED = FailoverReason.RATE_LIMITED
_new_attempt = tuple.__new__  # Attempt(...) without its Python-level __new__: the hot path


class _ClockTimeout:
    """``asyncio.timeout`` on any Clock: cancels the task when ``seconds`` have passed on it."""

    __slots__ = ("_clock", "_expired", "_seconds", "_task", "_watch")

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock, self._seconds = clock, seconds
        self._expired = False
        self._task: asyncio.Task[Any] | None = None
        self._watch: asyncio.Task[None] | None = None

    async def _watchdog(self) -> None:
        await self._clock.sleep(self._seconds)
        self._expired = True
        assert self._task is not None
        self._task.cancel()

    def expired(self) -> bool:
        """Whether the time ran out."""
        return self._expired

    async def __aenter__(self) -> _ClockTimeout:
        self._task = asyncio.current_task()
        self._watch = asyncio.get_running_loop().create_task(self._watchdog())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._watch is not None
        assert self._task is not None
        self._watch.cancel()
        if self._expired and self._task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc


@types_coroutine
def _resume(coro: Any, yielded: Any) -> Generator[Any, Any, Any]:
    """Go on awaiting ``coro``, which has already been stepped once and yielded ``yielded``:
    what the task sends or throws in goes on to ``coro``, exactly as if it were awaited."""
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


def clock_timeout(clock: Clock, seconds: float) -> Any:
    """An async context manager raising TimeoutError after ``seconds`` of ``clock`` time."""
    if type(clock) is SystemClock:
        return asyncio.timeout(seconds)  # the loop's clock is time.monotonic too
    return _ClockTimeout(clock, seconds)


async def _await_at(awaitable: Awaitable[T], deadline: float) -> T:
    async with asyncio.timeout_at(deadline):
        return await awaitable


async def _resume_at(coro: Any, yielded: Any, deadline: float) -> T:
    async with asyncio.timeout_at(deadline):
        resumed: T = await _resume(coro, yielded)
    return resumed


class Plan:
    """The state of one request: its attempts, tried providers, backoffs and deadline."""

    __slots__ = ("attempts", "coordinator", "deadline", "kind", "not_before", "probed", "tries")

    def __init__(self, coordinator: Coordinator, kind: int) -> None:
        self.coordinator = coordinator
        self.kind = kind
        self.attempts: list[Attempt] = []
        self.tries: dict[int, int] = {}
        self.not_before: dict[int, float] = {}
        self.probed = False
        timeout = coordinator.retry.request_timeout
        now = coordinator.clock.monotonic()
        self.deadline = None if timeout is None else now + timeout

    # --- choosing the next attempt -------------------------------------------------------------

    async def next(self) -> tuple[Slot, int] | None:
        """The next provider and its admission's generation; None when the request must end."""
        coordinator = self.coordinator
        clock = coordinator.clock
        while len(self.attempts) < coordinator.retry.max_attempts:
            now = clock.monotonic()
            if self.deadline is not None and now >= self.deadline:
                return None
            picked = self._fresh(now) or self._again(now)
            if picked is not None:
                return picked
            wake = self._wake_at(now)
            if wake is None or (self.deadline is not None and wake > self.deadline):
                return self._probe(now)
            await clock.sleep(wake - now)
        return None

    def pick_now(self) -> tuple[Slot, int] | None:
        """A provider that admits a call at once (for a hedge): never waits, never probes."""
        now = self.coordinator.clock.monotonic()
        if self.deadline is not None and now >= self.deadline:
            return None
        return self._fresh(now) or self._again(now)

    def _fresh(self, now: float) -> tuple[Slot, int] | None:
        kind, tries = self.kind, self.tries
        for slot in self.coordinator._ordering.order(now, not tries):
            if slot.serves[kind] and slot.index not in tries:
                generation = slot.admit(now)
                if generation is not None:
                    return slot, generation
        return None

    def _again(self, now: float) -> tuple[Slot, int] | None:
        slots = self.coordinator._slots
        ready = sorted((t, i) for i, t in self.not_before.items() if t <= now)
        for _, index in ready:
            generation = slots[index].admit(now)
            if generation is not None:
                return slots[index], generation
        return None

    def _wake_at(self, now: float) -> float | None:
        """The earliest time worth waiting for: a tried provider's backoff (or quota), and in
        ``all_down="wait"`` mode any provider's cooldown too."""
        coordinator = self.coordinator
        wait = coordinator.all_down == "wait"
        times = []
        for slot in coordinator._slots:
            if not slot.serves[self.kind]:
                continue
            tried = slot.index in self.tries
            if not (tried or wait):
                continue
            when = slot.ready_at(now, breaker=wait)
            if when is not None:
                times.append(max(when, self.not_before.get(slot.index, when)))
        return min(times) if times else None

    def _probe(self, now: float) -> tuple[Slot, int] | None:
        coordinator = self.coordinator
        if coordinator.all_down != "probe" or self.attempts or self.probed:
            return None
        self.probed = True
        return coordinator._probe(self.kind, now)

    def unavailable(self) -> FailoverError:
        """The error that ends this request now: AllProvidersFailed after an attempt,
        AllProvidersUnavailable (with the earliest retry time) before any."""
        if self.attempts:
            failed = AllProvidersFailed(self.attempts)
            failed.__cause__ = self.attempts[-1].error
            return failed
        coordinator = self.coordinator
        now = coordinator.clock.monotonic()
        slots = [s for s in coordinator._slots if s.serves[self.kind]]
        times = [t for s in slots if (t := s.ready_at(now, breaker=True)) is not None]
        return AllProvidersUnavailable(min(times) if times else None, [s.name for s in slots])

    # --- one attempt ---------------------------------------------------------------------------

    def timeout(self, started: float) -> float | None:
        """How long an attempt started at ``started`` may take: the attempt timeout, cut to
        what is left of the deadline."""
        limit = self.coordinator.retry.attempt_timeout
        if self.deadline is not None:
            left = self.deadline - started
            limit = left if limit is None else min(limit, left)
        return limit

    async def attempt(
        self,
        slot: Slot,
        generation: int,
        fn: Callable[[Any], Awaitable[T]],
        *,
        finish_success: bool = True,
    ) -> tuple[T | None, BaseException | None]:
        """Run ``fn(provider)`` at ``slot``: ``(value, None)`` or ``(None, error)``.

        Cancellation is recorded as IGNORED and propagates; a request-level error is raised.
        With ``finish_success`` false a success is not told to the breaker (a stream tells it
        when the stream ends).
        """
        clock = self.coordinator.clock
        started = clock.monotonic()
        if slot.quota is not None:
            slot.quota.consume(started)
        limit = self.timeout(started)
        try:
            if limit is None:
                value = await fn(slot.provider)
            elif type(clock) is SystemClock:
                # ``await`` under asyncio.timeout_at(deadline) (loop time), arming the timer
                # only if it suspends: a coroutine is stepped once first, and one that returns
                # (or raises) at once never needed a timer, which could not have fired anyway.
                awaitable = fn(slot.provider)
                if type(awaitable) is not CoroutineType:
                    value = await _await_at(awaitable, started + limit)
                else:
                    try:
                        yielded = awaitable.send(None)
                    except StopIteration as stop:
                        value = stop.value
                    else:
                        value = await _resume_at(awaitable, yielded, started + limit)
            else:
                async with clock_timeout(clock, limit):
                    value = await fn(slot.provider)
        except TimeoutError as exc:
            error: BaseException = exc
            if limit is not None and clock.monotonic() - started >= limit:
                error = ProviderTimeout(
                    f"provider {slot.name!r} did not answer within {limit:.3f} s",
                    provider=slot.name,
                )
                error.__cause__ = exc
            self.ended(slot, generation, started, error)
            return None, error
        except Exception as exc:
            self.ended(slot, generation, started, exc)
            return None, exc
        except BaseException as exc:  # cancellation: recorded IGNORED, and it propagates
            slot.breaker.finish(generation, started, exc)
            raise
        self.ended(slot, generation, started, None, value, finish=finish_success)
        return value, None

    def ended(
        self,
        slot: Slot,
        generation: int,
        started: float,
        error: BaseException | None,
        value: object = None,
        *,
        finish: bool = True,
    ) -> None:
        """Record an attempt that ended (breaker, figures, strategy); raise a request-level
        error."""
        coordinator = self.coordinator
        if finish:
            slot.breaker.finish(generation, started, error, value)
        end = coordinator.clock.monotonic()
        slot.observe(end - started, error is not None, end)
        self.attempts.append(_new_attempt(Attempt, (slot.name, started, end - started, error)))
        coordinator._ordering.update(slot)
        if slot.reports_quota:
            report = slot.provider.quota_report()  # type: ignore[attr-defined]
            if report is not None:
                slot.learn(report, end)
        if error is None:
            if slot.quota is not None and isinstance(value, LLMResponse):
                slot.quota.consume_tokens(end, value.usage.total_tokens)
            return
        self._after_failure(slot, error, end)

    def _after_failure(self, slot: Slot, error: BaseException, end: float) -> None:
        retry = self.coordinator.retry
        if isinstance(error, BadRequest) or (
            isinstance(error, ContentBlocked) and retry.stop_on_content_blocked
        ):
            raise error
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and getattr(error, "signal", None) is _RATE_LIMITED:
            slot.block(end + retry_after)  # RateLimited, QuotaExhausted
        tries = self.tries[slot.index] = self.tries.get(slot.index, 0) + 1
        wait = retry.backoff(tries, self.coordinator._rng, retry_after)
        self.not_before[slot.index] = end + wait
