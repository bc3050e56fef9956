"""Hooks: who hears about transitions, calls and rejections.

A hook is either a plain callable taking a FailoverEvent (sync, or ``async def``), or an object
deriving from ``BreakerHook`` that overrides any of ``on_transition``, ``on_call`` and
``on_rejected``. Transition hooks run outside every lock, in seq order; async ones are scheduled
on the event loop. A hook that raises is logged with its traceback (logger ``failover.hooks``)
and never fails the call nor stops the other hooks.

A breaker runs a hook's ``on_call`` (``on_rejected``) on every call only if the hook's class
overrides it (``overrides``): a hook without them leaves the breaker its lock-free fast path.
A hook object may also define ``bind(breaker)``: each CircuitBreaker calls it once, when it is
made, so that a metrics hook can read the breaker's own counters when metrics are collected.
"""

from __future__ import annotations

from collections.abc import Iterable

from failover._base.hooks import BreakerHook, FunctionHook, Hook, LoggingHook, TransitionHook
from failover.telemetry import default_hooks
from statemachines import ConfigurationError

__all__ = ["BreakerHook", "Hook", "LoggingHook", "TransitionHook", "resolve_hooks"]


def resolve_hooks(hooks: Iterable[Hook] | None) -> tuple[BreakerHook, ...]:
    """Turn the ``hooks=`` argument into hook objects; None means the defaults."""
    if hooks is None:
        return default_hooks()
    resolved: list[BreakerHook] = []
    for hook in hooks:
        if isinstance(hook, BreakerHook):
            resolved.append(hook)
        elif callable(hook):
            resolved.append(FunctionHook(hook))
        else:
            raise ConfigurationError(
                f"hooks must hold callables taking a FailoverEvent or BreakerHook objects, "
                f"got {hook!r}"
            )
    return tuple(resolved)
