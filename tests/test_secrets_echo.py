"""No API key shown when a server's error body echoes the request's headers, for every kind
with a key (gemini, gemini-sdk, openai, brave), and none when the key read from the
environment ends with a newline (a key read from a file): it is stripped before it is sent.

Providers are built from settings against a fake server whose every answer is an error quoting
the request headers (as a JSON error message, as JSON fields, as header lines in a text page).
Everything shown is collected as in tests/providers/test_secrets.py: exceptions (traceback,
causes, contexts, attempts), health results, status and its JSON, reprs, every log record at
DEBUG (httpx, httpcore, urllib3, google, failover). Each case has its own key, which nothing
registered before: the masking seen is the one the run itself did.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import providers  # noqa: F401 - registers the kinds
from failover import BreakerPolicy, Coordinator, ManualClock, RetryPolicy, status_to_json
from failover.registry import build_provider
from failover.settings import ProviderSettings
from providers.testing._server import FakeRequest, Reply
from tests.providers.test_secrets import MODELS, leaks, serve, shown

KINDS = ["brave", "gemini", "gemini-sdk", "openai"]
LOGGERS = ("httpx", "httpcore", "urllib3", "google", "failover", "providers")
POLICY = BreakerPolicy(
    max_consecutive_failures=100, minimum_calls=100, open_jitter=0.0, open_duration=1.0
)


def fresh_key(kind: str) -> str:
    """A key no earlier test registered."""
    return f"zq9-ECHO-{kind}-{uuid.uuid4().hex}"


def header_lines(request: FakeRequest) -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())


def _error_json(kind: str, status: int, message: str, extra: dict[str, Any]) -> dict[str, Any]:
    if kind == "openai":
        return {"error": {"message": message, "type": "error", "code": None, **extra}}
    if kind == "brave":
        error = {"id": "x", "status": status, "code": "ECHO", "detail": message, **extra}
        return {"type": "ErrorResponse", "error": error}
    return {"error": {"code": status, "message": message, "status": "INTERNAL", **extra}}


def echoing(kind: str) -> Callable[[FakeRequest], Reply]:
    """A handler answering every request with an error that quotes its headers, in turn: a
    message holding their repr, JSON fields holding them, and a text page of header lines."""
    count = iter(range(10**6))

    def handler(request: FakeRequest) -> Reply:
        turn = next(count) % 3
        headers = dict(request.headers)
        if turn == 0:
            message = f"Request headers: {headers!r}"
            return Reply.json(_error_json(kind, 500, message, {}), status=500)
        if turn == 1:
            extra = {"request": {"headers": headers}}
            return Reply.json(_error_json(kind, 400, "Bad request", extra), status=400)
        page = f"<html><pre>403 Forbidden\r\n{header_lines(request)}</pre></html>"
        return Reply(403, {"content-type": "text/html"}, page)

    return handler


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(r) + repr(r.args) + repr(vars(r)) for r in caplog.records]


def settings_for(kind: str, base_url: str) -> ProviderSettings:
    return ProviderSettings(
        name=kind,
        kind=kind,
        model=MODELS[kind],
        base_url=base_url,
        api_key_env="SECRET_ECHO_KEY",
        options={"timeout": 10},
    )


async def run(kind: str, env: dict[str, str]) -> tuple[list[str], list[FakeRequest]]:
    """Everything a run against an echoing server shows, and the requests it received."""
    texts: list[str] = []
    async with serve(kind, echoing(kind)) as server:
        settings = settings_for(kind, server.base_url)
        provider = build_provider(settings, env)
        clock = ManualClock()
        c = Coordinator(
            [provider], policy=POLICY, retry=RetryPolicy(max_attempts=1), clock=clock, hooks=None
        )
        for _ in range(3):
            try:
                await (c.search("q") if kind == "brave" else c.generate("hi"))
            except Exception as exc:
                texts += shown(exc)
            clock.advance(60)
        texts += [json.dumps(repr(r)) for r in (await c.check_health(force=True)).values()]
        texts += [status_to_json(c.status()), repr(c.status()), repr(provider), repr(settings)]
        await c.aclose()
    return texts, list(server.requests)


def _sent_key(request: FakeRequest) -> str:
    for name in ("x-goog-api-key", "x-subscription-token", "authorization"):
        if name in request.headers:
            return request.headers[name].removeprefix("Bearer ")
    return ""


@pytest.mark.asyncio
@pytest.mark.parametrize("ending", ["", "\n"], ids=["plain", "newline"])
@pytest.mark.parametrize("kind", KINDS)
async def test_echoed_headers_show_no_key(
    kind: str, ending: str, all_logs: pytest.LogCaptureFixture
) -> None:
    key = fresh_key(kind)
    texts, requests = await run(kind, {"SECRET_ECHO_KEY": key + ending})
    assert len(requests) >= 4  # three requests and a health check reached the server
    assert {_sent_key(r) for r in requests} == {key}  # stripped before it was sent
    haystack = "\n".join([*texts, *logged(all_logs)])
    assert "Unavailable" in haystack or "BadRequest" in haystack  # the errors were captured
    assert leaks(haystack, key) == []
