"""Built-in hooks, chosen by what is installed: logging always; OpenTelemetry metrics when
``opentelemetry-api`` is importable (extra ``failover[otel]``); JSON lines on request.

The metrics cost nothing per call: the OpenTelemetryHook reads each breaker's own counters when
the application's MeterProvider collects (docs/reference/observability.md names every
instrument and attribute, and what each costs).
"""

from __future__ import annotations

import importlib.util
import itertools
import random
import threading
import weakref
from collections import Counter, deque
from collections.abc import Iterator
from numbers import Real
from typing import TYPE_CHECKING, Protocol, TextIO

from failover._base import otel_names as names
from failover._base.hooks import BreakerHook, LoggingHook
from failover._base.json import dumps as strict_json
from failover.errors import CallNotPermitted
from failover.secrets import redact
from statemachines import (
    BreakerState,
    ConfigurationError,
    FailoverEvent,
    Outcome,
    State,
    converter,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation


__all__ = ["JsonLinesHook", "OpenTelemetryHook", "default_hooks", "otel_available"]


def otel_available() -> bool:
    """Whether opentelemetry-api can be imported."""
    return importlib.util.find_spec("opentelemetry.metrics") is not None


_shared: dict[str, BreakerHook] = {}


def default_hooks() -> tuple[BreakerHook, ...]:
    """The hooks a breaker gets with ``hooks=None``: logging, plus metrics if OTel is there.

    Every breaker shares one OpenTelemetryHook (OTel keeps the first instrument of a name, so one
    must report every provider). Neither hook runs per call: the breaker keeps its fast path.
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


_NOT_PERMITTED = f"{CallNotPermitted.__module__}.{CallNotPermitted.__qualname__}"
"""``error.type`` of a rejection: the error's class name under its module."""


class _Counted(Protocol):
    """What OpenTelemetryHook reads of a breaker bound to it (a CircuitBreaker)."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> State: ...
    def call_counts(self) -> dict[Outcome, int]: ...
    def rejection_counts(self) -> dict[State, int]: ...


class _Bound:
    """One breaker bound to a hook: a weak reference, and its counts when last read."""

    __slots__ = ("calls", "name", "ref", "rejections")

    def __init__(self, ref: weakref.ref[_Counted], name: str) -> None:
        self.ref = ref
        self.name = name
        self.calls: dict[Outcome, int] = {}
        self.rejections: dict[State, int] = {}


class _Breakers:
    """The breakers bound to one hook, held weakly.

    A breaker that is garbage-collected leaves its counts as last read, so that the sums of
    its provider stay monotonic (calls it finished after the last collection are not seen).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bound: dict[int, _Bound] = {}
        self._gone: deque[int] = deque()  # appended by weakref callbacks: no lock taken there
        self._keys = itertools.count()
        self._retired_calls: Counter[tuple[str, Outcome]] = Counter()
        self._retired_rejections: Counter[tuple[str, State]] = Counter()
        self.names: set[str] = set()

    def add(self, breaker: _Counted) -> None:
        key, gone = next(self._keys), self._gone
        ref = weakref.ref(breaker, lambda _: gone.append(key))
        with self._lock:
            self._bound[key] = _Bound(ref, breaker.name)
            self.names.add(breaker.name)

    def live(self) -> list[tuple[_Bound, _Counted]]:
        """The breakers alive now (after retiring those gone)."""
        with self._lock:
            while self._gone:
                bound = self._bound.pop(self._gone.popleft())
                self._retired_calls.update({(bound.name, o): n for o, n in bound.calls.items()})
                self._retired_rejections.update(
                    {(bound.name, s): n for s, n in bound.rejections.items()}
                )
            bounds = list(self._bound.values())
        return [(bound, breaker) for bound in bounds if (breaker := bound.ref()) is not None]

    def calls(self) -> Counter[tuple[str, Outcome]]:
        """Calls finished, by provider and outcome: every breaker's ``call_counts``, summed."""
        totals: Counter[tuple[str, Outcome]] = Counter()
        for bound, breaker in self.live():
            bound.calls = breaker.call_counts()
            totals.update({(bound.name, o): n for o, n in bound.calls.items()})
        with self._lock:
            totals.update(self._retired_calls)
        return totals

    def rejections(self) -> Counter[tuple[str, State]]:
        """Calls rejected, by provider and rejecting state (``rejection_counts``, summed)."""
        totals: Counter[tuple[str, State]] = Counter()
        for bound, breaker in self.live():
            bound.rejections = breaker.rejection_counts()
            totals.update({(bound.name, s): n for s, n in bound.rejections.items()})
        with self._lock:
            totals.update(self._retired_rejections)
        return totals


def _fraction(value: object) -> float:
    if not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:  # NaN is not either
        raise ConfigurationError(
            f"durations must be a fraction of calls in [0, 1] (True for every call), got {value!r}"
        )
    return float(value)


class OpenTelemetryHook(BreakerHook):
    """OpenTelemetry metrics for every breaker it is given to, read when they are collected.

    Give one hook to every breaker: it binds each (a weak reference) and, when the
    application's MeterProvider collects, reads their own counters (``call_counts``,
    ``rejection_counts``, ``state``), summed by provider name. It counts transitions itself.
    Nothing runs per call unless ``durations`` asks for the duration histogram.

    Instruments (meter ``failover``; docs/reference/observability.md):
        failover.breaker.calls (observable counter, {call}; failover.provider.name,
            failover.call.outcome): calls finished.
        failover.breaker.rejections (observable counter, {rejection}; failover.provider.name,
            failover.breaker.state, error.type): calls rejected with CallNotPermitted.
        failover.breaker.transitions (observable counter, {transition};
            failover.provider.name, failover.transition.source, .dest, .reason).
        failover.breaker.state (observable up-down counter, {breaker};
            failover.provider.name, failover.breaker.state): how many of the provider's
            breakers are in each state (every BreakerState reported, 0 for the others).
        failover.breaker.call.duration (histogram, s; failover.provider.name,
            failover.call.outcome): only with ``durations``.

    Args:
        meter: The meter to create the instruments on (default
            ``opentelemetry.metrics.get_meter("failover")``, the global provider's).
        durations: The fraction of finished calls whose duration the histogram records,
            drawn at random: 0 (the default) for none and no per-call hook at all, True or 1
            for every call. Any other value makes the hook run on every call (``on_call``),
            which takes the breaker off its lock-free fast path.
        rng: The random source of the sampling (default: a new ``random.Random``).
    """

    def __new__(
        cls, meter: Meter | None = None, *, durations: float = 0.0, rng: random.Random | None = None
    ) -> OpenTelemetryHook:
        # the breaker runs on_call iff the hook's class overrides it: only the timed class does
        return object.__new__(_TimedHook if durations and cls is OpenTelemetryHook else cls)

    def __init__(
        self,
        meter: Meter | None = None,
        *,
        durations: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        from opentelemetry import metrics

        self.durations = _fraction(durations)
        if self.durations and not isinstance(self, _TimedHook):
            raise ConfigurationError("durations is an option of OpenTelemetryHook itself")
        self.meter = meter if meter is not None else metrics.get_meter(names.METER)
        self._breakers = _Breakers()
        self._lock = threading.Lock()
        self._transitions: Counter[tuple[str, str, str, str]] = Counter()
        self._heard: dict[str, State] = {}  # providers heard of by a transition only (pybreaker)
        self._create_instruments(self.meter)

    def _create_instruments(self, meter: Meter) -> None:
        meter.create_observable_counter(
            names.CALLS, [self._observe_calls], "{call}", "Calls finished, by outcome"
        )
        meter.create_observable_counter(
            names.REJECTIONS,
            [self._observe_rejections],
            "{rejection}",
            "Calls rejected with CallNotPermitted, by the breaker state that rejected them",
        )
        meter.create_observable_counter(
            names.TRANSITIONS, [self._observe_transitions], "{transition}", "Breaker state changes"
        )
        meter.create_observable_up_down_counter(
            names.STATE,
            [self._observe_states],
            "{breaker}",
            "Breakers in each state, by provider (1 or 0 with one breaker per provider)",
        )

    def bind(self, breaker: _Counted) -> None:
        """Read ``breaker``'s counters at every collection from now on (held weakly)."""
        self._breakers.add(breaker)

    def on_transition(self, event: FailoverEvent) -> None:
        key = (event.provider, event.source.value, event.dest.value, event.reason.value)
        with self._lock:
            self._transitions[key] += 1
            self._heard[event.provider] = event.dest

    def _observe_calls(self, options: CallbackOptions) -> Iterator[Observation]:
        from opentelemetry.metrics import Observation

        for (provider, outcome), count in self._breakers.calls().items():
            yield Observation(
                count, {names.PROVIDER_NAME: provider, names.CALL_OUTCOME: outcome.value}
            )

    def _observe_rejections(self, options: CallbackOptions) -> Iterator[Observation]:
        from opentelemetry.metrics import Observation

        for (provider, state), count in self._breakers.rejections().items():
            attributes = {
                names.PROVIDER_NAME: provider,
                names.BREAKER_STATE: state.value,
                names.ERROR_TYPE: _NOT_PERMITTED,
            }
            yield Observation(count, attributes)

    def _observe_transitions(self, options: CallbackOptions) -> Iterator[Observation]:
        from opentelemetry.metrics import Observation

        with self._lock:
            counts = list(self._transitions.items())
        for (provider, source, dest, reason), count in counts:
            attributes = {
                names.PROVIDER_NAME: provider,
                names.TRANSITION_SOURCE: source,
                names.TRANSITION_DEST: dest,
                names.TRANSITION_REASON: reason,
            }
            yield Observation(count, attributes)

    def _observe_states(self, options: CallbackOptions) -> Iterator[Observation]:
        from opentelemetry.metrics import Observation

        counts: Counter[tuple[str, State]] = Counter()
        for bound, breaker in self._breakers.live():  # reading state may fire a due transition
            counts[bound.name, breaker.state] += 1
        with self._lock:
            heard = [(p, s) for p, s in self._heard.items() if p not in self._breakers.names]
        counts.update(heard)
        for provider in sorted({provider for provider, _ in counts}):
            states = {*BreakerState, *(s for p, s in counts if p == provider)}
            for state in states:
                attributes = {names.PROVIDER_NAME: provider, names.BREAKER_STATE: state.value}
                yield Observation(counts[provider, state], attributes)

    def __repr__(self) -> str:
        return "OpenTelemetryHook()"


class _TimedHook(OpenTelemetryHook):
    """An OpenTelemetryHook with ``durations``: records the duration of a sample of calls."""

    def __init__(
        self,
        meter: Meter | None = None,
        *,
        durations: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(meter, durations=durations, rng=rng)
        self._duration: Histogram = self.meter.create_histogram(
            names.CALL_DURATION,
            unit="s",
            description="Duration of the calls a breaker admitted (a sample of them)",
            explicit_bucket_boundaries_advisory=list(names.DURATION_BUCKETS),
        )
        self._draw = None if self.durations == 1.0 else (rng or random.Random()).random
        self._attributes: dict[tuple[str, Outcome], dict[str, str]] = {}

    def on_call(self, provider: str, outcome: Outcome, duration: float) -> None:
        if self._draw is not None and self._draw() >= self.durations:
            return
        attributes = self._attributes.get((provider, outcome))
        if attributes is None:
            attributes = {names.PROVIDER_NAME: provider, names.CALL_OUTCOME: outcome.value}
            self._attributes[provider, outcome] = attributes
        self._duration.record(duration, attributes)

    def __repr__(self) -> str:
        return f"OpenTelemetryHook(durations={self.durations!r})"
