"""The breakers that benchmarks/overhead.py measures, each in its idiomatic forms.

A subject builds, for one case, a library's timed loops: N guarded calls of ``fn`` made directly
in the loop (nothing of ours around them), the provider's ``Boom`` and every library's rejection
caught inside the loop. Each subject gives two forms: its call form (``breaker.call(fn)``, a
``with`` block for purgatory) and its decorator (``@breaker`` on a ``def`` / ``async def``).

circuitbreaker has no call form that rejects (its ``call`` does not check the state): its
decorator is measured in both rows. pybreaker's async calls need Tornado: not measured.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import timedelta
from typing import Any, Protocol

import aiobreaker  # type: ignore[import-untyped]
import circuitbreaker  # type: ignore[import-untyped]
import purgatory
import pybreaker
from purgatory.domain.model import OpenedState

from failover import CallNotPermitted, CircuitBreaker

N = 50_000
FAIL_MAX = 1_000_000  # peers trip on consecutive failures: keep them closed in "10% failures"
HOUR = 3600

Runner = Callable[[], None]
"""A sync loop of N guarded calls."""
ARunner = Callable[[], Coroutine[Any, Any, None]]
"""An async loop of N guarded calls (run with asyncio.run)."""
Thunk = Callable[[], Awaitable[Any]]
"""One guarded async call (the many-tasks case)."""
Forms = tuple[Runner, Runner]
AForms = tuple[ARunner, ARunner]
Thunks = tuple[Thunk, Thunk]


class Boom(Exception):
    """The provider's own error."""


REJECTED: tuple[type[BaseException], ...] = (
    CallNotPermitted,
    pybreaker.CircuitBreakerError,
    aiobreaker.CircuitBreakerError,
    OpenedState,
    circuitbreaker.CircuitBreakerError,
)
CAUGHT: tuple[type[BaseException], ...] = (Boom, *REJECTED)


def ok() -> int:
    return 1


async def aok() -> int:
    return 1


def boom() -> int:
    raise Boom


async def aboom() -> int:
    raise Boom


# --- the loops: one per shape of call, so that no wrapper of ours is timed -----------------------


def call_loop(call: Callable[[Callable[[], int]], object], fn: Callable[[], int]) -> Runner:
    def run() -> None:
        for _ in itertools.repeat(None, N):
            try:
                call(fn)
            except CAUGHT:
                pass

    return run


def direct_loop(guarded: Callable[[], object]) -> Runner:
    """The bare loop when ``guarded`` is the plain function; decorated functions otherwise."""

    def run() -> None:
        for _ in itertools.repeat(None, N):
            try:
                guarded()
            except CAUGHT:
                pass

    return run


def with_loop(block: AbstractContextManager[Any], fn: Callable[[], int]) -> Runner:
    def run() -> None:
        for _ in itertools.repeat(None, N):
            try:
                with block:
                    fn()
            except CAUGHT:
                pass

    return run


def acall_loop(
    acall: Callable[[Callable[[], Awaitable[int]]], Awaitable[object]],
    fn: Callable[[], Awaitable[int]],
) -> ARunner:
    async def run() -> None:
        for _ in itertools.repeat(None, N):
            try:
                await acall(fn)
            except CAUGHT:
                pass

    return run


def adirect_loop(guarded: Thunk) -> ARunner:
    """The bare loop when ``guarded`` is the plain coroutine function; decorated otherwise."""

    async def run() -> None:
        for _ in itertools.repeat(None, N):
            try:
                await guarded()
            except CAUGHT:
                pass

    return run


def async_with_loop(
    get: Callable[[str], Awaitable[AbstractAsyncContextManager[Any]]],
    fn: Callable[[], Awaitable[int]],
) -> ARunner:
    async def run() -> None:
        for _ in itertools.repeat(None, N):
            try:
                async with await get("b"):
                    await fn()
            except CAUGHT:
                pass

    return run


# --- the subjects --------------------------------------------------------------------------------


class Subject(Protocol):
    """One column of the table: a library (or one of failover's configurations)."""

    def sync(self, fn: Callable[[], int], opened: bool) -> Forms | None:
        """The call form's and the decorator's loops, on a closed or an opened breaker."""

    def asynchronous(self, fn: Callable[[], Awaitable[int]], opened: bool) -> AForms | None:
        """The async call form's and the async decorator's loops."""

    def thunks(self, fn: Callable[[], Awaitable[int]]) -> Thunks | None:
        """One guarded async call, in each form, on a closed breaker."""


_names = itertools.count()


class Failover:
    """failover's CircuitBreaker as ``make(name)`` builds it; keeps every breaker it built."""

    def __init__(self, make: Callable[[str], CircuitBreaker]) -> None:
        self.make = make
        self.built: list[CircuitBreaker] = []

    def _breaker(self, opened: bool) -> CircuitBreaker:
        breaker = self.make(f"bench{next(_names)}")
        if opened:
            breaker.force_open()
        self.built.append(breaker)
        return breaker

    def sync(self, fn: Callable[[], int], opened: bool) -> Forms:
        breaker = self._breaker(opened)
        return call_loop(breaker.call, fn), direct_loop(breaker(fn))

    def asynchronous(self, fn: Callable[[], Awaitable[int]], opened: bool) -> AForms:
        breaker = self._breaker(opened)
        return acall_loop(breaker.acall, fn), adirect_loop(breaker(fn))

    def thunks(self, fn: Callable[[], Awaitable[int]]) -> Thunks:
        breaker = self._breaker(False)
        return (lambda: breaker.acall(fn)), breaker(fn)


class PyBreaker:
    def sync(self, fn: Callable[[], int], opened: bool) -> Forms:
        breaker = pybreaker.CircuitBreaker(fail_max=FAIL_MAX, reset_timeout=HOUR)
        if opened:
            breaker.open()
        return call_loop(breaker.call, fn), direct_loop(breaker(fn))

    def asynchronous(self, fn: Callable[[], Awaitable[int]], opened: bool) -> None:
        return None

    def thunks(self, fn: Callable[[], Awaitable[int]]) -> None:
        return None


class AioBreaker:
    def _breaker(self, opened: bool) -> Any:
        breaker = aiobreaker.CircuitBreaker(
            fail_max=FAIL_MAX, timeout_duration=timedelta(seconds=HOUR)
        )
        if opened:
            breaker.open()
        return breaker

    def sync(self, fn: Callable[[], int], opened: bool) -> Forms:
        breaker = self._breaker(opened)
        return call_loop(breaker.call, fn), direct_loop(breaker(fn))

    def asynchronous(self, fn: Callable[[], Awaitable[int]], opened: bool) -> AForms:
        breaker = self._breaker(opened)
        return acall_loop(breaker.call_async, fn), adirect_loop(breaker(fn))

    def thunks(self, fn: Callable[[], Awaitable[int]]) -> Thunks:
        breaker = self._breaker(False)
        return (lambda: breaker.call_async(fn)), breaker(fn)


class Purgatory:
    """Opened by one failure (threshold 1); the decorator looks its circuit up on every call."""

    def sync(self, fn: Callable[[], int], opened: bool) -> Forms:
        threshold = 1 if opened else FAIL_MAX
        factory = purgatory.SyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=HOUR)
        block = factory.get_breaker("b")
        if opened:
            try:
                with block:
                    boom()
            except Boom:
                pass
        return with_loop(block, fn), direct_loop(factory("b")(fn))

    def asynchronous(self, fn: Callable[[], Awaitable[int]], opened: bool) -> AForms:
        threshold = 1 if opened else FAIL_MAX
        factory = purgatory.AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=HOUR
        )
        if opened:
            asyncio.run(self._trip(factory))
        return async_with_loop(factory.get_breaker, fn), adirect_loop(factory("b")(fn))

    def thunks(self, fn: Callable[[], Awaitable[int]]) -> Thunks:
        factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=FAIL_MAX)

        async def call() -> int:
            async with await factory.get_breaker("b"):
                return await fn()

        return call, factory("b")(fn)

    @staticmethod
    async def _trip(factory: purgatory.AsyncCircuitBreakerFactory) -> None:
        try:
            async with await factory.get_breaker("b"):
                await aboom()
        except Boom:
            pass


class CircuitBreakerLib:
    """circuitbreaker: its decorator in both rows (opened by one failure, threshold 1)."""

    def _breaker(self, opened: bool) -> Any:
        threshold = 1 if opened else FAIL_MAX
        return circuitbreaker.CircuitBreaker(failure_threshold=threshold, recovery_timeout=HOUR)

    def sync(self, fn: Callable[[], int], opened: bool) -> Forms:
        breaker = self._breaker(opened)
        if opened:
            try:
                breaker(boom)()
            except Boom:
                pass
        guarded = breaker(fn)
        return direct_loop(guarded), direct_loop(guarded)

    def asynchronous(self, fn: Callable[[], Awaitable[int]], opened: bool) -> AForms:
        breaker = self._breaker(opened)
        if opened:
            try:
                asyncio.run(breaker(aboom)())
            except Boom:
                pass
        guarded = breaker(fn)
        return adirect_loop(guarded), adirect_loop(guarded)

    def thunks(self, fn: Callable[[], Awaitable[int]]) -> Thunks:
        guarded = self._breaker(False)(fn)
        return guarded, guarded


PEERS: dict[str, Subject] = {
    "pybreaker": PyBreaker(),
    "aiobreaker": AioBreaker(),
    "purgatory": Purgatory(),
    "circuitbreaker": CircuitBreakerLib(),
}
