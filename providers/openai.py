"""OpenAI-compatible chat: ``OpenAICompatibleProvider`` for OpenAI, Groq, Together, vLLM, Ollama.

One attempt per call: ``POST {api}/chat/completions`` (also with ``"stream": true``: Server-Sent
Events ending in ``data: [DONE]``), ``GET {api}/models`` for the health check (no tokens). The
API root ``{api}`` is the base URL when its path already ends in a version (``/v1``, as in
``https://api.groq.com/openai/v1``), else the base URL + ``/v1`` (``http://localhost:11434``
-> ``http://localhost:11434/v1``). The key goes in ``Authorization: Bearer``; no key (Ollama,
vLLM) sends no Authorization header.

Errors, by OpenAI's ``{"error": {"message", "type", "code"}}`` first, then by status:

==============================  ===============================================================
code ``insufficient_quota``     QuotaExhausted (OpenAI answers it with 429: it is not a rate)
code ``invalid_api_key``        Unauthorized (whatever the status)
other statuses                  ``providers._http.error_for_status`` (429 RateLimited with
                                Retry-After / retry-after-ms, 400/422 BadRequest, 401/403
                                Unauthorized, 404 NotFound, 408/504 ProviderTimeout, 5xx
                                Unavailable)
finish_reason content_filter    ContentBlocked
a body that is not the JSON     Unavailable naming what is wrong, with its first bytes (not
                                JSON, a field of the wrong type, a token count that is not an
                                integer from 0 to 10**18)
a body over max_response_bytes  Unavailable naming max_response_bytes (read no further)
a stream line or event > 1 MiB  Unavailable naming max_event_bytes
a stream without ``[DONE]``     Unavailable, raised by the stream's iterator
connection errors, timeouts     ``providers._http.map_httpx_errors``
==============================  ===============================================================

The ``x-ratelimit-remaining-requests`` / ``x-ratelimit-reset-requests`` headers (and their
``-tokens`` pair, when no tokens are left) of the latest answer are its ``quota_report()``.
Every wait read from a header (Retry-After, retry-after-ms, x-ratelimit-reset-*) is clamped to
[0, MAX_RETRY_AFTER], and no header value makes a parser raise. The decoders are in
``providers._openai_wire``; every text taken from an answer or an exception is passed through
``failover.secrets.redact``, and the key is checked with ``check_secret`` when given.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit

import httpx

from failover.errors import BadRequest, ConfigurationError, ProviderError, Unavailable
from failover.provider import HealthCheckResult, LLMResponse, QuotaReport
from failover.secrets import check_secret, redact
from providers._http import BaseHTTPProvider, map_httpx_errors
from providers._openai_wire import (
    decode,
    error_of,
    parse_chunk,
    parse_completion,
    parse_duration,
    quota_of,
    retry_after_of,
)
from providers._reading import (
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_EVENT_BYTES,
    check_max_response_bytes,
    iter_sse,
    read_body,
    read_error_body,
)

__all__ = ["DEFAULT_BASE_URL", "OpenAICompatibleProvider", "api_root", "parse_duration"]

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
"""OpenAI's API root."""

_VERSIONED = re.compile(r"/v\d+(beta\d*|alpha\d*)?$")

# The header parsers under their former names (tests/providers/test_retry_after_parsers.py).
_retry_after = retry_after_of
_quota = quota_of


def api_root(base_url: str) -> str:
    """The API root for ``base_url``: as is when its path ends in a version (``/v1``), else
    with ``/v1`` appended; no trailing slash.

    Raises:
        ConfigurationError: Not an http:// or https:// URL.
    """
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"base_url must be an http:// or https:// URL such as {DEFAULT_BASE_URL!r}, "
            f"got {redact(repr(base_url))}"
        )
    root = base_url.rstrip("/")
    return root if _VERSIONED.search(parts.path.rstrip("/")) else root + "/v1"


class OpenAICompatibleProvider(BaseHTTPProvider):
    """An LLMProvider for any OpenAI-compatible chat completions API.

    Args:
        base_url: The server ("https://api.openai.com/v1", "http://localhost:11434", ...):
            see ``api_root``.
        api_key: The bearer token; None (or "") for servers that need none. Surrounding
            whitespace is stripped (a key read from a file ends with a newline).
        model: The model asked when a request does not name one.
        name: The provider's name.
        client: An httpx.AsyncClient to use (not closed by ``aclose``).
        timeout: Seconds for connect, read, write and pool (or an httpx.Timeout), when the
            provider builds its own client.
        max_response_bytes: The most bytes of one answer read (1 KiB to 1 GiB); a larger
            answer is Unavailable. A stream's events are bounded by the smaller of this and
            1 MiB each.

    Raises:
        ConfigurationError: A bad base URL, key, model, name, timeout or max_response_bytes
            (a bad key's message never shows it).
    """

    base_url: str
    model: str

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        name: str = "openai",
        client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = 30.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(f"model must be a non-empty string, got {model!r}")
        headers = {"accept": "application/json"}
        if api_key is not None and api_key != "":
            key = check_secret(api_key, f"OpenAICompatibleProvider {name!r}'s api_key")
            headers["authorization"] = f"Bearer {key}"
        super().__init__(
            name, base_url=api_root(base_url), headers=headers, timeout=timeout, client=client
        )
        self.model = model
        self.max_response_bytes = check_max_response_bytes(max_response_bytes, name)
        self._quota: QuotaReport | None = None

    # --- the port -------------------------------------------------------------------------------

    async def generate(self, prompt: str | Mapping[str, object], **options: object) -> LLMResponse:
        """One chat completion.

        Args:
            prompt: The user's message, or a request body with ``messages`` (and any other
                field of the API; ``model`` defaults to the provider's).
            **options: More body fields (temperature, max_tokens, ...), over the prompt's.

        Raises:
            ProviderError: See the module docstring.
        """
        body = self._body(prompt, options, stream=False)
        started = time.perf_counter()
        content = await self._send("POST", "/chat/completions", body)
        latency = time.perf_counter() - started
        return parse_completion(content, self.name, self.model, latency)

    async def stream(
        self, prompt: str | Mapping[str, object], **options: object
    ) -> AsyncIterator[str]:
        """The completion's text as it arrives (``"stream": true``).

        Raises:
            ProviderError: See the module docstring; Unavailable when the stream ends without
                ``[DONE]``.
        """
        body = self._body(prompt, options, stream=True)
        limit = min(MAX_EVENT_BYTES, self.max_response_bytes)
        with map_httpx_errors(self.name):
            async with self.client.stream(
                "POST", self.url("/chat/completions"), json=body, headers=self.headers
            ) as response:
                self._learn_quota(response.headers)
                if response.status_code >= 400:
                    await self._raise_for(response)
                async for data in iter_sse(response, self.name, max_event_bytes=limit):
                    if data.strip() == "[DONE]":
                        return
                    text = parse_chunk(data, self.name)
                    if text:
                        yield text
        raise Unavailable(
            f"provider {self.name!r}: the stream ended without [DONE] (cut short)",
            provider=self.name,
        )

    async def health_check(self) -> HealthCheckResult:
        """GET the model list (spends no tokens): healthy on a 200 with JSON."""
        started = time.perf_counter()
        error: str | None = None
        try:
            decode(await self._send("GET", "/models"), self.name)
        except ProviderError as exc:
            error = redact(f"{type(exc).__name__}: {exc}")
        latency = time.perf_counter() - started
        return HealthCheckResult(self.name, error is None, latency, time.monotonic(), error)

    def quota_report(self) -> QuotaReport | None:
        """The request quota the latest answer reported (x-ratelimit-* headers), if any."""
        return self._quota

    def __repr__(self) -> str:
        base = super().__repr__()[:-1]
        return f"{base}, model={self.model!r})"

    # --- requests -------------------------------------------------------------------------------

    def _body(
        self, prompt: str | Mapping[str, object], options: Mapping[str, object], *, stream: bool
    ) -> dict[str, Any]:
        if isinstance(prompt, str):
            body: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}]}
        elif isinstance(prompt, Mapping) and isinstance(prompt.get("messages"), list):
            body = dict(prompt)
        else:
            raise BadRequest(
                f"provider {self.name!r}: the prompt must be a string or a mapping with a "
                f"'messages' list, got a {type(prompt).__name__}",
                provider=self.name,
            )
        body.update(options)
        body.setdefault("model", self.model)
        body["stream"] = stream
        return body

    async def _send(self, method: str, path: str, body: object = None) -> bytes:
        """The body of a successful answer, read up to max_response_bytes; the answer's quota
        is learnt once its body is read.

        Raises:
            ProviderError: An error status (its body read up to ERROR_BODY_BYTES), a body too
                large, or a failure of the connection.
        """
        with map_httpx_errors(self.name):
            async with self.client.stream(
                method, self.url(path), json=body, headers=self.headers
            ) as response:
                if response.status_code >= 400:
                    await self._raise_for(response)
                content = await read_body(response, self.name, self.max_response_bytes)
                self._learn_quota(response.headers)
                return content

    async def _raise_for(self, response: httpx.Response) -> NoReturn:
        """Raise the error of an answer with a status >= 400 (reading at most
        ERROR_BODY_BYTES of its body)."""
        content = await read_error_body(response)
        self._learn_quota(response.headers)
        raise error_of(self.name, response.status_code, response.headers, content)

    def _learn_quota(self, headers: httpx.Headers) -> None:
        report = quota_of(headers)
        if report is not None:
            self._quota = report
