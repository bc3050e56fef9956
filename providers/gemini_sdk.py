"""GeminiSDKProvider: Gemini through Google's ``google-generativeai`` SDK (extra ``gemini-sdk``).

The SDK is deprecated upstream (Google's new SDK is ``google-genai``); ``GeminiProvider`` (REST
over httpx) is the default and this adapter serves code that already holds a
``google.generativeai.GenerativeModel``. ``google.generativeai`` is imported only when a
GeminiSDKProvider is built, so ``import providers`` works without it.

- The SDK's own retry (503s retried for up to 600 s) is turned off on every call with
  ``request_options={"retry": None, "timeout": ...}``: the coordinator's retry is the only one.
  The provider's own REST clients also stop google-auth from sending a request again after a
  401 (it would "refresh" the credentials, which an API key does not need).
- The SDK's calls are synchronous (its async client does not work over REST): each runs in a
  worker thread (``asyncio.to_thread``); a stream takes one thread hop per chunk.
- Errors: a google.api_core error that carries the HTTP answer (the REST transport) is mapped
  from its JSON body exactly as GeminiProvider maps it; otherwise by class (TooManyRequests /
  ResourceExhausted -> RateLimited, BadRequest -> BadRequest, Unauthorized / Forbidden ->
  Unauthorized, NotFound -> NotFound, ServiceUnavailable / InternalServerError -> Unavailable,
  GatewayTimeout / DeadlineExceeded -> ProviderTimeout); BlockedPromptException and
  StopCandidateException -> ContentBlocked; a connection failure or a body that is not JSON
  -> Unavailable. Anything else is raised unchanged.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar

from failover.errors import (
    BadRequest,
    ConfigurationError,
    ContentBlocked,
    FailoverError,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.provider import HealthCheckResult, LLMResponse, Usage
from providers import _gemini_wire as wire
from providers._http import parse_retry_after
from providers.gemini import DEFAULT_MODEL, DEFAULT_TIMEOUT

__all__ = ["GeminiSDKProvider"]

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
    """Gemini through a ``google.generativeai.GenerativeModel``.

    Args:
        model: A GenerativeModel (its system instruction, tools and defaults are kept), or a
            model name to build one from.
        api_key: When given (or ``base_url`` or ``client_options``), the provider builds its
            own clients with this key instead of using the SDK's global ``genai.configure()``.
        name: The provider's name.
        base_url: The API's endpoint for the provider's own clients (shorthand for
            ``client_options={"api_endpoint": base_url}``; an http:// URL works with REST).
        transport: The SDK transport of the provider's own clients: "rest" (default) or "grpc".
        client_options: Extra client options of the provider's own clients, e.g.
            ``{"api_endpoint": "http://127.0.0.1:8080"}`` (an http:// endpoint works with REST).
        timeout: Seconds per call, passed to the SDK.

    Attributes:
        model: The GenerativeModel.
        last_usage: Token counts of the most recent finished call or stream; None before any.
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
    ) -> None:
        genai = _sdk()
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a provider name must be a non-empty string, got {name!r}")
        if not (isinstance(timeout, int | float) and timeout > 0):
            raise ConfigurationError(f"timeout must be a number of seconds > 0, got {timeout!r}")
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
            if not isinstance(api_key, str) or not api_key.strip():
                raise ConfigurationError("api_key must be a non-empty str (or None)")
            options["api_key"] = api_key
        glm = importlib.import_module("google.ai.generativelanguage")
        # The SDK keeps its client in GenerativeModel._client (built lazily from the global
        # configuration when None); setting it gives this provider clients of its own.
        self.model._client = glm.GenerativeServiceClient(
            transport=transport, client_options=options
        )
        self._model_client = glm.ModelServiceClient(transport=transport, client_options=options)
        for client in (self.model._client, self._model_client):
            _no_resend_on_401(client)

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

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except FailoverError:
            raise
        except Exception as exc:
            mapped = self._translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _translate(self, exc: Exception) -> ProviderError | None:
        return translate_sdk_error(self._name, exc)

    async def generate(self, prompt: str | Mapping[str, object], **options: object) -> LLMResponse:
        """One generate_content call (SDK retry off), in a worker thread.

        Args:
            prompt: A text prompt, or a mapping of contents / generationConfig / safetySettings.
            **options: generationConfig fields (``temperature=0.2``, ``max_output_tokens=64``).
        """
        contents, config, safety = self._arguments(prompt, options)
        started = time.perf_counter()
        response = await self._call(
            self.model.generate_content,
            contents,
            generation_config=config,
            safety_settings=safety,
            request_options=self._options(),
        )
        data = _as_wire(response)
        latency = time.perf_counter() - started
        response = wire.llm_response(data, self._name, self.model_name, latency)
        self.last_usage = response.usage
        return response

    async def stream(
        self, prompt: str | Mapping[str, object], **options: object
    ) -> AsyncIterator[str]:
        """generate_content(stream=True), chunk by chunk, one worker-thread hop per chunk.

        An error before the first chunk is raised by the first ``__anext__``; a cut after it
        raises Unavailable (the coordinator's StreamInterrupted).
        """
        contents, config, safety = self._arguments(prompt, options)
        response = await self._call(
            self.model.generate_content,
            contents,
            generation_config=config,
            safety_settings=safety,
            request_options=self._options(),
            stream=True,
        )
        chunks: Iterator[Any] = iter(response)
        while (chunk := await self._call(next, chunks, _DONE)) is not _DONE:
            data = _as_wire(chunk)
            text = wire.response_text(data, self._name, require=False)
            self.last_usage = wire.usage_of(data) or self.last_usage
            if text:
                yield text

    async def count_tokens(self, prompt: str | Mapping[str, object], **options: object) -> int:
        """The prompt's tokens by the model's tokenizer (count_tokens)."""
        contents, _, _ = self._arguments(prompt, options)
        answer = await self._call(
            self.model.count_tokens, contents, request_options=self._options()
        )
        return int(answer.total_tokens)

    @staticmethod
    def estimate_tokens(text: str) -> int:
        """Tokens in ``text`` offline: about 4 characters per token, rounded up."""
        return wire.estimate_tokens(text)

    async def health_check(self) -> HealthCheckResult:
        """Get the model (models.get; no tokens spent). Never raises for a provider failure."""
        genai = _sdk()
        started = time.perf_counter()
        error: str | None = None
        try:
            await self._call(
                genai.get_model,
                self.model.model_name,
                client=self._model_client,
                request_options=self._options(),
            )
        except FailoverError as exc:
            error = f"{type(exc).__name__}: {exc}"
        return HealthCheckResult(
            provider=self._name,
            healthy=error is None,
            latency=time.perf_counter() - started,
            checked_at=time.monotonic(),
            error=error,
        )

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


_BY_NAME: dict[str, type[ProviderError]] = {
    "TooManyRequests": RateLimited,
    "ResourceExhausted": RateLimited,
    "BadRequest": BadRequest,
    "InvalidArgument": BadRequest,
    "FailedPrecondition": Unauthorized,
    "Unauthorized": Unauthorized,
    "Unauthenticated": Unauthorized,
    "Forbidden": Unauthorized,
    "PermissionDenied": Unauthorized,
    "NotFound": NotFound,
    "ServiceUnavailable": Unavailable,
    "InternalServerError": Unavailable,
    "GatewayTimeout": ProviderTimeout,
    "DeadlineExceeded": ProviderTimeout,
    "BlockedPromptException": ContentBlocked,
    "StopCandidateException": ContentBlocked,
    "Timeout": ProviderTimeout,  # requests.exceptions.Timeout
    "ConnectionError": Unavailable,  # requests.exceptions.ConnectionError
    "ChunkedEncodingError": Unavailable,
    "RetryError": Unavailable,
    "ParseError": Unavailable,  # google.protobuf.json_format: the body is not the expected JSON
    "JSONDecodeError": Unavailable,
}


def translate_sdk_error(provider: str, exc: BaseException) -> ProviderError | None:
    """The library's error for an exception of the SDK, google.api_core or requests; None for
    anything else (raised unchanged)."""
    response = getattr(exc, "response", None)
    status = getattr(exc, "code", None)
    content = getattr(response, "content", None)
    if isinstance(status, int) and isinstance(content, bytes) and status >= 400:
        headers = getattr(response, "headers", None) or {}
        retry_after = parse_retry_after(headers.get("retry-after"))
        return wire.error_for(status, content, provider=provider, retry_after=retry_after)
    for cls in type(exc).__mro__:
        mapped = _BY_NAME.get(cls.__name__)
        if mapped is not None:
            code = status if isinstance(status, int) else None
            message = f"Gemini SDK raised {type(exc).__name__}: {exc}"
            return mapped(message, provider=provider, status=code)
    return None
