"""GeminiSDKProvider: Gemini through Google's ``google-generativeai`` SDK (extra ``gemini-sdk``).

Deprecated: google-generativeai reached its end of support in 2025, and constructing a
GeminiSDKProvider warns DeprecationWarning. Its successor ``google-genai`` has
``GeminiGenAIProvider`` (kind "gemini-genai", extra ``genai``; see
docs/how-to/providers/gemini-genai.md); ``GeminiProvider`` (REST over httpx) is the default.
This adapter stays for code that already holds a ``google.generativeai.GenerativeModel``.
``google.generativeai`` is imported only when a GeminiSDKProvider is built, so
``import providers`` works without it.

- The SDK's own retry (503s retried for up to 600 s) is turned off on every call with
  ``request_options={"retry": None, "timeout": ...}``: the coordinator's retry is the only one.
  The provider's own REST clients also stop google-auth from sending a request again after a
  401 (it would "refresh" the credentials, which an API key does not need).
- The SDK's calls are synchronous (its async client does not work over REST): each runs in a
  worker thread (``asyncio.to_thread``); a stream takes one thread hop per chunk.
- The key (``api_key``, or ``client_options["api_key"]``) goes through
  ``failover.secrets.check_secret``: surrounding whitespace stripped, a control or non-ASCII
  character refused without showing it. Every message built from an answer or an exception is
  redacted, and a mapped error is raised without the SDK's exception chained to it.
- Errors: an HTTP error answer is mapped from its JSON body exactly as GeminiProvider maps it
  (``_gemini_wire.error_for``); otherwise by class (TooManyRequests / ResourceExhausted ->
  RateLimited, BadRequest -> BadRequest, Unauthorized / Forbidden -> Unauthorized, NotFound ->
  NotFound, ServiceUnavailable / InternalServerError -> Unavailable, GatewayTimeout /
  DeadlineExceeded -> ProviderTimeout); BlockedPromptException and StopCandidateException ->
  ContentBlocked; a connection failure -> Unavailable; a timeout (no answer, or a stream that
  stops sending, for ``timeout`` seconds) -> ProviderTimeout. Once an answer has arrived, any
  exception raised while reading it (a body that is not JSON or not UTF-8, a stream array never
  closed, a field out of its range, the SDK's own "BadRequest" for an unreadable stream) is a
  malformed answer: Unavailable. A stream that ends without a finish reason is Unavailable (cut
  short), as GeminiProvider's. Any other exception, raised before an answer, is raised
  unchanged.

Bounded reads (REST transport; ``providers/_gemini_sdk_http.py``): a response hook on the
session of each client the provider uses (its own, or the SDK's global ones) reads a whole
answer as it arrives and refuses it (Unavailable) past ``max_response_bytes``; a streamed
answer is refused once it has sent more than ``max_response_bytes`` in all (the SDK's stream
reader holds at most that); an error answer is read up to 64 KiB. Not bounded: the gRPC
transport (``transport="grpc"``: no session to hook; its messages are limited by gRPC's own
4 MiB default), and the SDK's calls made outside the provider (the hook acts only within the
provider's own calls).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar

from failover.errors import BadRequest, ConfigurationError, FailoverError, Unavailable
from failover.provider import HealthCheckResult, LLMResponse, Usage
from failover.secrets import check_secret, redact
from providers import _gemini_sdk_http as _sdk_http
from providers import _gemini_wire as wire
from providers._gemini_sdk_errors import translate_sdk_error, unchained
from providers._reading import DEFAULT_MAX_RESPONSE_BYTES, check_max_response_bytes
from providers.gemini import DEFAULT_MODEL, DEFAULT_TIMEOUT

__all__ = ["DEPRECATION", "GeminiSDKProvider", "translate_sdk_error"]

DEPRECATION = (
    "GeminiSDKProvider (kind 'gemini-sdk') is deprecated: google-generativeai reached its end of "
    "support in 2025; use GeminiGenAIProvider (kind 'gemini-genai', pip install "
    "'failover[genai]') on its successor google-genai, or GeminiProvider (REST)"
)
"""The DeprecationWarning's message constructing a GeminiSDKProvider gives."""

T = TypeVar("T")
_DONE = object()
_PER_CALL = {"contents", "generationConfig", "safetySettings"}


def _sdk() -> Any:
    try:
        return importlib.import_module("google.generativeai")
    except ImportError as exc:
        raise ConfigurationError(
            "GeminiSDKProvider needs the google-generativeai SDK: pip install "
            "'failover[gemini-sdk]' (or use GeminiProvider, the REST provider, which needs nothing "
            "more)"
        ) from exc


class GeminiSDKProvider:
    """Gemini through a ``google.generativeai.GenerativeModel`` (deprecated: constructing one
    warns DeprecationWarning; use GeminiGenAIProvider).

    Args:
        model: A GenerativeModel (its system instruction, tools and defaults are kept), or a
            model name to build one from.
        api_key: When given (or ``base_url`` or ``client_options``), the provider builds its
            own clients with this key instead of using the SDK's global ``genai.configure()``.
            Surrounding whitespace is stripped; a control or non-ASCII character is refused.
        name: The provider's name.
        base_url: The API's endpoint for the provider's own clients (shorthand for
            ``client_options={"api_endpoint": base_url}``; an http:// URL works with REST).
        transport: The SDK transport of the provider's own clients: "rest" (default) or "grpc".
        client_options: Extra client options of the provider's own clients, e.g.
            ``{"api_endpoint": "http://127.0.0.1:8080"}`` (an http:// endpoint works with REST).
        timeout: Seconds per call, passed to the SDK (for a stream: the longest wait for its
            next bytes).
        max_response_bytes: The most bytes of one answer read, a whole one or a stream in all
            (REST transport only; see the module docstring).

    Attributes:
        model: The GenerativeModel.
        max_response_bytes: As given.
        last_usage: Token counts of the most recent finished call or stream; None before any.

    Raises:
        ConfigurationError: A bad model, name, timeout, key or max_response_bytes.
    """

    def __init__(
        self,
        model: Any = DEFAULT_MODEL,
        *,
        api_key: str | None = None,
        name: str = "gemini-sdk",
        base_url: str | None = None,
        transport: str = "rest",
        client_options: Mapping[str, object] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        warnings.warn(DEPRECATION, DeprecationWarning, stacklevel=2)
        genai = _sdk()
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a provider name must be a non-empty string, got {name!r}")
        if not (isinstance(timeout, int | float) and 0 < timeout < math.inf):
            raise ConfigurationError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        self.max_response_bytes = check_max_response_bytes(max_response_bytes, name)
        if isinstance(model, str):
            model = genai.GenerativeModel(model)
        if not isinstance(model, genai.GenerativeModel):
            raise ConfigurationError(
                f"model must be a google.generativeai.GenerativeModel or a model name, got "
                f"{type(model).__name__}"
            )
        self._name = name
        self.model = model
        self.timeout = float(timeout)
        self.last_usage: Usage | None = None
        self._model_client: Any = None
        options = dict(client_options or {})
        if base_url is not None:
            options["api_endpoint"] = base_url
        if api_key is not None or options:
            self._own_clients(api_key, transport, options)

    def _own_clients(self, api_key: str | None, transport: str, options: dict[str, object]) -> None:
        if api_key is not None:
            options["api_key"] = api_key
        if "api_key" in options:
            options["api_key"] = check_secret(options["api_key"], "GeminiSDKProvider's api_key")
        glm = importlib.import_module("google.ai.generativelanguage")
        # The SDK keeps its client in GenerativeModel._client (built lazily from the global
        # configuration when None); setting it gives this provider clients of its own.
        self.model._client = glm.GenerativeServiceClient(
            transport=transport, client_options=options
        )
        self._model_client = glm.ModelServiceClient(transport=transport, client_options=options)
        for client in (self.model._client, self._model_client):
            _no_resend_on_401(client)
            _sdk_http.install(client)

    def _clients(self) -> tuple[Any, Any]:
        """The generative and model clients, the SDK's global ones when the provider has none
        of its own (built as the SDK builds them), each with the response hook."""
        if self.model._client is None:
            self.model._client = _sdk_client().get_default_generative_client()
        models = self._model_client or _sdk_client().get_default_model_client()
        for client in (self.model._client, models):
            _sdk_http.install(client)
        return self.model._client, models

    @property
    def name(self) -> str:
        """The provider's name."""
        return self._name

    @property
    def model_name(self) -> str:
        """The model's name without its "models/" prefix."""
        return str(self.model.model_name).removeprefix("models/")

    def _options(self) -> dict[str, object]:
        return {"retry": None, "timeout": self.timeout}  # no SDK retry: the coordinator's only

    def _arguments(self, prompt: str | Mapping[str, object], options: Mapping[str, object]) -> Any:
        body = wire.build_request(prompt, options)
        extra = sorted(set(body) - _PER_CALL)
        if extra:
            raise BadRequest(
                f"GeminiSDKProvider takes {extra!r} from its GenerativeModel, not per call: build "
                "the model with system_instruction=, tools=, tool_config= (or use GeminiProvider)",
                provider=self._name,
            )
        config = {wire.snake(k): v for k, v in (body.get("generationConfig") or {}).items()}
        contents = prompt if isinstance(prompt, str) else body["contents"]
        return contents, config or None, body.get("safetySettings")

    async def _call(
        self, fn: Callable[..., T], *args: Any, answered: bool = False, **kwargs: Any
    ) -> T:
        """``fn(*args, **kwargs)`` in a worker thread, every exception of the SDK or the
        transport translated (``answered``: an answer is being read already, a stream)."""
        with _sdk_http.exchange(self._name, self.max_response_bytes, answered=answered) as now:
            try:
                return await asyncio.to_thread(_no_stop_iteration, fn, *args, **kwargs)
            except FailoverError as exc:
                mapped: FailoverError = exc
            except Exception as exc:
                translated = translate_sdk_error(self._name, exc, answered=now.answered)
                if translated is None:
                    raise
                mapped = translated
        raise unchained(mapped)  # outside the except: no chained SDK exception, nor its texts

    async def generate(self, prompt: str | Mapping[str, object], **options: object) -> LLMResponse:
        """One generate_content call (SDK retry off), in a worker thread.

        Args:
            prompt: A text prompt, or a mapping of contents / generationConfig / safetySettings.
            **options: generationConfig fields (``temperature=0.2``, ``max_output_tokens=64``).

        Raises:
            ProviderError: As GeminiProvider's (see the module docstring).
        """
        request = self._arguments(prompt, options)
        started = time.perf_counter()
        data = await self._call(self._generate_sync, *request)
        latency = time.perf_counter() - started
        response = wire.llm_response(data, self._name, self.model_name, latency)
        self.last_usage = response.usage
        return response

    def _generate_sync(self, contents: Any, config: Any, safety: Any) -> wire.Json:
        self._clients()
        response = self.model.generate_content(
            contents,
            generation_config=config,
            safety_settings=safety,
            request_options=self._options(),
        )
        return _as_wire(response)

    async def stream(
        self, prompt: str | Mapping[str, object], **options: object
    ) -> AsyncIterator[str]:
        """generate_content(stream=True), chunk by chunk, one worker-thread hop per chunk.

        An error before the first chunk is raised by the first ``__anext__``; a cut after it
        raises Unavailable (the coordinator's StreamInterrupted), and so does a stream that ends
        without a finish reason; a stream that stops sending for ``timeout`` seconds raises
        ProviderTimeout.
        """
        request = self._arguments(prompt, options)
        chunks = await self._call(self._stream_sync, *request)
        finished = False
        while (data := await self._call(_next_wire, chunks, answered=True)) is not None:
            text = wire.response_text(data, self._name, require=False)
            self.last_usage = wire.usage_of(data, self._name) or self.last_usage
            finished = finished or wire.finish_reason(data, self._name) is not None
            if text:
                yield text
        if not finished:
            raise Unavailable(
                "Gemini's stream (SDK) ended without a finishReason (cut short)",
                provider=self._name,
            )

    def _stream_sync(self, contents: Any, config: Any, safety: Any) -> Iterator[Any]:
        self._clients()
        response = self.model.generate_content(
            contents,
            generation_config=config,
            safety_settings=safety,
            request_options=self._options(),
            stream=True,
        )
        return iter(response)

    async def count_tokens(self, prompt: str | Mapping[str, object], **options: object) -> int:
        """The prompt's tokens by the model's tokenizer (count_tokens)."""
        contents, _, _ = self._arguments(prompt, options)
        return await self._call(self._count_sync, contents)

    def _count_sync(self, contents: Any) -> int:
        self._clients()
        answer = self.model.count_tokens(contents, request_options=self._options())
        return int(answer.total_tokens)

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
            await self._call(self._get_model_sync)
        except FailoverError as exc:
            error = redact(f"{type(exc).__name__}: {exc}")
        return HealthCheckResult(
            provider=self._name,
            healthy=error is None,
            latency=time.perf_counter() - started,
            checked_at=time.monotonic(),
            error=error,
        )

    def _get_model_sync(self) -> None:
        _, models = self._clients()
        _sdk().get_model(self.model.model_name, client=models, request_options=self._options())

    async def aclose(self) -> None:
        """Close the transports of the provider's own clients (the SDK's global ones stay)."""
        own = [self._model_client, self.model._client if self._model_client else None]
        for client in own:
            if client is not None:
                await asyncio.to_thread(client.transport.close)

    def __repr__(self) -> str:
        return f"GeminiSDKProvider(name={self._name!r}, model={self.model_name!r})"


def _no_resend_on_401(client: Any) -> None:
    """Stop google-auth's AuthorizedSession (the REST transport's) from sending a request again
    after a 401 to "refresh" the credentials: an API key has nothing to refresh, and that resend
    would be a retry the coordinator does not see."""
    session = getattr(getattr(client, "_transport", None), "_session", None)
    if session is not None and hasattr(session, "_refresh_status_codes"):
        session._refresh_status_codes = ()


def _sdk_client() -> Any:
    return importlib.import_module("google.generativeai.client")


def _as_wire(response: Any) -> wire.Json:
    """An SDK response (or stream chunk) as Gemini's JSON, read by the same functions as REST."""
    protos = importlib.import_module("google.generativeai.protos")
    result = protos.GenerateContentResponse(
        candidates=response.candidates,
        prompt_feedback=response.prompt_feedback,
        usage_metadata=response.usage_metadata,
    )
    text = protos.GenerateContentResponse.to_json(result, use_integers_for_enums=False, indent=None)
    data: wire.Json = json.loads(text)
    return data


def _no_stop_iteration(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, a StopIteration it lets out (the SDK's, for a stream without a
    first chunk) raised as RuntimeError: a StopIteration cannot be set on an asyncio future,
    and the await would never end."""
    try:
        return fn(*args, **kwargs)
    except StopIteration:
        raise RuntimeError("the answer ended before its first chunk") from None


def _next_wire(chunks: Iterator[Any]) -> wire.Json | None:
    """The stream's next chunk as Gemini's JSON; None at its end."""
    chunk = next(chunks, _DONE)
    return None if chunk is _DONE else _as_wire(chunk)
