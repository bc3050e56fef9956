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
a body that is not the JSON     Unavailable with its first bytes
a stream without ``[DONE]``     Unavailable, raised by the stream's iterator
connection errors, timeouts     ``providers._http.map_httpx_errors``
==============================  ===============================================================

The ``x-ratelimit-remaining-requests`` / ``x-ratelimit-reset-requests`` headers (and their
``-tokens`` pair, when no tokens are left) of the latest answer are its ``quota_report()``.
Every wait read from a header (Retry-After, retry-after-ms, x-ratelimit-reset-*) is clamped to
[0, MAX_RETRY_AFTER], and no header value makes a parser raise.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from failover.errors import (
    BadRequest,
    ConfigurationError,
    ContentBlocked,
    ProviderError,
    QuotaExhausted,
    Unauthorized,
    Unavailable,
    clamp_retry_after,
    parse_seconds,
)
from failover.provider import HealthCheckResult, LLMResponse, QuotaReport, Usage
from providers._http import (
    STATUS_EXCERPT,
    BaseHTTPProvider,
    body_excerpt,
    error_for_status,
    map_httpx_errors,
    parse_count,
    parse_retry_after,
)
from providers._reading import iter_sse

__all__ = ["DEFAULT_BASE_URL", "OpenAICompatibleProvider", "api_root", "parse_duration"]

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
"""OpenAI's API root."""

_VERSIONED = re.compile(r"/v\d+(beta\d*|alpha\d*)?$")
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)")
_UNITS: Final = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_CODES: Final[Mapping[str, type[ProviderError]]] = {
    "insufficient_quota": QuotaExhausted,
    "invalid_api_key": Unauthorized,
}


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
            f"got {base_url!r}"
        )
    root = base_url.rstrip("/")
    return root if _VERSIONED.search(parts.path.rstrip("/")) else root + "/v1"


def parse_duration(value: str | None) -> float | None:
    """Seconds in an OpenAI reset duration ("1s", "6m0s", "20ms", "1h2m3.5s", or a bare
    number of seconds), clamped to [0, MAX_RETRY_AFTER]; None if unreadable. Never raises."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    if _DURATION.sub("", text):
        return parse_seconds(text)  # a bare number of seconds, or not a duration at all
    parts = (parse_seconds(n, _UNITS[unit]) or 0.0 for n, unit in _DURATION.findall(text))
    return clamp_retry_after(sum(parts))


class OpenAICompatibleProvider(BaseHTTPProvider):
    """An LLMProvider for any OpenAI-compatible chat completions API.

    Args:
        base_url: The server ("https://api.openai.com/v1", "http://localhost:11434", ...):
            see ``api_root``.
        api_key: The bearer token; None for servers that need none.
        model: The model asked when a request does not name one.
        name: The provider's name.
        client: An httpx.AsyncClient to use (not closed by ``aclose``).
        timeout: Seconds for connect, read, write and pool (or an httpx.Timeout), when the
            provider builds its own client.

    Raises:
        ConfigurationError: A bad base URL, model, name or timeout.
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
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(f"model must be a non-empty string, got {model!r}")
        headers = {"accept": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        super().__init__(
            name, base_url=api_root(base_url), headers=headers, timeout=timeout, client=client
        )
        self.model = model
        self._secret = api_key or None
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
        with map_httpx_errors(self.name):
            response = await self.client.post(
                self.url("/chat/completions"), json=body, headers=self.headers
            )
        latency = time.perf_counter() - started
        self._learn_quota(response.headers)
        if response.status_code >= 400:
            raise self._error(response.status_code, response.headers, response.content)
        return self._response(response.content, latency)

    async def stream(
        self, prompt: str | Mapping[str, object], **options: object
    ) -> AsyncIterator[str]:
        """The completion's text as it arrives (``"stream": true``).

        Raises:
            ProviderError: See the module docstring; Unavailable when the stream ends without
                ``[DONE]``.
        """
        body = self._body(prompt, options, stream=True)
        with map_httpx_errors(self.name):
            async with self.client.stream(
                "POST", self.url("/chat/completions"), json=body, headers=self.headers
            ) as response:
                self._learn_quota(response.headers)
                if response.status_code >= 400:
                    content = await response.aread()
                    raise self._error(response.status_code, response.headers, content)
                async for data in iter_sse(response, self.name):
                    if data.strip() == "[DONE]":
                        return
                    text = self._delta(data)
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
            with map_httpx_errors(self.name):
                response = await self.client.get(self.url("/models"), headers=self.headers)
            if response.status_code >= 400:
                raise self._error(response.status_code, response.headers, response.content)
            self._json(response.content)
        except ProviderError as exc:
            error = f"{type(exc).__name__}: {exc}"
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

    # --- answers --------------------------------------------------------------------------------

    def _json(self, content: bytes) -> Any:
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError):
            raise self._garbage(content) from None

    def _garbage(self, content: bytes) -> Unavailable:
        return Unavailable(
            f"provider {self.name!r} answered a body that is not the expected JSON: "
            f"{self._redact(body_excerpt(content))}",
            provider=self.name,
        )

    def _response(self, content: bytes, latency: float) -> LLMResponse:
        data = self._json(content)
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            finish = choice.get("finish_reason")
            usage = data.get("usage") or {}
            counts = Usage(
                int(usage.get("prompt_tokens") or 0),
                int(usage.get("completion_tokens") or 0),
                int(usage.get("total_tokens") or 0),
            )
            model = str(data.get("model") or self.model)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError):
            raise self._garbage(content) from None
        if not isinstance(text, str):
            raise self._garbage(content)
        self._check_finish(finish)
        return LLMResponse(text, self.name, model, counts, finish, latency)

    def _delta(self, data: str) -> str:
        chunk = self._json(data.encode())
        if isinstance(chunk, dict) and isinstance(chunk.get("error"), dict):
            raise self._coded(chunk["error"], None, 200) or Unavailable(
                f"provider {self.name!r} sent an error in the stream: {self._message(chunk)}",
                provider=self.name,
            )
        try:
            choices = chunk["choices"]
            if not choices:
                return ""  # a usage-only chunk
            self._check_finish(choices[0].get("finish_reason"))
            text = (choices[0].get("delta") or {}).get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self._garbage(data.encode()) from None
        return text if isinstance(text, str) else ""

    def _check_finish(self, finish: object) -> None:
        if finish == "content_filter":
            raise ContentBlocked(
                f"provider {self.name!r} stopped: finish_reason 'content_filter'",
                provider=self.name,
            )

    # --- errors ---------------------------------------------------------------------------------

    def _error(self, status: int, headers: httpx.Headers, content: bytes) -> ProviderError:
        retry_after = _retry_after(headers)
        try:
            data = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            coded = self._coded(error, retry_after, status)
            if coded is not None:
                return coded
            return error_for_status(self.name, status, self._message(data), retry_after)
        text = content.decode("utf-8", errors="replace")
        return error_for_status(self.name, status, self._redact(text), retry_after)

    def _coded(
        self, error: Mapping[str, Any], retry_after: float | None, status: int
    ) -> ProviderError | None:
        cls = _CODES.get(str(error.get("code")))
        if cls is None:
            return None
        message = (
            f"provider {self.name!r} answered HTTP {status} {error.get('code')}: "
            f"{self._message({'error': error})}"
        )
        return cls(message, provider=self.name, retry_after=retry_after, status=status)

    def _message(self, data: Mapping[str, Any]) -> str:
        error = data.get("error")
        message = error.get("message") if isinstance(error, Mapping) else None
        text = " ".join(str(message if message is not None else data).split())
        text = self._redact(text)
        return text if len(text) <= STATUS_EXCERPT else text[:STATUS_EXCERPT] + "..."

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _learn_quota(self, headers: httpx.Headers) -> None:
        report = _quota(headers)
        if report is not None:
            self._quota = report


def _retry_after(headers: httpx.Headers) -> float | None:
    """retry-after-ms, else Retry-After; clamped to [0, MAX_RETRY_AFTER]."""
    millis = headers.get("retry-after-ms")
    seconds = None if millis is None else parse_seconds(millis, 0.001)
    return seconds if seconds is not None else parse_retry_after(headers.get("retry-after"))


def _quota(headers: httpx.Headers) -> QuotaReport | None:
    """The requests window of x-ratelimit-*; the tokens window instead when it has none left."""
    windows: dict[str, QuotaReport] = {}
    for kind in ("requests", "tokens"):
        remaining = parse_count(headers.get(f"x-ratelimit-remaining-{kind}"))
        if remaining is not None:
            reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
            windows[kind] = QuotaReport(remaining, reset)
    exhausted = [w for w in windows.values() if w.remaining == 0]
    if exhausted:
        return max(exhausted, key=lambda w: w.reset_after or 0.0)
    return windows.get("requests")
