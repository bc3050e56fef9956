"""CallableProvider: sync and async callables as LLM and search providers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from failover import ConfigurationError, Coordinator, ManualClock, RateLimited, Unavailable
from failover.provider import (
    LLMProvider,
    LLMResponse,
    Provider,
    SearchProvider,
    SearchResult,
    SearchResults,
    Usage,
)
from providers.callable import CallableProvider

HIT = SearchResult("Python", "https://python.org", "The language")


def echo(prompt: object, **options: object) -> str:
    return f"{prompt} {sorted(options.items())}"


async def aecho(prompt: object, **options: object) -> str:
    return f"async {prompt}"


class AsyncCallable:
    async def __call__(self, prompt: object) -> str:
        return f"object {prompt}"


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [chunk async for chunk in stream]


# --- kinds ---------------------------------------------------------------------------------------


def test_an_llm_callable_offers_generate_and_stream_only() -> None:
    p = CallableProvider(echo, "echo")
    assert isinstance(p, CallableProvider)
    assert isinstance(p, LLMProvider)
    assert not isinstance(p, SearchProvider)
    assert not hasattr(p, "search")
    assert (p.name, p.kind) == ("echo", "llm")


def test_a_search_callable_offers_search_only() -> None:
    p = CallableProvider(lambda q: [HIT], "find", kind="search")
    assert isinstance(p, CallableProvider)
    assert isinstance(p, SearchProvider)
    assert not isinstance(p, LLMProvider)
    assert not hasattr(p, "generate")
    assert isinstance(p, Provider)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((42, "p"), {}, "fn must be callable, got 42"),
        ((echo, ""), {}, "non-empty string, got ''"),
        ((echo, "p"), {"kind": "chat"}, "kind must be one of ['llm', 'search'], got 'chat'"),
        ((echo, "p"), {"health": "yes"}, "health must be callable or None, got 'yes'"),
    ],
)
def test_bad_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CallableProvider(*args, **kwargs)
    assert message in str(caught.value)


def test_repr() -> None:
    assert repr(CallableProvider(echo, "e")) == "CallableProvider(echo, name='e', kind='llm')"
    assert "AsyncCallable" in repr(CallableProvider(AsyncCallable(), "o"))


# --- generate ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_sync_callable_runs_in_a_worker_thread_unless_told_otherwise() -> None:
    threads: list[int] = []

    def where(prompt: object) -> str:
        threads.append(threading.get_ident())
        return "ok"

    await CallableProvider(where, "t").generate("x")
    await CallableProvider(where, "t", blocking=False).generate("x")
    assert threads[0] != threading.get_ident()
    assert threads[1] == threading.get_ident()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fn", "text"),
    [
        (echo, "hi [('temperature', 0.1)]"),
        (aecho, "async hi"),
        (lambda prompt, **_: aecho(prompt), "async hi"),  # a sync function returning a coroutine
    ],
)
async def test_generate_turns_a_str_into_a_response(fn: Any, text: str) -> None:
    response = await CallableProvider(fn, "p", model="m1").generate("hi", temperature=0.1)
    assert (response.text, response.provider, response.model) == (text, "p", "m1")
    assert response.latency >= 0


@pytest.mark.asyncio
async def test_an_async_callable_object_is_awaited_on_the_loop() -> None:
    response = await CallableProvider(AsyncCallable(), "o").generate("hi")
    assert response.text == "object hi"


@pytest.mark.asyncio
async def test_generate_keeps_an_llm_response() -> None:
    answer = LLMResponse("full", "elsewhere", "m", Usage(1, 2, 3), "stop", 0.5)
    assert await CallableProvider(lambda p: answer, "p").generate("x") is answer


@pytest.mark.asyncio
async def test_a_wrong_return_type_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="fn returned a int; generate needs a str"):
        await CallableProvider(lambda p: 42, "p").generate("x")


@pytest.mark.asyncio
async def test_errors_propagate_unchanged() -> None:
    error = RateLimited("slow down", provider="p", retry_after=3)

    def fail(prompt: object) -> str:
        raise error

    with pytest.raises(RateLimited) as caught:
        await CallableProvider(fail, "p").generate("x")
    assert caught.value is error


# --- stream --------------------------------------------------------------------------------------


async def agen(prompt: object, **options: object) -> AsyncIterator[str]:
    yield "a"
    yield "b"


def gen(prompt: object) -> Iterator[str]:
    yield from ("c", "d")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fn", "chunks"),
    [
        (agen, ["a", "b"]),
        (gen, ["c", "d"]),
        (lambda p: ["e", "f"], ["e", "f"]),
        (lambda p: "whole", ["whole"]),
        (lambda p: "", []),
        (lambda p: LLMResponse("resp", "p"), ["resp"]),
        (aecho, ["async x"]),
        (lambda p: agen(p), ["a", "b"]),
    ],
)
async def test_stream_yields_what_fn_produces(fn: Any, chunks: list[str]) -> None:
    for blocking in (True, False):
        assert await collect(CallableProvider(fn, "p", blocking=blocking).stream("x")) == chunks


@pytest.mark.asyncio
async def test_a_sync_generator_is_read_in_a_worker_thread() -> None:
    threads: list[int] = []

    def where(prompt: object) -> Iterator[str]:
        threads.append(threading.get_ident())
        yield "x"
        threads.append(threading.get_ident())

    assert await collect(CallableProvider(where, "p").stream("x")) == ["x"]
    assert threading.get_ident() not in threads


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda p: 42, "stream needs a str"),
        (lambda p: ["ok", 3], "each chunk of a stream must be a str"),
    ],
)
async def test_a_stream_of_the_wrong_type_is_unavailable(fn: Any, message: str) -> None:
    with pytest.raises(Unavailable, match=message):
        await collect(CallableProvider(fn, "p").stream("x"))


# --- search --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_search_wraps_hits_in_search_results() -> None:
    p = CallableProvider(lambda q, **o: [HIT], "find", kind="search")
    assert await p.search("python", count=3) == SearchResults("python", (HIT,), "find")
    given = SearchResults("q", (HIT,), "other")

    async def found(query: str) -> SearchResults:
        return given

    assert await CallableProvider(found, "find", kind="search").search("q") is given


@pytest.mark.asyncio
@pytest.mark.parametrize("value", ["text", [HIT, "x"], {"title": "t"}, None])
async def test_search_refuses_other_values(value: object) -> None:
    p = CallableProvider(lambda q: value, "find", kind="search")
    with pytest.raises(Unavailable, match="search needs SearchResults"):
        await p.search("q")


# --- health --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_health_checks() -> None:
    async def ahealthy() -> bool:
        return True

    def broken() -> bool:
        raise OSError("secret detail")

    results = [
        await CallableProvider(echo, "p", health=health).health_check()
        for health in (None, lambda: True, ahealthy, lambda: False, broken)
    ]
    assert [(r.provider, r.healthy, r.error) for r in results] == [
        ("p", True, None),
        ("p", True, None),
        ("p", True, None),
        ("p", False, "health() returned a false value"),
        ("p", False, "health() raised OSError"),
    ]
    await CallableProvider(echo, "p").aclose()


# --- through the coordinator ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_coordinator_fails_over_between_callables_by_kind() -> None:
    def down(prompt: object) -> str:
        raise Unavailable("down", provider="first")

    providers = [
        CallableProvider(down, "first"),
        CallableProvider(lambda q: [HIT], "search", kind="search"),
        CallableProvider(aecho, "second"),
    ]
    async with Coordinator(providers, clock=ManualClock(), hooks=(), seed=0) as c:
        generated = await c.generate("hi")
        found = await c.search("python")
    assert (generated.provider, generated.value.text) == ("second", "async hi")
    assert [a.provider for a in generated.attempts] == ["first", "second"]
    assert (found.provider, found.value.results) == ("search", (HIT,))
