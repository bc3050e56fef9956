"""Built-in hooks, chosen by what is installed: logging always; OpenTelemetry metrics when
``opentelemetry-api`` is importable (extra ``failover[otel]``); JSON lines on request."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from failover._json import dumps as strict_json
from failover.hooks import BreakerHook, LoggingHook
from failover.secrets import redact
from statemachines import BreakerState, FailoverEvent, Outcome, State, converter

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter, Observation

__all__ = ["JsonLinesHook", "OpenTelemetryHook", "default_hooks", "otel_available"]


def otel_available() -> bool:
    """Whether opentelemetry-api can be imported."""
    return importlib.util.find_spec("opentelemetry.metrics") is not None


_shared: dict[str, BreakerHook] = {}


def default_hooks() -> tuple[BreakerHook, ...]:
    """The hooks a breaker gets with ``hooks=None``: logging, plus metrics if OTel is there.

    Every breaker shares one OpenTelemetryHook: OTel keeps the first observable gauge of a
    name, so one gauge must report every provider.
    """
    if not otel_available():
        return (LoggingHook(),)
    if "otel" not in _shared:
        _shared["otel"] = OpenTelemetryHook()
    return (LoggingHook(), _shared["otel"])


class JsonLinesHook(BreakerHook):
    """Writes each event as one JSON line to ``stream`` (and flushes), e.g. an open file.

    A line is ``event_to_json``'s, and strict JSON: a number that is not finite (which no
    event of the built-in machine carries) would be written null, never NaN or Infinity. It
    is passed through ``failover.secrets.redact`` (an event's details may quote an error).
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def on_transition(self, event: FailoverEvent) -> None:
        line = strict_json(converter.unstructure(event), separators=(",", ":"), sort_keys=True)
        line = redact(line) + "\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()

    def __repr__(self) -> str:
        return f"JsonLinesHook({getattr(self.stream, 'name', self.stream)!r})"


class OpenTelemetryHook(BreakerHook):
    """OpenTelemetry metrics for every breaker it is given to.

    Instruments (meter ``failover``):
        failover.calls (counter; provider, outcome): finished calls.
        failover.calls.not_permitted (counter; provider, state): rejected calls.
        failover.transitions (counter; provider, source, dest, reason).
        failover.call.duration (histogram, s; provider, outcome).
        failover.breaker.state (observable gauge; provider, state): 1 for the current state,
            0 for the others.
    """

    def __init__(self, meter: Meter | None = None) -> None:
        from opentelemetry import metrics

        meter = meter if meter is not None else metrics.get_meter("failover")
        self._calls = meter.create_counter(
            "failover.calls", unit="{call}", description="Calls finished, by outcome"
        )
        self._rejected = meter.create_counter(
            "failover.calls.not_permitted",
            unit="{call}",
            description="Calls rejected by a breaker",
        )
        self._transitions = meter.create_counter(
            "failover.transitions", unit="{transition}", description="Breaker state changes"
        )
        self._duration = meter.create_histogram(
            "failover.call.duration", unit="s", description="Duration of admitted calls"
        )
        meter.create_observable_gauge(
            "failover.breaker.state",
            callbacks=[self._observe],
            description="1 for each provider's current breaker state, 0 for the others",
        )
        self._states: dict[str, State] = {}

    def on_transition(self, event: FailoverEvent) -> None:
        self._states[event.provider] = event.dest
        self._transitions.add(
            1,
            {
                "provider": event.provider,
                "source": event.source.value,
                "dest": event.dest.value,
                "reason": event.reason.value,
            },
        )

    def on_call(self, provider: str, outcome: Outcome, duration: float) -> None:
        self._states.setdefault(provider, BreakerState.CLOSED)
        attributes = {"provider": provider, "outcome": outcome.value}
        self._calls.add(1, attributes)
        self._duration.record(duration, attributes)

    def on_rejected(self, provider: str, state: State) -> None:
        self._states[provider] = state
        self._rejected.add(1, {"provider": provider, "state": state.value})

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        for provider, current in list(self._states.items()):
            for state in {*BreakerState, current}:
                yield Observation(
                    1 if state == current else 0, {"provider": provider, "state": state.value}
                )

    def __repr__(self) -> str:
        return "OpenTelemetryHook()"
