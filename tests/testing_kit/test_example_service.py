"""examples/service.py: with Gemini and the OpenAI-compatible endpoint unreachable (their URLs
point at a closed port on the loopback interface), the canned fallback answers, and the
attempts say why; its settings file is examples/failover.toml itself."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import httpx
import pytest

from examples.service import CONFIG, canned_answer, create_app
from failover import FailoverSettings, ManualClock

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"GEMINI_API_KEY": "test-key", "OPENAI_API_KEY": "test-key"}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable(settings: FailoverSettings) -> FailoverSettings:
    url = f"http://127.0.0.1:{closed_port()}"
    providers = tuple(
        attrs.evolve(p, base_url=url) if p.kind in ("gemini", "openai") else p
        for p in settings.providers
    )
    return attrs.evolve(settings, providers=providers)


@contextlib.asynccontextmanager
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        unreachable(FailoverSettings.from_toml(CONFIG)), environ=KEYS, clock=ManualClock()
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
            yield http


def test_the_example_settings_put_gemini_then_openai_with_the_canned_answer_as_fallback() -> None:
    settings = FailoverSettings.from_toml(ROOT / "examples" / "failover.toml")
    ranked = sorted(settings.providers, key=lambda p: -p.priority)
    assert [(p.name, p.kind, p.fallback) for p in ranked] == [
        ("gemini", "gemini", False),
        ("openai", "openai", False),
        ("canned", "callable", True),
    ]
    assert settings.strategy == "priority"


@pytest.mark.asyncio
async def test_the_fallback_answers_when_the_network_providers_are_down() -> None:
    async with client() as http:
        response = await http.post("/generate", json={"prompt": "Say hello"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "canned"
    assert body["text"] == canned_answer("Say hello")
    tried = [(a["provider"], a["error"] is None) for a in body["attempts"]]
    assert tried[-1] == ("canned", True)
    assert [name for name, _ in tried[:-1]] == ["gemini", "openai"]  # in priority order
    assert all(not ok for _, ok in tried[:-1])


@pytest.mark.asyncio
async def test_status_lists_the_three_providers() -> None:
    async with client() as http:
        await http.post("/generate", json={"prompt": "Say hello"})
        response = await http.get("/status")
    assert response.status_code == 200
    for name in ("gemini", "openai", "canned"):
        assert f'"{name}"' in response.text


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [b"not json", b'{"prompt": ""}', b'{"question": "hi"}'])
async def test_a_bad_body_is_a_400(body: bytes) -> None:
    async with client() as http:
        response = await http.post("/generate", content=body)
    assert response.status_code == 400
    assert "prompt" in response.json()["error"]
