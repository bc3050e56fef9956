"""A small asyncio web service that answers prompts through a failover Coordinator.

Gemini answers first; when it fails or its breaker is open, an OpenAI-compatible endpoint does;
when both are out, a canned answer keeps the service up (the fallback: basic mode). The
providers and their order are in examples/failover.toml (``strategy = "priority"``).

Run it from the repository's root (Starlette and uvicorn: ``pip install starlette uvicorn``)::

    GEMINI_API_KEY=... OPENAI_API_KEY=... uvicorn examples.service:app

    curl -s localhost:8000/generate -d '{"prompt": "Say hello"}'
    curl -s localhost:8000/status

``POST /generate`` answers ``{"text", "provider", "attempts"}`` (each attempt with its provider
and its error, if any); 400 for a bad body, 503 when no provider could answer. ``GET /status``
is the coordinator's status snapshot: each provider's state, health, and retry time.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    Attempt,
    BadRequest,
    Clock,
    FailoverSettings,
    managed_failover,
    status_to_json,
)

CONFIG = Path(__file__).with_name("failover.toml")


def canned_answer(prompt: object, **options: object) -> str:
    """The last resort: an answer that needs no network (the "canned" provider)."""
    return "All our assistants are busy right now; please try again in a minute."


def _attempts(attempts: tuple[Attempt, ...]) -> list[dict[str, object]]:
    return [
        {"provider": a.provider, "error": None if a.error is None else repr(a.error)}
        for a in attempts
    ]


async def generate(request: Request) -> Response:
    """POST {"prompt": "..."}: the first answer among the providers, and how it was found."""
    try:
        body = await request.json()
        prompt = body["prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(prompt)
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": 'send {"prompt": "a non-empty string"}'}, status_code=400)
    coordinator = request.app.state.coordinator
    try:
        result = await coordinator.generate(prompt)
    except BadRequest as exc:  # the prompt itself is refused: no provider would take it
        return JSONResponse({"error": str(exc)}, status_code=400)
    except AllProvidersFailed as exc:
        detail = {"error": "every provider failed", "attempts": _attempts(exc.attempts)}
        return JSONResponse(detail, status_code=503)
    except AllProvidersUnavailable as exc:  # retry_after: None when only an operator can help
        wait = 30 if exc.retry_after is None else max(1, math.ceil(exc.retry_after))
        headers = {"Retry-After": str(wait)}
        return JSONResponse({"error": str(exc)}, status_code=503, headers=headers)
    return JSONResponse(
        {
            "text": result.value.text,
            "provider": result.provider,
            "attempts": _attempts(result.attempts),
        }
    )


async def status(request: Request) -> Response:
    """GET: every provider's breaker state, health and retry time."""
    snapshot = request.app.state.coordinator.status()
    return JSONResponse(json.loads(status_to_json(snapshot)))


def create_app(
    settings: FailoverSettings | str | os.PathLike[str] = CONFIG,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> Starlette:
    """The service; its coordinator lives as long as the app (Starlette's lifespan).

    Args:
        settings: FailoverSettings, or the path of a TOML file with a [failover] table.
        environ: Where API keys are read (``os.environ`` when None).
        clock: The coordinator's clock (a ManualClock in tests).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import providers  # noqa: F401  (registers the kinds "gemini", "openai", "callable")

        async with managed_failover(settings, environ=environ, clock=clock) as coordinator:
            app.state.coordinator = coordinator
            yield

    routes = [
        Route("/generate", generate, methods=["POST"]),
        Route("/status", status, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


app = create_app()
