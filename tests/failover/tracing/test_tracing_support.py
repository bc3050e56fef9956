"""Helpers shared by the tracing and gen_ai metrics tests (no tests here): an OTel SDK tracer
provider over an InMemorySpanExporter and a meter provider over an InMemoryMetricReader, and
ways to read what they got."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from failover.tracing import CoordinatorTelemetry

__all__ = ["Recorder", "attributes"]


class Recorder:
    """An SDK tracer provider and meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def telemetry(self, **kwargs: Any) -> CoordinatorTelemetry:
        """A CoordinatorTelemetry recording here."""
        return CoordinatorTelemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kwargs
        )

    def spans(self) -> list[ReadableSpan]:
        """Every span ended so far, in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def request(self) -> ReadableSpan:
        """The one request span (the span without a parent among those recorded)."""
        ids = {s.context.span_id for s in self.spans()}
        roots = [s for s in self.spans() if s.parent is None or s.parent.span_id not in ids]
        assert len(roots) == 1, [s.name for s in roots]
        return roots[0]

    def attempts(self) -> list[ReadableSpan]:
        """The request span's children, in the order they started."""
        request = self.request()
        children = [
            s
            for s in self.spans()
            if s.parent is not None and s.parent.span_id == request.context.span_id
        ]
        return sorted(children, key=lambda s: s.attributes["failover.attempt.number"])

    def events(self, name: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """The request span's events (named ``name``), with their attributes."""
        return [
            (e.name, dict(e.attributes or {}))
            for e in self.request().events
            if name is None or e.name == name
        ]

    def points(self, metric: str) -> list[HistogramDataPoint]:
        """The data points of the histogram ``metric`` collected now."""
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for found in scope.metrics
            if found.name == metric
            for point in found.data.data_points
            if isinstance(point, HistogramDataPoint)
        ]

    def metric_names(self) -> set[str]:
        """The names of every metric collected now."""
        data = self.reader.get_metrics_data()
        if data is None:
            return set()
        return {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}


def attributes(span: ReadableSpan) -> Mapping[str, Any]:
    """A span's attributes as a plain dict."""
    return dict(span.attributes or {})
