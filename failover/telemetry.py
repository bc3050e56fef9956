"""Built-in hooks chosen by what is installed: logging always; OpenTelemetry metrics when
``opentelemetry-api`` is importable."""

from __future__ import annotations

from failover.hooks import BreakerHook, LoggingHook

__all__ = ["default_hooks"]


def default_hooks() -> tuple[BreakerHook, ...]:
    """The hooks a breaker gets when ``hooks=None``."""
    return (LoggingHook(),)
