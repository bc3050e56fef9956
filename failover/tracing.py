"""Optional OpenTelemetry tracing and gen_ai client metrics for the Coordinator.

Off by default: a Coordinator built without ``telemetry=`` has none and its requests run
exactly as they would without this module. ``Coordinator(..., telemetry=CoordinatorTelemetry())``
turns both on, with the global tracer and meter providers (``[failover.telemetry]`` in the
settings does the same: ``tracing = true``, ``gen_ai_metrics = true``). It needs
opentelemetry-api (the extra ``failover[otel]``).

What is recorded (names per the OpenTelemetry semantic conventions, ``failover.*`` for the
failover decisions; docs/how-to/trace-requests.md lists every name and what each costs):

- a span per request, ``failover generate`` / ``failover stream`` / ``failover search`` /
  ``failover call`` (INTERNAL), status OK with ``failover.provider.name`` (the provider that
  answered) or ERROR with ``error.type``; its events are the decisions:
  ``failover.provider.skipped`` (``failover.skip.reason``: not_permitted, quota,
  already_tried), ``failover.attempt.failed``, ``failover.retry.wait``, ``failover.fallback``,
  ``failover.probe``, ``failover.hedge``;
- a child span per attempt (CLIENT), ``{gen_ai.operation.name} {gen_ai.request.model}`` for
  text (``chat gpt-4o``), ``search {provider}`` or ``call {provider}`` otherwise, with
  ``gen_ai.*`` attributes for LLM providers and ``error.type`` when it failed;
- for text attempts, ``gen_ai.client.operation.duration`` (s) and ``gen_ai.client.token.usage``
  ({token}, ``gen_ai.token.type`` input / output, from the LLMResponse's usage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from statemachines import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from failover._coordinator.pool import Pool
    from failover._tracing.plan import Traced

__all__ = ["CoordinatorTelemetry"]

_INSTALL = "install it with `pip install 'failover[otel]'` (or `pip install opentelemetry-api`)"


def _flag(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"CoordinatorTelemetry.{attribute.name} must be true or false, got {value!r}"
        )


@attrs.frozen
class CoordinatorTelemetry:
    """What a Coordinator records with OpenTelemetry (``Coordinator(telemetry=...)``).

    Attributes:
        tracer_provider: Where the spans go; None for the global tracer provider (read when
            the coordinator is built).
        meter_provider: Where the gen_ai metrics go; None for the global meter provider.
        spans: A span per request and per attempt, the failover decisions as its events.
        gen_ai_metrics: ``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage``
            for each attempt at an LLM provider (generate and stream).
    """

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    spans: bool = attrs.field(default=True, validator=_flag)
    gen_ai_metrics: bool = attrs.field(default=True, validator=_flag)

    @property
    def enabled(self) -> bool:
        """Whether anything is recorded."""
        return self.spans or self.gen_ai_metrics

    @classmethod
    def from_settings(cls, table: Mapping[str, bool]) -> CoordinatorTelemetry | None:
        """The telemetry a ``[failover.telemetry]`` table asks for (``tracing``,
        ``gen_ai_metrics``); None when it asks for none."""
        telemetry = cls(
            spans=table.get("tracing", False), gen_ai_metrics=table.get("gen_ai_metrics", False)
        )
        return telemetry if telemetry.enabled else None


def instrument(pool: Pool, telemetry: CoordinatorTelemetry | None) -> Traced | None:
    """The telemetry asked for, for the coordinator of ``pool`` (called once, by its
    ``__init__``, after its slots are made), with the traced requests it then runs
    (``failover._tracing.plan.Traced``: the coordinator sets them as its own ``_run`` and
    stream, so a coordinator without telemetry pays nothing); None: nothing to record.

    Raises:
        ConfigurationError: ``telemetry`` is not a CoordinatorTelemetry, or it enables
            something and opentelemetry-api is not installed.
    """
    if telemetry is None:
        return None
    if not isinstance(telemetry, CoordinatorTelemetry):
        raise ConfigurationError(
            f"telemetry must be a CoordinatorTelemetry or None, got {telemetry!r}"
        )
    if not telemetry.enabled:
        return None
    try:
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            f"telemetry needs opentelemetry-api, which is not installed: {_INSTALL}"
        ) from None
    from failover._tracing.plan import Traced

    return Traced.of(pool, telemetry)
