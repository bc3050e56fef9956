"""Coordinator.stream: failover before the first chunk, StreamInterrupted after it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from failover import AllProvidersFailed, FailoverError, StreamInterrupted, Unavailable
from failover.errors import StreamInterrupted as ErrorsStreamInterrupted
from failover.testing import ScriptedProvider, ScriptedRequest
from tests.failover.coordinator.test_coordinator_support import answers, coordinator, down


def breaking(name: str, chunks: list[str]) -> ScriptedProvider:
    """A provider that streams ``chunks`` and then fails."""

    async def handler(request: ScriptedRequest) -> AsyncIterator[str]:
        async def gen() -> AsyncIterator[str]:
            for chunk in chunks:
                yield chunk
            raise Unavailable("connection reset", provider=name)

        return gen()

    return ScriptedProvider(name, handler)


async def collect(stream: AsyncIterator[str], into: list[str]) -> None:
    """Read ``stream`` to its end into ``into``."""
    async for chunk in stream:
        into.append(chunk)


@pytest.mark.asyncio
async def test_fails_over_before_the_first_chunk() -> None:
    c, _ = coordinator(down("a"), answers("b"))
    assert [chunk async for chunk in c.stream("x")] == ["b"]
    assert c.breaker("a").statistics().failures == 1
    assert c.breaker("b").statistics().calls == 1


@pytest.mark.asyncio
async def test_a_provider_breaking_before_any_chunk_fails_over() -> None:
    c, _ = coordinator(breaking("a", []), answers("b"))
    assert [chunk async for chunk in c.stream("x")] == ["b"]


@pytest.mark.asyncio
async def test_an_error_after_the_first_chunk_is_stream_interrupted_and_a_failure() -> None:
    b = answers("b")
    c, _ = coordinator(breaking("a", ["Hel", "lo"]), b)
    received = []
    with pytest.raises(StreamInterrupted) as caught:
        await collect(c.stream("x"), received)
    assert received == ["Hel", "lo"]
    error = caught.value
    assert isinstance(error, FailoverError)  # one of the library's errors (I6)
    assert StreamInterrupted is ErrorsStreamInterrupted  # defined once, in the error tree
    assert (error.text_so_far, error.provider) == ("Hello", "a")
    assert isinstance(error.cause, Unavailable)
    assert error.__cause__ is error.cause
    assert "broke after 5 characters" in str(error)
    stats = c.breaker("a").statistics()
    assert (stats.calls, stats.failures) == (1, 1)  # recorded once, as a failure
    assert b.requests == []  # no silent failover once text was delivered


@pytest.mark.asyncio
async def test_a_whole_stream_is_one_success() -> None:
    c, _ = coordinator(ScriptedProvider("a", lambda r: ["a", "b", "c"]))
    assert "".join([chunk async for chunk in c.stream("x")]) == "abc"
    stats = c.breaker("a").statistics()
    assert (stats.calls, stats.failures) == (1, 0)


@pytest.mark.asyncio
async def test_an_empty_stream_is_a_success() -> None:
    c, _ = coordinator(ScriptedProvider("a", lambda r: []))
    assert [chunk async for chunk in c.stream("x")] == []
    assert c.breaker("a").statistics().calls == 1


@pytest.mark.asyncio
async def test_a_reader_that_stops_early_records_nothing() -> None:
    c, _ = coordinator(ScriptedProvider("a", lambda r: ["a", "b", "c"]))
    stream = c.stream("x")
    assert await stream.__anext__() == "a"
    await stream.aclose()  # type: ignore[attr-defined]
    stats = c.breaker("a").statistics()
    assert (stats.calls, stats.lifetime_ignored) == (0, 1)


@pytest.mark.asyncio
async def test_every_provider_failing_before_a_chunk_is_all_providers_failed() -> None:
    c, _ = coordinator(down("a"), down("b"), down("c"))
    with pytest.raises(AllProvidersFailed) as caught:
        await collect(c.stream("x"), [])
    assert [t.provider for t in caught.value.attempts] == ["a", "b", "c"]
