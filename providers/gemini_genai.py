"""GeminiGenAIProvider: Gemini through Google's ``google-genai`` SDK (extra ``genai``).

``google-genai`` is the successor of ``google-generativeai`` (GeminiSDKProvider, deprecated).
The provider uses the SDK's async client (``genai.Client(...).aio``) over the provider's own
pooled ``httpx.AsyncClient`` (or an injected one); ``google.genai`` is imported only when a
GeminiGenAIProvider is built, so ``import providers`` works without it.

- One request per call: the SDK's retries are off (``HttpRetryOptions(attempts=1)``) and its
  automatic function calling is disabled; the coordinator's retry is the only one.
- The key (``api_key``) goes through ``failover.secrets.check_secret``: surrounding whitespace
  stripped, a control or non-ASCII character refused without showing it. Every message built
  from an answer or an exception is redacted, and a mapped error is raised without the SDK's
  or httpx's exception chained to it.
- Errors: an HTTP error answer is read (at most 64 KiB) before the SDK sees it and mapped
  exactly as GeminiProvider maps it (``_gemini_wire.error_for``: 429 RateLimited with
  RetryInfo's retryDelay or Retry-After, 400 API_KEY_INVALID Unauthorized, 403 Unauthorized,
  5xx Unavailable, ...); httpx's failures as ``providers._http`` maps them (a timeout
  ProviderTimeout, a refused or cut connection Unavailable); a request field the SDK refuses
  BadRequest. Once an answer has arrived, any exception raised while reading it (not JSON, a
  field of the wrong type) is a malformed answer: Unavailable. A 200 is decoded by
  ``providers/_gemini_response.py`` (ContentBlocked, Unavailable for a malformed field), and a
  stream that ends without a finish reason is Unavailable (cut short), as GeminiProvider's.
- Bounded reads (``providers/_gemini_genai_http.py``): an answer larger than
  ``max_response_bytes`` (a whole one, or a stream in all) is Unavailable and not read further.
- Vertex AI: ``vertexai=True`` with ``project`` and ``location`` (Google Cloud credentials:
  ``credentials=``, else Application Default Credentials at the first call), or with an
  ``api_key`` (Vertex AI express mode).

See docs/how-to/providers/gemini-genai.md and docs/reference/providers.md.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, Final, TypeVar

import httpx

from failover.errors import BadRequest, ConfigurationError, FailoverError, Unavailable
from failover.provider import HealthCheckResult, LLMResponse, Usage
from failover.secrets import check_secret, redact
from providers import _gemini_genai_http as _genai_http
from providers import _gemini_wire as wire
from providers._http import make_client
from providers._reading import DEFAULT_MAX_RESPONSE_BYTES, check_max_response_bytes
from providers.gemini import DEFAULT_BASE_URL, DEFAULT_MODEL, DEFAULT_TIMEOUT

__all__ = ["GeminiGenAIProvider"]

T = TypeVar("T")
_CONFIG_KEYS: Final = (
    "systemInstruction",
    "safetySettings",
    "tools",
    "toolConfig",
    "cachedContent",
)
_COUNTED: Final = frozenset({"contents", "generationConfig", "safetySettings"})


def _sdk() -> Any:
    try:
        return importlib.import_module("google.genai")
    except ImportError as exc:
        raise ConfigurationError(
            "GeminiGenAIProvider needs the google-genai SDK: pip install 'failover[genai]' (or "
            "use GeminiProvider, the REST provider, which needs nothing more)"
        ) from exc


class GeminiGenAIProvider:
    """Gemini through google-genai's async client: generate, stream, count tokens, health check.

    Args:
        api_key: The Gemini API key (or a Vertex AI express-mode key). Required unless
            ``vertexai`` with a ``project``. Surrounding whitespace is stripped; a control or
            non-ASCII character is refused.
        model: The model ("gemini-2.5-flash"; a "models/" prefix is accepted).
        name: The provider's name (breakers, events, metrics).
        base_url: The API's endpoint (a fake server's in tests); default Google's, the
            Gemini API's or, with ``vertexai``, Vertex AI's for ``location``.
        api_version: The API version in the paths; default "v1beta" for the Gemini API and the
            SDK's own for Vertex AI.
        vertexai: Call Vertex AI instead of the Gemini API.
        project: The Google Cloud project (Vertex AI).
        location: The Google Cloud region (Vertex AI; the SDK's default "global" when None).
        credentials: google-auth credentials for Vertex AI (default: Application Default
            Credentials, loaded by the SDK at the first call).
        client: An httpx.AsyncClient to send through (not closed by ``aclose``); default: one
            pooled client of the provider's own.
        timeout: Seconds per request (connect, read, write and pool each; for a stream, the
            longest wait for its next bytes).
        max_response_bytes: The most bytes of one answer read (1 KiB to 1 GiB; 8 MiB by
            default), a whole one or a stream in all; a larger answer is Unavailable.

    Attributes:
        model: The configured model.
        vertexai: Whether the provider calls Vertex AI.
        max_response_bytes: As given.
        last_usage: Token counts of the most recent finished call or stream; None before any.
        sdk_client: The ``google.genai.Client``.

    Raises:
        ConfigurationError: The SDK is not installed; no key (and no Vertex AI project); a
            bad key, model, name, timeout or max_response_bytes; options the SDK refuses.
    """

    def __init__(
        self,
        api_key: str | None = None,
        model: str = DEFAULT_MODEL,
        *,
        name: str = "gemini-genai",
        base_url: str | None = None,
        api_version: str | None = None,
        vertexai: bool = False,
        project: str | None = None,
        location: str | None = None,
        credentials: Any = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        genai = _sdk()
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a provider name must be a non-empty string, got {name!r}")
        if isinstance(timeout, bool) or not (
            isinstance(timeout, int | float) and 0 < timeout < math.inf
        ):
            raise ConfigurationError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        model = model.removeprefix("models/") if isinstance(model, str) else model
        if not isinstance(model, str) or not model or "?" in model:
            raise ConfigurationError(
                f"GeminiGenAIProvider model must be a name such as {DEFAULT_MODEL!r}, got {model!r}"
            )
        if not isinstance(vertexai, bool):
            raise ConfigurationError(f"vertexai must be true or false, got {vertexai!r}")
        if api_key is not None:
            api_key = check_secret(api_key, "GeminiGenAIProvider's api_key")
        elif not (vertexai and project):
            raise ConfigurationError(
                "GeminiGenAIProvider needs an API key (get one at https://aistudio.google.com/"
                "apikey and pass it, e.g. from GEMINI_API_KEY), or vertexai=True with a project "
                "(and location) for Vertex AI"
            )
        if (project or location) and not vertexai:
            raise ConfigurationError(
                "GeminiGenAIProvider: project and location are Vertex AI's; pass vertexai=True "
                "with them, or leave them out for the Gemini API"
            )
        self._name = name
        self.model = model
        self.vertexai = vertexai
        self.timeout = float(timeout)
        self.max_response_bytes = check_max_response_bytes(max_response_bytes, name)
        self.last_usage: Usage | None = None
        self._http, self._owns_http = make_client(
            base_url=base_url or DEFAULT_BASE_URL, headers={}, timeout=self.timeout, client=client
        )
        _genai_http.install(self._http)
        types = importlib.import_module("google.genai.types")
        options = types.HttpOptions(
            base_url=base_url,
            api_version=api_version or (None if vertexai else "v1beta"),
            httpx_async_client=self._http,
            retry_options=types.HttpRetryOptions(attempts=1),  # the coordinator retries
            timeout=max(1, math.ceil(self.timeout * 1000)),  # milliseconds
        )
        try:
            self.sdk_client = genai.Client(
                vertexai=vertexai,
                api_key=api_key,
                project=project if vertexai else None,
                location=location if vertexai else None,
                credentials=credentials,
                http_options=options,
            )
        except ValueError as exc:  # the SDK's refusal of a combination of options
            raise ConfigurationError(
                redact(f"GeminiGenAIProvider {name!r}: google-genai refused its options: {exc}")
            ) from None
        self._aio = self.sdk_client.aio

    @property
    def name(self) -> str:
        """The provider's name."""
        return self._name

    async def _call(self, call: Awaitable[T], *, answered: bool = False) -> T:
        """``await call``, every exception of the SDK or httpx translated (``answered``: an
        answer is being read already, a stream)."""
        with _genai_http.exchange(self._name, self.max_response_bytes, answered=answered) as now:
            try:
                return await call
            except FailoverError as exc:
                mapped: FailoverError = exc
            except Exception as exc:
                translated = _genai_http.translate(self._name, exc, answered=now.answered)
                if translated is None:
                    raise
                mapped = translated
        raise _genai_http.unchained(mapped)  # outside the except: nothing chained

    def _arguments(
        self, prompt: str | Mapping[str, object], options: Mapping[str, object]
    ) -> tuple[Any, dict[str, Any]]:
        """The contents and the GenerateContentConfig (as a mapping) of a request."""
        body = wire.build_request(prompt, options)
        config: dict[str, Any] = dict(body.get("generationConfig") or {})
        config.update({key: body[key] for key in _CONFIG_KEYS if body.get(key) is not None})
        config["automaticFunctionCalling"] = {"disable": True}  # one request per call
        return body["contents"], config

    async def generate(self, prompt: str | Mapping[str, object], **options: object) -> LLMResponse:
        """One generate_content call (SDK retries off).

        Args:
            prompt: A text prompt, or a mapping of contents / systemInstruction /
                generationConfig / safetySettings / tools / toolConfig / cachedContent.
            **options: generationConfig fields (``temperature=0.2``, ``max_output_tokens=64``).

        Raises:
            ProviderError: As GeminiProvider's (see the module docstring).
        """
        contents, config = self._arguments(prompt, options)
        started = time.perf_counter()
        answer = await self._call(
            self._aio.models.generate_content(model=self.model, contents=contents, config=config)
        )
        data = await self._call(_decoded(answer), answered=True)
        response = wire.llm_response(data, self._name, self.model, time.perf_counter() - started)
        self.last_usage = response.usage
        return response

    async def stream(
        self, prompt: str | Mapping[str, object], **options: object
    ) -> AsyncIterator[str]:
        """generate_content_stream (SSE), text chunk by chunk as it arrives.

        An error before the first chunk is raised by the first ``__anext__``; a cut after it
        raises Unavailable (the coordinator's StreamInterrupted), and so does a stream that ends
        without a finish reason. ``last_usage`` holds the last chunk's totals.
        """
        contents, config = self._arguments(prompt, options)
        chunks = await self._call(
            self._aio.models.generate_content_stream(
                model=self.model, contents=contents, config=config
            )
        )
        finished = False
        try:
            while (data := await self._call(_next_wire(chunks), answered=True)) is not None:
                text = wire.response_text(data, self._name, require=False)
                self.last_usage = wire.usage_of(data, self._name) or self.last_usage
                finished = finished or wire.finish_reason(data, self._name) is not None
                if text:
                    yield text
        finally:
            await chunks.aclose()
        if not finished:
            raise Unavailable(
                "Gemini's stream (google-genai) ended without a finishReason (cut short)",
                provider=self._name,
            )

    async def count_tokens(self, prompt: str | Mapping[str, object], **options: object) -> int:
        """The prompt's contents' tokens by the model's tokenizer (count_tokens).

        Raises:
            BadRequest: The prompt holds systemInstruction, tools, toolConfig or
                cachedContent, which google-genai's Gemini API mode does not count (use
                GeminiProvider.count_tokens for them).
            ProviderError: As ``generate``; Unavailable when totalTokens is not a count.
        """
        body = wire.build_request(prompt, options)
        extra = sorted(set(body) - _COUNTED)
        if extra:
            raise BadRequest(
                f"GeminiGenAIProvider.count_tokens counts contents only; google-genai does not "
                f"count {extra!r} (use GeminiProvider.count_tokens, which does)",
                provider=self._name,
            )
        answer = await self._call(
            self._aio.models.count_tokens(model=self.model, contents=body["contents"])
        )
        return wire.token_total({"totalTokens": getattr(answer, "total_tokens", None)}, self._name)

    @staticmethod
    def estimate_tokens(text: str) -> int:
        """Tokens in ``text`` offline: about 4 characters per token, rounded up."""
        return wire.estimate_tokens(text)

    async def health_check(self) -> HealthCheckResult:
        """Get the model (models.get; no tokens spent). Never raises for a provider failure:
        the result's error names the failure (redacted: no key, whatever the server echoed)."""
        started = time.perf_counter()
        error: str | None = None
        try:
            found = await self._call(self._aio.models.get(model=self.model))
            wire.model_resource({"name": getattr(found, "name", None)}, self._name)
        except FailoverError as exc:
            error = redact(f"{type(exc).__name__}: {exc}")
        return HealthCheckResult(
            provider=self._name,
            healthy=error is None,
            latency=time.perf_counter() - started,
            checked_at=time.monotonic(),
            error=error,
        )

    async def aclose(self) -> None:
        """Close the provider's own httpx client (an injected one stays open)."""
        if self._owns_http:
            await self._http.aclose()

    def __repr__(self) -> str:
        where = "vertexai" if self.vertexai else "gemini-api"
        return f"GeminiGenAIProvider(name={self._name!r}, model={self.model!r}, api={where!r})"


async def _decoded(answer: Any) -> wire.Json:
    """The SDK's response as Gemini's JSON (inside ``_call``: a failure is a malformed answer)."""
    return _genai_http.as_wire(answer)


async def _next_wire(chunks: AsyncIterator[Any]) -> wire.Json | None:
    """The stream's next chunk as Gemini's JSON; None at its end."""
    chunk = await anext(chunks, None)
    return None if chunk is None else _genai_http.as_wire(chunk)
