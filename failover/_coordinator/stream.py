"""Streaming through the coordinator: failover before the first chunk, StreamInterrupted after.

Until a provider's first chunk arrives, a stream is a request like any other (attempts,
timeouts, backoff, failover). Once text has reached the caller it cannot be taken back: an
error after the first chunk ends the stream with StreamInterrupted, carrying the text so far,
and counts as the provider's failure (as its classifier says) -- never a silent end.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias

from failover._coordinator.kinds import STREAM
from failover._coordinator.plan import Plan, request_deadline
from failover.errors import StreamInterrupted

if TYPE_CHECKING:
    from failover._coordinator.pool import Pool

__all__ = ["PlanOf", "chunks", "stream"]

PlanOf: TypeAlias = "Callable[[Pool, int, float | None], Plan]"
"""Makes a stream's Plan: ``Plan`` itself, or a traced one (``failover._tracing.plan``)."""


class _Ended:
    """The provider's stream ended before a first chunk."""


_ENDED = _Ended()


def stream(
    pool: Pool, prompt: str | Mapping[str, object], options: Mapping[str, object]
) -> AsyncIterator[str]:
    """The chunks of one coordinated stream (see the module docstring); an instrumented
    coordinator streams with ``failover._tracing.plan.traced_stream`` instead."""
    return chunks(pool, prompt, options, Plan)


async def chunks(
    pool: Pool,
    prompt: str | Mapping[str, object],
    options: Mapping[str, object],
    plan_of: PlanOf,
) -> AsyncGenerator[str, None]:
    """The chunks of one coordinated stream, its requests chosen by ``plan_of``'s Plan."""
    clock = pool.settings.clock
    plan = plan_of(pool, STREAM, request_deadline(pool, clock.monotonic()))
    while True:
        picked = await plan.next()
        if picked is None:
            raise plan.unavailable()
        slot, generation = picked
        chunks = slot.provider.stream(prompt, **options)  # type: ignore[attr-defined]
        started = clock.monotonic()  # as Plan.attempt will see it: no await in between
        first, error = await plan.attempt(slot, generation, _first_of(chunks), finish_success=False)
        if error is None:
            break
        await _close(chunks)
    if first is _ENDED:
        slot.breaker.finish(generation, started, None)
        return
    assert isinstance(first, str)
    # The breaker hears once how the stream ended: a success at its end, a failure if it broke,
    # nothing (IGNORED) if the caller stopped reading or was cancelled.
    received = [first]
    try:
        yield first
        async for chunk in chunks:
            received.append(chunk)
            yield chunk
    except Exception as exc:
        slot.breaker.finish(generation, started, exc)
        raise StreamInterrupted("".join(received), slot.name, exc) from exc
    except BaseException as exc:  # GeneratorExit (the caller stopped), cancellation
        slot.breaker.finish(generation, started, exc)
        raise
    else:
        slot.breaker.finish(generation, started, None)
    finally:
        await _close(chunks)


def _first_of(chunks: AsyncIterator[str]) -> Callable[[object], Awaitable[str | _Ended]]:
    async def first(_: object) -> str | _Ended:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return _ENDED

    return first


async def _close(chunks: AsyncIterator[str]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
