"""The names failover's OpenTelemetry signals carry (internal), per the semantic conventions.

Lowercase, dot-namespaced under ``failover.``, snake_case within a component; counts of things
are pluralized with a ``{thing}`` unit, durations in seconds. ``error.type`` is the convention's
own key (the error's class name). Every name is listed in docs/reference/observability.md.
"""

from __future__ import annotations

from typing import Final

METER: Final = "failover"
"""The instrumentation scope (meter name) of every instrument."""

# --- instruments --------------------------------------------------------------------------------

CALLS: Final = "failover.breaker.calls"
REJECTIONS: Final = "failover.breaker.rejections"
TRANSITIONS: Final = "failover.breaker.transitions"
STATE: Final = "failover.breaker.state"
CALL_DURATION: Final = "failover.breaker.call.duration"

# --- attribute keys -----------------------------------------------------------------------------

PROVIDER_NAME: Final = "failover.provider.name"
CALL_OUTCOME: Final = "failover.call.outcome"
BREAKER_STATE: Final = "failover.breaker.state"
TRANSITION_SOURCE: Final = "failover.transition.source"
TRANSITION_DEST: Final = "failover.transition.dest"
TRANSITION_REASON: Final = "failover.transition.reason"
ERROR_TYPE: Final = "error.type"

DURATION_BUCKETS: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
"""Histogram boundaries advised for call durations, in seconds: those the semantic conventions
advise for ``gen_ai.client.operation.duration`` (provider calls take milliseconds to a minute)."""
