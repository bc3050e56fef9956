"""Traced requests (``failover.tracing``): the request of ``failover._coordinator.plan`` with a span
around it, a child span per attempt, and the failover decisions as events on the request span.

A TracedPlan is a Plan that makes the same choices in the same order (the same admissions,
the same waits, the same strategy calls); it only tells the telemetry about each: a provider
passed over (``failover.provider.skipped``: not permitted, quota, already tried), an attempt
that failed, a wait before trying again, a fallback, a probe, a hedge. An instrumented
coordinator sends every request through here (``traced_run``, ``traced_stream``): it has no
fast path of its own, which is part of what tracing costs.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs
from opentelemetry import trace

from failover._base.records import Result, traced_result
from failover._coordinator.hedge import run_hedged
from failover._coordinator.plan import Plan, request_deadline, run_attempt
from failover._coordinator.slot import Slot
from failover._coordinator.stream import chunks
from failover._coordinator.trace import skip_of
from failover._tracing.attrs import (
    ALREADY_TRIED,
    ATTEMPT_FAILED,
    ATTEMPT_NUMBER,
    ERROR_TYPE,
    FALLBACK,
    HEDGE,
    PROBE,
    WAIT,
    WAIT_DURATION,
    error_type,
)
from failover._tracing.runtime import Instrumented, Wanted
from failover.errors import StreamInterrupted

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from failover._base.records import Attempt
    from failover._coordinator.pool import Pool

__all__ = ["Traced", "TracedPlan", "traced_run", "traced_stream"]

T = TypeVar("T")
_INF = math.inf


class TracedPlan(Plan):
    """A Plan that reports to the coordinator's telemetry (see the module docstring)."""

    __slots__ = ("number", "span", "streaming", "telemetry")

    def __init__(
        self, pool: Pool, telemetry: Instrumented, kind: int, deadline: float | None
    ) -> None:
        super().__init__(pool, kind, deadline)
        self.telemetry = telemetry
        self.span: Span = telemetry.start_request(kind)
        self.number = 0  # attempts started
        self.streaming: tuple[Span, Slot, Attempt] | None = None  # a stream's answering attempt

    async def run(self, fn: Callable[[Any], Awaitable[T]]) -> Result[T]:
        while True:
            picked = await self.next()
            if picked is None:
                raise self.unavailable()
            slot = picked[0]
            value, error = await self.attempt(slot, picked[1], fn)
            if error is None:
                return traced_result(
                    cast(T, value), slot.name, tuple(self.attempts), self.skipped()
                )

    # --- choosing, as Plan does, telling why each provider was passed over ---------------------

    def _fallback(self, now: float) -> tuple[Slot, int] | None:
        return self._note(FALLBACK, super()._fallback(now))

    def _again(self, now: float) -> tuple[Slot, int] | None:
        slots = self.slots
        for _, index in sorted((t, i) for i, t in self.not_before.items() if t <= now):
            picked = self._admit(slots[index], now)
            if picked is not None:
                return picked
        return None

    def _first_admitting(self, slots: Iterable[Slot], now: float) -> tuple[Slot, int] | None:
        """Plan's choice, with a span event for each provider passed over (one already tried
        whose backoff is not over too); the decision trace as Plan keeps it."""
        kind, tries = self.kind, self.tries
        for slot in slots:
            if slot.live.removed:
                continue
            if slot.index in tries:  # tried: skipped unless its backoff is over (_again's)
                if slot.serves[kind] and self.not_before.get(slot.index, _INF) > now:
                    self.telemetry.skipped(self.span, slot, now, ALREADY_TRIED)
                continue
            picked = self._admit(slot, now) if slot.serves[kind] else None
            if picked is not None:
                return picked
            self.passed[slot.index] = skip_of(slot, kind, now)
        return None

    def _admit(self, slot: Slot, now: float) -> tuple[Slot, int] | None:
        if slot.live.removed:
            return None
        generation = slot.admit(now)
        if generation is not None:
            return slot, generation
        self.telemetry.skipped(self.span, slot, now)
        return None

    def _wake_at(self, now: float) -> float | None:
        wake = super()._wake_at(now)
        if wake is not None and (self.deadline is None or wake <= self.deadline):
            self.telemetry.event(self.span, WAIT, None, {WAIT_DURATION: wake - now})
        return wake

    def _probe(self, now: float) -> tuple[Slot, int] | None:
        return self._note(PROBE, super()._probe(now))

    def pick_now(self) -> tuple[Slot, int] | None:
        return self._note(HEDGE, super().pick_now())

    def _note(self, name: str, picked: tuple[Slot, int] | None) -> tuple[Slot, int] | None:
        if picked is not None:
            self.telemetry.event(self.span, name, picked[0], {})
        return picked

    # --- attempts ------------------------------------------------------------------------------

    async def attempt(
        self,
        slot: Slot,
        generation: int,
        fn: Callable[[Any], Awaitable[T]],
        *,
        finish_success: bool = True,
    ) -> tuple[T | None, BaseException | None]:
        """Plan.attempt in a span of its own (current while the provider runs)."""
        telemetry = self.telemetry
        self.number += 1
        number = self.number
        span = telemetry.start_attempt(self.span, slot, self.kind, number)
        try:
            if span.get_span_context().is_valid:  # no tracer (spans off): no context to set
                with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                    value, record = await run_attempt(
                        self.pool, slot, generation, fn, self.deadline, finish_success
                    )
            else:
                value, record = await run_attempt(
                    self.pool, slot, generation, fn, self.deadline, finish_success
                )
        except BaseException:  # cancelled: recorded IGNORED by run_attempt
            telemetry.cancelled(span)
            raise
        error = record.error
        if error is not None:
            extra = {ATTEMPT_NUMBER: number, ERROR_TYPE: error_type(error)}
            telemetry.event(self.span, ATTEMPT_FAILED, slot, extra)
        if finish_success or error is not None:
            telemetry.end_attempt(span, slot, self.kind, value, error, record.duration)
        else:  # a stream's first chunk: its span ends with the stream
            self.streaming = (span, slot, record)
        self.ended(slot, record)
        return value, error

    def finish(self, error: BaseException | None, provider: str | None = None) -> None:
        """End the request's span (and a stream's answering attempt's): ``error`` None when
        it answered."""
        streaming = self.streaming
        if streaming is not None:
            span, slot, record = streaming
            provider = slot.name
            if isinstance(error, StreamInterrupted) or error is None:
                cause = None if error is None else error.cause
                took = self.pool.settings.clock.monotonic() - record.started_at
                self.telemetry.end_attempt(span, slot, self.kind, None, cause, took)
            else:  # the caller stopped reading, or was cancelled
                self.telemetry.cancelled(span)
        self.telemetry.end_request(self.span, self.number, provider, error)


@attrs.frozen
class Traced:
    """An instrumented coordinator's telemetry and the requests it runs instead of its own
    (``failover.tracing.instrument``): ``run`` is its ``_run``, ``stream`` its stream."""

    telemetry: Instrumented
    run: Callable[[Callable[[Any], Awaitable[Any]], int], Awaitable[Result[Any]]]
    stream: Callable[[str | Mapping[str, object], Mapping[str, object]], AsyncIterator[str]]

    @classmethod
    def of(cls, pool: Pool, wanted: Wanted) -> Traced:
        """The telemetry ``wanted`` for the coordinator of ``pool``, its slots described."""
        telemetry = Instrumented(wanted, pool.layout)
        return cls(
            telemetry, partial(traced_run, pool, telemetry), partial(traced_stream, pool, telemetry)
        )


async def traced_run(
    pool: Pool, telemetry: Instrumented, fn: Callable[[Any], Awaitable[T]], kind: int
) -> Result[T]:
    """``Coordinator._run`` of an instrumented coordinator: one traced request."""
    settings = pool.settings
    deadline = request_deadline(pool, settings.clock.monotonic())
    plan = TracedPlan(pool, telemetry, kind, deadline)
    try:
        if (hedge_after := settings.hedge_after) is not None:
            result = await run_hedged(plan, fn, hedge_after)
        else:
            result = await plan.run(fn)
    except BaseException as exc:
        plan.finish(exc)
        raise
    plan.finish(None, result.provider)
    return result


async def traced_stream(
    pool: Pool,
    telemetry: Instrumented,
    prompt: str | Mapping[str, object],
    options: Mapping[str, object],
) -> AsyncIterator[str]:
    """``Coordinator.stream`` of an instrumented coordinator: one traced stream, its request
    span ended when the stream ends."""
    plans: list[TracedPlan] = []

    def plan_of(pool: Pool, kind: int, deadline: float | None) -> Plan:
        plans.append(TracedPlan(pool, telemetry, kind, deadline))
        return plans[0]

    text = chunks(pool, prompt, options, plan_of)
    try:
        async with aclosing(text):
            async for chunk in text:
                yield chunk
    except BaseException as exc:
        if plans:
            plans[0].finish(exc)
        raise
    if plans:
        plans[0].finish(None)
