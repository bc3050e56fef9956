"""The library's log records, redacted (internal).

Every logger of the library (``failover`` and one per module under it, taken with
``failover._base.log.get_logger``) carries its own ``RedactingFilter``: a filter runs only for the
records logged on its own logger, not for those a child propagates. The record's message, its
formatted traceback and its stack are passed through ``failover.secrets.redact`` before any
handler sees them. A filter runs only for a record that is logged (its level enabled), and the
library logs only on error and transition paths, never on a successful call.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

from failover.secrets import redact

__all__ = ["RedactingFilter", "install"]

_FORMATTER: Final = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Masks every secret in a record's message, traceback and stack (keeps every record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always True."""
        with contextlib.suppress(Exception):  # args that do not format: the handler says so
            self._redact(record)
        return True

    @staticmethod
    def _redact(record: logging.LogRecord) -> None:
        message = record.getMessage()
        shown = redact(message)
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            text = _FORMATTER.formatException(record.exc_info)
            shown = redact(text)
            if shown != text:  # else the handler's formatter formats it as usual
                record.exc_text = shown
        if record.stack_info:
            record.stack_info = redact(record.stack_info)


def install(logger: logging.Logger) -> None:
    """Give ``logger`` a RedactingFilter (once)."""
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
