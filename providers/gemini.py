"""GeminiProvider: Google's Gemini API over REST (httpx), the default way to call Gemini.

One attempt per call (retries belong to the coordinator). The key travels in the
``x-goog-api-key`` header, never in a URL, and never appears in a repr, message or log line.
Errors are mapped by ``providers/_gemini_wire.py`` (its module docstring holds the table), 200
answers decoded by ``providers/_gemini_response.py``: any answer gives a record or a library
error, never another exception.

Every answer is read through ``client.stream`` and ``providers._reading``: a body past
``max_response_bytes``, or a stream line or event past ``MAX_EVENT_BYTES`` (or
``max_response_bytes`` if smaller), is Unavailable and not read further; an error body is read
up to ``ERROR_BODY_BYTES``. Every text built from an answer or an exception (errors, health
results) goes through ``failover.secrets.redact``, and an httpx exception whose text holds a
secret is not chained.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Final

import httpx

from failover.errors import ConfigurationError, FailoverError, ProviderError, Unavailable
from failover.provider import HealthCheckResult, LLMResponse, Usage
from failover.secrets import check_secret, redact
from providers import _gemini_wire as wire
from providers._http import BaseHTTPProvider, map_httpx_errors, parse_retry_after
from providers._reading import (
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_EVENT_BYTES,
    check_max_response_bytes,
    iter_sse,
    read_body,
    read_error_body,
)

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MODEL", "DEFAULT_TIMEOUT", "GeminiProvider"]

DEFAULT_MODEL: Final = "gemini-2.5-flash"
"""The model asked when none is given: Google's current stable, fast general model."""
DEFAULT_BASE_URL: Final = "https://generativelanguage.googleapis.com"
DEFAULT_TIMEOUT: Final = 60.0
"""Seconds for each of connect, read, write and pool (a read waits for the next byte, so a
long stream is fine as long as its chunks keep coming)."""


class GeminiProvider(BaseHTTPProvider):
    """Gemini over REST: generate, stream, count tokens, health check.

    Args:
        api_key: The Gemini API key (sent in the ``x-goog-api-key`` header only).
        model: The model ("gemini-2.5-flash"; a "models/" prefix is accepted).
        name: The provider's name (breakers, events, metrics).
        base_url: The API's endpoint (a fake server's in tests).
        api_version: "v1beta" (all features) or "v1".
        client: An httpx.AsyncClient to use (not closed by ``aclose``); default: one pooled
            client of the provider's own.
        timeout: Seconds for connect, read, write and pool, or an httpx.Timeout.
        max_response_bytes: The most bytes of one answer read (1 KiB to 1 GiB; 8 MiB by
            default); a larger answer is Unavailable.

    Attributes:
        model: The configured model.
        api_version: The API version in the paths.
        max_response_bytes: The most bytes of one answer read.
        last_usage: The token counts of the most recent finished call or stream (for a stream,
            the totals of its last chunk); None before any. Shared by concurrent calls.

    Raises:
        ConfigurationError: An empty key or one holding a control or non-ASCII character (the
            message never shows it), an empty model, name or version, a bad timeout or
            max_response_bytes.
    """

    def __init__(
        self,
        api_key: str,
        model: str = DEFAULT_MODEL,
        *,
        name: str = "gemini",
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = "v1beta",
        client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError(
                "GeminiProvider needs an API key (a non-empty str); get one at "
                "https://aistudio.google.com/apikey and pass it, e.g. from GEMINI_API_KEY"
            )
        api_key = check_secret(api_key, "GeminiProvider's api_key")
        model = model.removeprefix("models/") if isinstance(model, str) else model
        for field, value in (("model", model), ("api_version", api_version)):
            if not isinstance(value, str) or not value or "/" in value or "?" in value:
                raise ConfigurationError(
                    f"GeminiProvider {field} must be a name such as {DEFAULT_MODEL!r} or "
                    f"'v1beta', got {value!r}"
                )
        super().__init__(
            name,
            base_url=base_url,
            headers={"x-goog-api-key": api_key},
            timeout=timeout,
            client=client,
        )
        self.model = model
        self.api_version = api_version
        self.max_response_bytes = check_max_response_bytes(max_response_bytes, name)
        self.last_usage: Usage | None = None

    def _path(self, method: str | None = None) -> str:
        model = f"/{self.api_version}/models/{self.model}"
        return self.url(model if method is None else f"{model}:{method}")

    @contextlib.contextmanager
    def _boundary(self) -> Iterator[None]:
        """httpx errors mapped (``map_httpx_errors``); a message holding a secret is redacted,
        and the httpx exception is then not chained (its text holds the secret too)."""
        try:
            with map_httpx_errors(self.name):
                yield
        except FailoverError as exc:
            cause = exc.__cause__
            if redact(str(exc)) == str(exc) and redact(str(cause)) == str(cause):
                raise
            raise _redacted(exc) from None

    async def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        body = await read_error_body(response)
        raise wire.error_for(
            response.status_code, body, provider=self.name, retry_after=retry_after
        )

    async def _call(self, http_method: str, path: str, body: wire.Json | None = None) -> wire.Json:
        """One request; its answer's JSON object, read up to ``max_response_bytes``."""
        with self._boundary():
            async with self.client.stream(
                http_method, path, json=body, headers=self.headers
            ) as response:
                await self._raise_for(response)
                raw = await read_body(response, self.name, self.max_response_bytes)
        return wire.parse_json(raw, self.name)

    async def _post(self, method: str, body: wire.Json) -> wire.Json:
        return await self._call("POST", self._path(method), body)

    async def generate(self, prompt: str | Mapping[str, object], **options: object) -> LLMResponse:
        """One generateContent call.

        Args:
            prompt: A text prompt, or a mapping of contents / systemInstruction /
                generationConfig / safetySettings / tools / toolConfig / cachedContent.
            **options: generationConfig fields (``temperature=0.2``, ``max_output_tokens=64``,
                snake_case or camelCase); they override the mapping's.

        Raises:
            ProviderError: A subclass per the error table (BadRequest for a malformed
                request, ContentBlocked for a blocked prompt or answer, ...).
        """
        body = wire.build_request(prompt, options)
        started = time.perf_counter()
        data = await self._post("generateContent", body)
        response = wire.llm_response(data, self.name, self.model, time.perf_counter() - started)
        self.last_usage = response.usage
        return response

    async def stream(
        self, prompt: str | Mapping[str, object], **options: object
    ) -> AsyncIterator[str]:
        """The text of streamGenerateContent (``alt=sse``), chunk by chunk as it arrives.

        An error before the first chunk is raised by the first ``__anext__`` (the coordinator
        fails over); a cut after it raises Unavailable (the coordinator turns it into
        StreamInterrupted); so does a stream that ends without a finishReason. Usage is
        cumulative: ``last_usage`` holds the last chunk's totals.

        Raises:
            ProviderError: As ``generate``.
        """
        body = wire.build_request(prompt, options)
        with self._boundary():
            async with self.client.stream(
                "POST",
                self._path("streamGenerateContent"),
                params={"alt": "sse"},
                json=body,
                headers=self.headers,
            ) as response:
                await self._check_stream(response)
                async for chunk in self._chunks(response):
                    yield chunk

    async def _check_stream(self, response: httpx.Response) -> None:
        await self._raise_for(response)
        kind = response.headers.get("content-type", "")
        if not kind.startswith("text/event-stream"):
            raw = await read_error_body(response)
            shown = redact(repr(kind[:80] or "no content-type"))
            raise Unavailable(
                f"Gemini answered a stream with {shown}, not text/event-stream: "
                f"{wire.excerpt(raw)}",
                provider=self.name,
            )

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[str]:
        finished = False
        limit = min(MAX_EVENT_BYTES, self.max_response_bytes)
        async for event in iter_sse(response, self.name, max_event_bytes=limit):
            decoded = wire.decode_event(event, self.name)
            if decoded.usage is not None:
                self.last_usage = decoded.usage
            finished = finished or decoded.finished
            if decoded.text:
                yield decoded.text
        if not finished:
            raise Unavailable(
                "Gemini's stream ended without a finishReason (cut short)", provider=self.name
            )

    async def count_tokens(self, prompt: str | Mapping[str, object], **options: object) -> int:
        """The prompt's tokens by the model's tokenizer (countTokens; spends no quota of
        generation).

        Raises:
            ProviderError: As ``generate``; Unavailable when totalTokens is not a count.
        """
        body = wire.build_request(prompt, options)
        if set(body) != {"contents"}:
            body = {"generateContentRequest": {"model": f"models/{self.model}", **body}}
        data = await self._post("countTokens", body)
        return wire.token_total(data, self.name)

    @staticmethod
    def estimate_tokens(text: str) -> int:
        """Tokens in ``text`` offline: about 4 characters per token, rounded up (Google's rule of
        thumb for English; exact counts come from ``count_tokens``)."""
        return wire.estimate_tokens(text)

    async def health_check(self) -> HealthCheckResult:
        """GET the model (models.get): spends no tokens. Healthy when the model is there.

        Never raises for a provider failure: the result says what went wrong (the error's class
        and message, secrets masked).
        """
        started = time.perf_counter()
        error: str | None = None
        try:
            wire.model_resource(await self._call("GET", self._path()), self.name)
        except FailoverError as exc:
            error = redact(f"{type(exc).__name__}: {exc}")
        return HealthCheckResult(
            provider=self.name,
            healthy=error is None,
            latency=time.perf_counter() - started,
            checked_at=time.monotonic(),
            error=error,
        )

    def __repr__(self) -> str:
        return (
            f"GeminiProvider(name={self.name!r}, model={self.model!r}, "
            f"base_url={self.base_url.split('?')[0]!r}, api_version={self.api_version!r})"
        )


def _redacted(exc: FailoverError) -> FailoverError:
    """``exc`` rebuilt with its message redacted (same class, provider, status, wait)."""
    message = redact(str(exc))
    if isinstance(exc, ProviderError):
        return type(exc)(
            message, provider=exc.provider, retry_after=exc.retry_after, status=exc.status
        )
    return ConfigurationError(message) if isinstance(exc, ConfigurationError) else exc
