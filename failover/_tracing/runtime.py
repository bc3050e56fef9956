"""The telemetry of one coordinator (``failover.tracing``): its tracer, its gen_ai histograms,
and how a request span, an attempt span and their events are filled in.

Imported only when telemetry is enabled: it imports OpenTelemetry's API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from failover._coordinator.kinds import GENERATE, KINDS, STREAM
from failover._coordinator.slot import Slot
from failover._tracing.attrs import (
    ATTEMPT_COUNT,
    ATTEMPT_NUMBER,
    BREAKER_STATE,
    CANCELLED,
    DURATION,
    DURATION_BUCKETS,
    ERROR_TYPE,
    FINISH_REASONS,
    INPUT_TOKENS,
    IS_FALLBACK,
    NOT_PERMITTED,
    OUTPUT_TOKENS,
    PROVIDER,
    QUOTA,
    REQUEST_KIND,
    RESPONSE_MODEL,
    SCHEMA_URL,
    SKIP_REASON,
    SKIPPED,
    TOKEN_BUCKETS,
    TOKEN_TYPE,
    TOKEN_USAGE,
    SlotInfo,
    error_type,
    slot_info,
)
from failover.provider import LLMResponse
from failover.secrets import redact

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from failover._coordinator.pool import Layout

__all__ = ["Instrumented", "Wanted"]

_SCOPE = "failover"
_TOKENS_DESCRIPTION = "Number of input and output tokens used."
_Attributes = dict[str, Any]


class Wanted(Protocol):
    """What a coordinator records and where (failover.tracing.CoordinatorTelemetry)."""

    @property
    def tracer_provider(self) -> TracerProvider | None: ...
    @property
    def meter_provider(self) -> MeterProvider | None: ...
    @property
    def spans(self) -> bool: ...
    @property
    def gen_ai_metrics(self) -> bool: ...


class Instrumented:
    """The telemetry of one coordinator (internal): a tracer (a no-op one when spans are off),
    the two gen_ai histograms (None when those metrics are off); each slot's SlotInfo is on its
    ``Live`` record (``slot.live.info``), which every layout of the fleet shares."""

    __slots__ = ("config", "histograms", "tracer")

    def __init__(self, config: Wanted, layout: Layout) -> None:
        self.config = config
        self.tracer: trace.Tracer = trace.NoOpTracer()
        if config.spans:
            provider = config.tracer_provider or trace.get_tracer_provider()
            self.tracer = provider.get_tracer(_SCOPE, schema_url=SCHEMA_URL)
        self.histograms: tuple[metrics.Histogram, metrics.Histogram] | None = None
        if config.gen_ai_metrics:
            meters = config.meter_provider or metrics.get_meter_provider()
            meter = meters.get_meter(_SCOPE, schema_url=SCHEMA_URL)
            self.histograms = (
                _histogram(meter, DURATION, "s", "GenAI operation duration.", DURATION_BUCKETS),
                _histogram(meter, TOKEN_USAGE, "{token}", _TOKENS_DESCRIPTION, TOKEN_BUCKETS),
            )
        ranked = layout.ranked
        for slot in layout.slots:
            self.describe(slot, fallback=slot.index >= ranked)

    @staticmethod
    def describe(slot: Slot, *, fallback: bool) -> None:
        """Give ``slot`` (a new one: the coordinator's, or ``Coordinator.add``'s) its SlotInfo."""
        slot.live.info = slot_info(slot.name, slot.provider, slot.serves[GENERATE], fallback)

    # --- the request span --------------------------------------------------------------------

    def start_request(self, kind: int) -> Span:
        """The span of one coordinator request, a child of the caller's current span."""
        name = KINDS[kind]
        return self.tracer.start_span(
            f"failover {name}", kind=SpanKind.INTERNAL, attributes={REQUEST_KIND: name}
        )

    def end_request(
        self, span: Span, attempts: int, provider: str | None, error: BaseException | None
    ) -> None:
        """End the request span: the answering provider (status left UNSET, as the
        conventions ask of an instrumentation library), or the error that ended it."""
        if span.is_recording():
            span.set_attribute(ATTEMPT_COUNT, attempts)
            if error is None:
                if provider is not None:
                    span.set_attribute(PROVIDER, provider)
            elif isinstance(error, Exception):
                _failed(span, error)
            else:  # cancelled, or the caller stopped reading a stream
                span.set_attribute(CANCELLED, True)
        span.end()

    def event(self, span: Span, name: str, slot: Slot | None, extra: _Attributes) -> None:
        """An event on the request span, about ``slot`` when given."""
        if span.is_recording():
            if slot is not None:
                extra[PROVIDER] = slot.name
            span.add_event(name, extra)

    def skipped(self, span: Span, slot: Slot, now: float, reason: str | None = None) -> None:
        """A provider passed over: ``reason``, or why it admitted no call now."""
        if not span.is_recording():
            return
        if reason is None:
            blocked = slot.would_admit(now) and slot.quota_at(now) is not None
            reason = QUOTA if blocked else NOT_PERMITTED
        state = slot.machine.state.value
        self.event(span, SKIPPED, slot, {SKIP_REASON: reason, BREAKER_STATE: state})

    # --- attempt spans -----------------------------------------------------------------------

    def start_attempt(self, request: Span, slot: Slot, kind: int, number: int) -> Span:
        """The span of one attempt, a child of the request span."""
        info = _info(slot)
        attributes: _Attributes = {PROVIDER: info.name, ATTEMPT_NUMBER: number}
        if info.fallback:
            attributes[IS_FALLBACK] = True
        if kind in (GENERATE, STREAM) and info.llm:
            attributes.update(info.gen_ai)
        return self.tracer.start_span(
            info.span_name(kind),
            context=trace.set_span_in_context(request),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )

    def end_attempt(
        self,
        span: Span,
        slot: Slot,
        kind: int,
        value: object,
        error: BaseException | None,
        duration: float,
    ) -> None:
        """End an attempt's span and record its gen_ai metrics (text requests only)."""
        info = _info(slot)
        gen_ai = kind in (GENERATE, STREAM) and info.llm
        answer = value if gen_ai and isinstance(value, LLMResponse) else None
        if span.is_recording():
            if error is not None:
                _failed(span, error)
            elif answer is not None:
                span.set_attributes(_answer_attributes(answer))
        span.end()
        if gen_ai and self.histograms is not None:
            _record(self.histograms, info, answer, error, duration)

    def cancelled(self, span: Span) -> None:
        """End the span of an attempt that was cancelled (a hedge that lost, a caller gone)."""
        span.set_attribute(CANCELLED, True)
        span.end()


def _record(
    histograms: tuple[metrics.Histogram, metrics.Histogram],
    info: SlotInfo,
    answer: LLMResponse | None,
    error: BaseException | None,
    seconds: float,
) -> None:
    """One attempt's gen_ai metrics: its duration, and its tokens when the answer says."""
    duration, tokens = histograms
    attributes: _Attributes = dict(info.gen_ai)
    if error is not None:
        attributes[ERROR_TYPE] = error_type(error)
    elif answer is not None and answer.model:
        attributes[RESPONSE_MODEL] = answer.model
    duration.record(seconds, attributes)
    usage = answer.usage if answer is not None else None
    if usage is not None and (usage.prompt_tokens or usage.output_tokens):
        tokens.record(usage.prompt_tokens, {**attributes, TOKEN_TYPE: "input"})
        tokens.record(usage.output_tokens, {**attributes, TOKEN_TYPE: "output"})


def _answer_attributes(answer: LLMResponse) -> Mapping[str, Any]:
    """The gen_ai response attributes of an attempt span."""
    found: _Attributes = {}
    if answer.model:
        found[RESPONSE_MODEL] = answer.model
    usage = answer.usage
    if usage.prompt_tokens or usage.output_tokens:
        found[INPUT_TOKENS] = usage.prompt_tokens
        found[OUTPUT_TOKENS] = usage.output_tokens
    if answer.finish_reason:
        found[FINISH_REASONS] = (answer.finish_reason,)
    return found


def _failed(span: Span, error: BaseException) -> None:
    """Mark ``span`` failed: ``error.type`` and an ERROR status with the (redacted) message."""
    span.set_attribute(ERROR_TYPE, error_type(error))
    try:
        message = redact(str(error))[:256]
    except Exception:  # a __str__ that raises: the type says enough
        message = ""
    span.set_status(Status(StatusCode.ERROR, message or None))


def _histogram(
    meter: metrics.Meter, name: str, unit: str, description: str, buckets: Sequence[float]
) -> metrics.Histogram:
    """A histogram with semconv's bucket boundaries as advice (an API older than 1.23 takes
    none: the SDK's defaults then apply)."""
    try:
        return meter.create_histogram(
            name, unit, description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # pragma: no cover - opentelemetry-api < 1.23
        return meter.create_histogram(name, unit, description)


def _info(slot: Slot) -> SlotInfo:
    info = slot.live.info
    assert info is not None  # every slot of an instrumented coordinator is described
    return info
