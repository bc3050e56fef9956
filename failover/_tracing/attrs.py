"""The names ``failover.tracing`` records under, and what it knows of each provider beforehand.

Attribute and instrument names follow the OpenTelemetry semantic conventions (``gen_ai.*``,
``error.type``; the gen_ai registry of semconv 1.37 and later, where ``gen_ai.provider.name``
replaced ``gen_ai.system``); the failover decisions have names of their own under ``failover.``.
No module here imports OpenTelemetry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from failover._coordinator.kinds import GENERATE, KINDS, STREAM

SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.37.0"
"""The semantic conventions the names below follow."""

# --- attributes -------------------------------------------------------------------------------
ERROR_TYPE: Final = "error.type"
OPERATION: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
RESPONSE_MODEL: Final = "gen_ai.response.model"
FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
TOKEN_TYPE: Final = "gen_ai.token.type"
PROVIDER: Final = "failover.provider.name"
REQUEST_KIND: Final = "failover.request.kind"
ATTEMPT_NUMBER: Final = "failover.attempt.number"
ATTEMPT_COUNT: Final = "failover.attempt.count"
IS_FALLBACK: Final = "failover.provider.fallback"
CANCELLED: Final = "failover.cancelled"
SKIP_REASON: Final = "failover.skip.reason"
BREAKER_STATE: Final = "failover.breaker.state"
WAIT_DURATION: Final = "failover.wait.duration"

# --- events on the request span ---------------------------------------------------------------
SKIPPED: Final = "failover.provider.skipped"
ATTEMPT_FAILED: Final = "failover.attempt.failed"
WAIT: Final = "failover.retry.wait"
FALLBACK: Final = "failover.fallback"
PROBE: Final = "failover.probe"
HEDGE: Final = "failover.hedge"

# --- skip reasons -----------------------------------------------------------------------------
NOT_PERMITTED: Final = "not_permitted"
QUOTA: Final = "quota"
ALREADY_TRIED: Final = "already_tried"

# --- metrics ----------------------------------------------------------------------------------
DURATION: Final = "gen_ai.client.operation.duration"
TOKEN_USAGE: Final = "gen_ai.client.token.usage"
DURATION_BUCKETS: Final = tuple(0.01 * 2**n for n in range(14))
"""The boundaries semconv gives for ``gen_ai.client.operation.duration``: 0.01 s, 0.02 s,
0.04 s, ... 81.92 s."""
TOKEN_BUCKETS: Final = tuple(4**n for n in range(14))
"""The boundaries semconv gives for ``gen_ai.client.token.usage``: 1, 4, 16, ... 4**13."""

GEN_AI_PROVIDERS: Final[Mapping[str, str]] = {
    "providers.gemini.GeminiProvider": "gcp.gemini",
    "providers.gemini_sdk.GeminiSDKProvider": "gcp.gemini",
    "providers.openai.OpenAICompatibleProvider": "openai",
}
"""The ``gen_ai.provider.name`` of the built-in LLM provider classes (semconv's well-known
values: the Gemini API at generativelanguage.googleapis.com is ``gcp.gemini``; any
OpenAI-compatible endpoint speaks the ``openai`` flavour). Any other provider is named by its
``gen_ai_provider_name`` attribute if it has one, else by its own name."""
_OPERATIONS: Final[Mapping[str, str]] = {"gcp.gemini": "generate_content"}
"""The ``gen_ai.operation.name`` per gen_ai provider; ``chat`` for the others."""


@attrs.frozen
class SlotInfo:
    """What the telemetry records of one provider, worked out once.

    Attributes:
        name: The provider's name in this coordinator.
        fallback: Whether it is a fallback.
        llm: Whether it generates text (gen_ai attributes and metrics apply).
        operation: Its ``gen_ai.operation.name``.
        gen_ai: Its gen_ai attributes (operation, provider name, request model if known).
    """

    name: str
    fallback: bool
    llm: bool
    operation: str
    gen_ai: Mapping[str, str]

    def span_name(self, kind: int) -> str:
        """The attempt span's name: ``{operation} {model}`` for text, ``{kind} {provider}``
        otherwise."""
        if kind in (GENERATE, STREAM) and self.llm:
            model = self.gen_ai.get(REQUEST_MODEL)
            return self.operation if model is None else f"{self.operation} {model}"
        return f"{KINDS[kind]} {self.name}"


def slot_info(name: str, provider: object, llm: bool, fallback: bool) -> SlotInfo:
    """The telemetry's view of provider ``name`` (its class and model; ``llm``: whether it
    generates text)."""
    cls = type(provider)
    named = getattr(provider, "gen_ai_provider_name", None)
    if not isinstance(named, str) or not named:
        named = GEN_AI_PROVIDERS.get(f"{cls.__module__}.{cls.__qualname__}", name)
    operation = _OPERATIONS.get(named, "chat")
    gen_ai = {OPERATION: operation, GEN_AI_PROVIDER: named}
    model = _model_of(provider)
    if model is not None:
        gen_ai[REQUEST_MODEL] = model
    return SlotInfo(name, fallback, llm, operation, gen_ai)


def _model_of(provider: object) -> str | None:
    """The model a provider asks for: ``model_name``, else ``model`` when it is text."""
    for name in ("model_name", "model"):
        model = getattr(provider, name, None)
        if isinstance(model, str) and model:
            return model
    return None


def error_type(error: BaseException) -> str:
    """``error.type`` of an exception: its class's qualified name, under its module unless
    it is a builtin (``failover.errors.Unavailable``, ``TimeoutError``)."""
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
