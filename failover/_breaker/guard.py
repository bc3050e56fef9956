"""Guard and decorate: the breaker as a (sync or async) context manager around a block, and
as a decorator."""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
from collections.abc import AsyncGenerator, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from failover.classify import NO_RESULT

if TYPE_CHECKING:
    from failover._breaker.admission import Admission

__all__ = ["Guard", "decorate"]

_COROUTINE = types.CoroutineType


class Guard:
    """``with breaker.guard():`` admits on entry (or raises CallNotPermitted) and records on
    exit: an exception leaving the block is classified, and always propagates. A block has no
    result: the classifier sees ``NO_RESULT``, which result rules leave alone."""

    __slots__ = ("_breaker", "_generation", "_started")

    def __init__(self, breaker: Admission) -> None:
        self._breaker = breaker
        self._generation = -1
        self._started = 0.0

    def __enter__(self) -> Guard:
        if self._generation != -1:
            raise RuntimeError("a breaker guard is single-use: call breaker.guard() per block")
        self._generation = self._breaker.admit()
        self._started = self._breaker._now()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._breaker.finish(self._generation, self._started, exc, NO_RESULT)

    async def __aenter__(self) -> Guard:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def decorate(breaker: Admission, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a ``def`` or an ``async def``) wrapped so that every call goes through
    ``breaker``: the same fast path as ``call`` and ``acall``, inlined (no extra frame).

    A generator function (sync or async) is guarded through its iteration instead: admitted
    when the generator is made, recorded when its iteration ends (``_generator_wrapper``)."""
    if not callable(fn):
        raise TypeError(f"@breaker decorates a function, got {fn!r}")
    if inspect.isgeneratorfunction(fn):
        return functools.wraps(fn)(_generator_wrapper(breaker, fn))
    if inspect.isasyncgenfunction(fn):
        return functools.wraps(fn)(_async_generator_wrapper(breaker, fn))
    if inspect.iscoroutinefunction(fn):
        return functools.wraps(fn)(_async_wrapper(breaker, fn))
    return functools.wraps(fn)(_wrapper(breaker, fn))


def _wrapper(breaker: Admission, fn: Callable[..., Any]) -> Callable[..., Any]:
    # call's body, inlined (one frame, not two): the decorator as fast as call
    admit, raised, ended = breaker.admit, breaker.raised, breaker.ended

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        fast = breaker._fast
        if fast is not None:
            bump, now, slow, generation = fast
        else:
            machine = breaker._machine
            generation = machine.generation  # read before the flag: see free_admission
            if not machine.free_admission:
                generation = admit()
            now = breaker._now
        started = now()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            raised(fn, generation, started, exc)
            raise
        if fast is not None and now() - started < slow and type(result) is not _COROUTINE:
            bump()
            return result
        return ended(fn, generation, started, result)

    return wrapper


def _async_wrapper(breaker: Admission, fn: Callable[..., Any]) -> Callable[..., Any]:
    # acall's body, inlined (one coroutine, not two): the decorator as fast as acall
    admit, bind_loop, araised, aended = (
        breaker.admit,
        breaker.bind_loop,
        breaker.araised,
        breaker.aended,
    )

    async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
        fast = breaker._fast
        if fast is not None:
            bump, now, slow, generation = fast
        else:
            bind_loop()
            generation = admit()
            now, slow = breaker._now, breaker._slow
        started = now()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            araised(fn, generation, started, exc)
            raise
        if fast is not None and now() - started < slow:
            bump()
        else:
            aended(generation, started, result)
        return result

    return async_wrapper


# Generator functions: the call is the whole iteration. Admitted when the generator is made (a
# rejection raises CallNotPermitted there); recorded once, when the iteration ends: its end a
# success (with the generator's return value as the result), an exception raised inside it
# classified, the consumer closing it early (or dropping it) a GeneratorExit, which the default
# classifier ignores. The wrapping generator is primed at its first ``yield``, inside the ``try``:
# closed or collected before its first item, it still records, so an admission is never lost.


def _generator_wrapper(breaker: Admission, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        generation = breaker.admit()
        try:
            inner = fn(*args, **kwargs)
        except BaseException:
            breaker.release(generation)  # a generator function's call never runs its body
            raise
        outer = _iterate(breaker, inner, generation, breaker._now())
        next(outer)  # primed: see above
        return outer

    return wrapper


def _iterate(
    breaker: Admission, inner: Generator[Any, Any, Any], generation: int, started: float
) -> Generator[Any, Any, Any]:
    try:
        yield None  # the priming stop (``wrapper``): the consumer's first next() resumes here
        result = yield from inner
    except BaseException as exc:  # raised inside, or GeneratorExit: the consumer closed it
        inner.close()
        breaker.finish(generation, started, exc)
        raise
    breaker.finish(generation, started, None, result)
    return result


def _async_generator_wrapper(breaker: Admission, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        generation = breaker.admit()
        try:
            inner = fn(*args, **kwargs)
        except BaseException:
            breaker.release(generation)
            raise
        outer = _aiterate(breaker, inner, generation, breaker._now())
        step = outer.asend(None)  # primed: runs to the first ``yield``, which awaits nothing
        with contextlib.suppress(StopIteration):
            step.send(None)
        return outer

    return wrapper


async def _aiterate(
    breaker: Admission, inner: AsyncGenerator[Any, Any], generation: int, started: float
) -> AsyncGenerator[Any, Any]:
    try:
        yield None  # the priming stop (``wrapper``)
        value = await inner.__anext__()
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                raise
            except BaseException as thrown:  # athrow: into the guarded generator
                value = await inner.athrow(thrown)
            else:
                value = await inner.asend(sent)
    except StopAsyncIteration:
        breaker.finish(generation, started, None)
    except BaseException as exc:  # raised inside, or GeneratorExit: the consumer closed it
        await inner.aclose()
        breaker.finish(generation, started, exc)
        raise
