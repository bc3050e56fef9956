"""No API key in anything a failing run shows: logs, events, status, errors, reprs.

For each provider kind with a key, providers are built from settings (the key read from the
environment, as in production) against a fake server that fails in every way it can: a bad key,
429 with Retry-After, 5xx, an HTML page, a connection reset mid-body, a cut stream; then a
health check, and a request to a server that is gone. Everything shown along the way is
collected: every log record (DEBUG, httpx and httpcore included) as formatted with its
traceback, every FailoverEvent, the status and its JSON, every exception's str, repr and
formatted traceback (causes, contexts and AllProvidersFailed's attempts included), the reprs of
the providers, settings and coordinator. The key, and any 12 characters of it, appear nowhere.

"gemini-sdk" goes through Google's SDK and its REST transport (requests and urllib3, not httpx),
whose wire format differs a little (a stream is one JSON array, enums are numbers): its replies
are sent through FakeGemini's encoding (``SDKServer``).

The same search continues in tests/test_secrets_echo.py (servers echoing the request headers,
keys ending with a newline), tests/test_secrets_cli.py (``failover check`` and ``status``),
tests/distributed/test_redis_secrets.py (Redis URL passwords) and tests/test_secrets_runtime.py;
docs/reference/secrets.md says where a key can and cannot appear.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import providers  # noqa: F401 - registers the kinds
from failover import (
    AllProvidersFailed,
    BreakerPolicy,
    Coordinator,
    LoggingHook,
    ManualClock,
    RetryPolicy,
    StreamInterrupted,
    status_to_json,
)
from failover.hooks import BreakerHook
from failover.registry import build_provider
from failover.settings import ProviderSettings
from providers.testing import gemini as fake
from providers.testing._server import FakeRequest, FakeServer, Handler, Reply, sequence
from statemachines import FailoverEvent, Outcome, State

KEY = "zq9-LEAK-CANARY-7f3a9c1e5b2d4a6f8e0c"
ENV = {"SECRET_TEST_KEY": KEY}
WINDOW = 12
POLICY = BreakerPolicy(
    max_consecutive_failures=100, minimum_calls=100, open_jitter=0.0, open_duration=1.0
)


def leaks(haystack: str, key: str = KEY) -> list[str]:
    """The pieces of ``key`` (WINDOW characters or more) found in ``haystack``."""
    return sorted({key[i : i + WINDOW] for i in range(len(key) - WINDOW + 1)} & _windows(haystack))


def _windows(text: str) -> set[str]:
    return {text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1)}


def test_the_leak_check_finds_a_whole_or_partial_key() -> None:
    assert leaks(f"header: Bearer {KEY}") != []
    assert leaks(f"...{KEY[5:20]}...") == sorted([KEY[5:17], KEY[6:18], KEY[7:19], KEY[8:20]])
    assert leaks(f"masked {KEY[:3]}****{KEY[-4:]}") == []


# --- what each kind's server answers -------------------------------------------------------------


def _openai_error(status: int, message: str, code: str | None = None, **kw: Any) -> Reply:
    body = {"error": {"message": message, "type": "error", "param": None, "code": code}}
    return Reply.json(body, status=status, **kw)


def _google_error(status: int, name: str, message: str, reason: str | None = None) -> Reply:
    details = []
    if reason is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        )
    body = {"error": {"code": status, "message": message, "status": name, "details": details}}
    return Reply.json(body, status=status)


def _brave_error(status: int, code: str, detail: str, **kw: Any) -> Reply:
    body = {
        "type": "ErrorResponse",
        "error": {"id": "x", "status": status, "code": code, "detail": detail},
    }
    return Reply.json(body, status=status, **kw)


COMMON = [
    Reply.html(status=502),
    Reply.html(status=200),
    Reply.json({"unexpected": "shape"}),
    Reply.json({"x": "y" * 3000}, reset_mid_body=True),
]

REPLIES: dict[str, list[Reply]] = {
    "openai": [
        _openai_error(
            401, f"Incorrect API key provided: {KEY[:3]}********{KEY[-4:]}.", "invalid_api_key"
        ),
        _openai_error(
            429, "Rate limit reached", "rate_limit_exceeded", headers={"retry-after": "2"}
        ),
        _openai_error(429, "You exceeded your current quota", "insufficient_quota"),
        _openai_error(500, "The server had an error"),
        _openai_error(400, "Invalid request"),
        *COMMON,
    ],
    "gemini": [
        _google_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            "API_KEY_INVALID",
        ),
        _google_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."),
        _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded. Please retry in 3s."),
        _google_error(503, "UNAVAILABLE", "The model is overloaded."),
        _google_error(400, "FAILED_PRECONDITION", "User location is not supported."),
        *COMMON,
    ],
    "gemini-sdk": [
        fake.bad_key(),
        fake.permission_denied(),
        fake.rate_limited("3s"),
        fake.overloaded(),
        fake.failed_precondition(),
        *COMMON,
    ],
    "gemini-genai": [
        fake.bad_key(),
        fake.permission_denied(),
        fake.rate_limited("3s"),
        fake.overloaded(),
        fake.failed_precondition(),
        *COMMON,
    ],
    "brave": [
        _brave_error(
            422, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid."
        ),
        _brave_error(
            429,
            "RATE_LIMITED",
            "Request rate limit exceeded for plan.",
            headers={"retry-after": "1"},
        ),
        _brave_error(429, "QUOTA_LIMITED", "Request quota limit exceeded for plan."),
        _brave_error(400, "OPTION_NOT_IN_PLAN", "The option is not subscribed in the plan."),
        _brave_error(422, "VALIDATION", "Unable to validate request parameter(s)"),
        Reply.json({"message": "internal"}, status=500),
        *COMMON,
    ],
}
STREAMS = {
    "openai": Reply.sse(['{"choices": [{"delta": {"content": "a"}}]}'] * 2, cut_after=1),
    "gemini": Reply.sse(
        [{"candidates": [{"content": {"parts": [{"text": "a"}]}}]}] * 2, cut_after=1
    ),
    "gemini-sdk": fake.stream(["a", "a"], cut_after=1),  # a JSON array once SDKServer encodes it
    "gemini-genai": fake.stream(["a", "a"], cut_after=1),
}
"""A stream cut after its first text, for the kinds that stream."""
SHOWN = {
    "openai": {"Unauthorized", "RateLimited", "QuotaExhausted", "BadRequest", "Unavailable"},
    "gemini": {"Unauthorized", "RateLimited", "Unavailable"},
    "gemini-sdk": {"Unauthorized", "RateLimited", "Unavailable"},
    "gemini-genai": {"Unauthorized", "RateLimited", "Unavailable"},
    "brave": {"Unauthorized", "RateLimited", "QuotaExhausted", "BadRequest", "Unavailable"},
}
"""The errors each run must have shown (so that the run did fail in those ways)."""
KINDS = sorted(REPLIES)
MODELS = {
    "openai": "gpt-test",
    "gemini": "gemini-2.0-flash",
    "gemini-sdk": fake.MODEL,
    "gemini-genai": fake.MODEL,
    "brave": None,
}
TRANSPORT_LOGGER = {"gemini-sdk": "urllib3"}
"""The HTTP client whose logs a kind's run must show (httpx unless listed)."""


class SDKServer(fake.FakeGemini):
    """FakeGemini answering every request with ``replies(request)`` in the SDK's wire format
    (the key is not checked: the replies say what the server thinks of it)."""

    def __init__(self, replies: Handler) -> None:
        super().__init__(api_key=KEY)
        self.replies = replies

    def handle(self, request: FakeRequest) -> Reply:
        """``replies(request)``, encoded as the request asked."""
        reply = self.replies(request)
        assert isinstance(reply, Reply)
        return self._encoded(request, reply)


def serve(kind: str, handler: Handler) -> FakeServer | SDKServer:
    """The fake server for ``kind`` (not started)."""
    return SDKServer(handler) if kind.startswith("gemini-") else FakeServer(handler)


class Recorder(BreakerHook):
    """Keeps every event, call and rejection a hook sees."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_transition(self, event: FailoverEvent) -> None:
        self.seen += [repr(event), str(event)]

    def on_call(self, provider: str, outcome: Outcome, duration: float) -> None:
        self.seen.append(f"{provider} {outcome!r}")

    def on_rejected(self, provider: str, state: State) -> None:
        self.seen.append(f"{provider} {state!r}")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and the errors of its attempts, each once."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, AllProvidersFailed):
            todo += [a.error for a in current.attempts if a.error is not None]


def shown(exc: BaseException) -> list[str]:
    """Everything an exception can show."""
    texts = ["".join(traceback.format_exception(exc))]
    for e in _chain(exc):
        texts += [str(e), repr(e), repr(e.args), repr(getattr(e, "attempts", ""))]
    return texts


async def _read(stream: AsyncIterator[str]) -> None:
    async for _ in stream:
        pass


def request_for(kind: str, c: Coordinator) -> Callable[[], Any]:
    if kind == "brave":
        return lambda: c.search("python circuit breakers")
    return lambda: c.generate("Say hi")


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "urllib3", "google", "failover", "providers", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", KINDS)
async def test_a_failing_run_shows_no_key(kind: str, all_logs: pytest.LogCaptureFixture) -> None:
    replies = iter(REPLIES[kind])
    last = REPLIES[kind][-1]

    def handler(request: FakeRequest) -> Reply:
        if kind in STREAMS and (
            b'"stream":true' in request.body.replace(b" ", b"") or "stream" in request.path
        ):
            return STREAMS[kind]
        return next(replies, last)

    texts: list[str] = []
    recorder = Recorder()
    async with serve(kind, handler) as server:
        settings = ProviderSettings(
            name=kind,
            kind=kind,
            model=MODELS[kind],
            base_url=server.base_url,
            api_key_env="SECRET_TEST_KEY",
            options={"timeout": 10},
        )
        provider = build_provider(settings, ENV)
        hooks = [recorder, LoggingHook(level=logging.DEBUG)]
        clock = ManualClock()
        c = Coordinator(
            [provider], policy=POLICY, retry=RetryPolicy(max_attempts=1), clock=clock, hooks=hooks
        )
        if kind in STREAMS:
            with pytest.raises(StreamInterrupted) as cut:
                await _read(c.stream("Say hi"))
            texts += shown(cut.value)
        for _ in range(len(REPLIES[kind]) + 1):
            try:
                await request_for(kind, c)()
            except Exception as exc:
                texts += shown(exc)
            clock.advance(60)
        texts += [repr(r) for r in (await c.check_health(force=True)).values()]
        texts += [
            status_to_json(c.status()),
            repr(c.status()),
            repr(c),
            repr(provider),
            repr(settings),
        ]
        await c.aclose()
    assert len(server.requests) >= len(REPLIES[kind]) - 1  # the run did reach the server
    assert all(any(KEY in v for v in r.headers.values()) for r in server.requests)
    # after the server is gone: connection refused
    gone = build_provider(settings, ENV)
    c = Coordinator(
        [gone], retry=RetryPolicy(max_attempts=1), clock=ManualClock(), hooks=[recorder]
    )
    try:
        await request_for(kind, c)()
    except Exception as exc:
        texts += shown(exc)
    texts += [status_to_json(c.status())]
    await c.aclose()

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    # vars(r): a record's extras too (the SDK's client logging puts its request there)
    logs = [formatter.format(r) + repr(r.args) + repr(vars(r)) for r in all_logs.records]
    haystack = "\n".join([*texts, *recorder.seen, *logs])
    assert "AllProvidersFailed" in haystack or "Unauthorized" in haystack  # errors were captured
    assert recorder.seen, "no event was captured"
    transport = TRANSPORT_LOGGER.get(kind, "httpx")
    assert any(r.name.startswith(transport) for r in all_logs.records), f"no {transport} logs"
    errors = set(re.findall(r"\b(?:" + "|".join(SHOWN[kind]) + r")\b", "\n".join(texts)))
    assert errors == SHOWN[kind], "the run did not fail in every expected way"
    assert leaks(haystack) == []


@pytest.mark.asyncio
async def test_a_server_echoing_the_key_is_redacted(all_logs: pytest.LogCaptureFixture) -> None:
    echo = _openai_error(401, f"Incorrect API key provided: {KEY}", "invalid_api_key")
    plain = Reply(500, {"content-type": "text/plain"}, f"upstream rejected {KEY}")
    async with FakeServer(sequence(echo, plain)) as server:
        p = build_provider(
            ProviderSettings(
                name="o",
                kind="openai",
                model="m",
                base_url=server.base_url,
                api_key_env="SECRET_TEST_KEY",
            ),
            ENV,
        )
        texts: list[str] = []
        for prompt in ("a", "ab"):
            try:
                await p.generate(prompt)
            except Exception as exc:
                texts += shown(exc)
        texts.append(repr(await p.health_check()))
        await p.aclose()
    assert any("***" in t for t in texts)
    assert leaks("\n".join(texts)) == []
