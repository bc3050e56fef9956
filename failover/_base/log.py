"""The library's loggers (internal): one per module under ``failover``, every one redacted.

A module takes its logger with ``logger = get_logger(__name__)``. A logging filter runs only
for records logged on the logger that carries it, never for those propagated from a child, so
each logger gets its own ``RedactingFilter`` (``failover._base.redacting_log``).

The package logger ``failover`` carries a ``logging.NullHandler`` (added on import, once): an
application that configures no logging sees nothing of the library on stderr, where Python's
last-resort handler would otherwise print every WARNING and ERROR. Records still propagate to
the handlers the application configures (on the root logger or on ``failover``).
"""

from __future__ import annotations

import logging
from typing import Final

from failover._base.redacting_log import install

__all__ = ["PACKAGE", "get_logger"]

PACKAGE: Final = "failover"


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` (a module's ``__name__``), with a RedactingFilter of its own."""
    logger = logging.getLogger(name)
    install(logger)
    return logger


def _quiet_by_default() -> None:
    package = get_logger(PACKAGE)
    if not any(isinstance(h, logging.NullHandler) for h in package.handlers):
        package.addHandler(logging.NullHandler())


_quiet_by_default()
