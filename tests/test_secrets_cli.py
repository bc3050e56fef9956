"""No secret in the CLI's output: ``failover check`` (table and --json) over every kind with a
key, against servers whose errors echo the request headers, the keys read from the environment
with a trailing newline; ``failover status`` (table and --json) with a password in the Redis
URL, reachable, unreachable or malformed. ``main`` runs in-process (capsys), every logger of
interest at DEBUG (httpx, httpcore, urllib3, google, failover).

The fake servers run on an event loop of their own in a thread: ``check`` runs ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from failover.cli import main
from tests.distributed.conftest import RedisServer, _binary, free_port
from tests.providers.test_secrets import MODELS, leaks, serve
from tests.test_secrets_echo import KINDS, LOGGERS, echoing, fresh_key

Captured = tuple[int, str]
"""A run's exit code, and everything it showed (stdout, stderr, log records)."""


class Servers:
    """Fake servers on an event loop running in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.started: list[Any] = []

    def start(self, server: Any) -> Any:
        asyncio.run_coroutine_threadsafe(server.__aenter__(), self.loop).result(10)
        self.started.append(server)
        return server

    def close(self) -> None:
        for server in self.started:
            asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), self.loop).result(
                10
            )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], logs: pytest.LogCaptureFixture
) -> Captured:
    logs.clear()
    code = main(argv)
    out, err = capsys.readouterr()
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = [formatter.format(r) + repr(vars(r)) for r in logs.records]
    return code, "\n".join([out, err, *records])


@pytest.fixture
def echo_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A settings file of one provider per kind, each against a server echoing its headers;
    the keys (one per kind, each ending with a newline) in the environment. Yields the file
    and the keys joined."""
    servers = Servers()
    keys: list[str] = []
    text = "[failover]\n"
    try:
        for kind in KINDS:
            server = servers.start(serve(kind, echoing(kind)))
            key, variable = fresh_key(kind), f"ECHO_KEY_{kind.replace('-', '_').upper()}"
            monkeypatch.setenv(variable, key + "\n")
            keys.append(key)
            text += f'[[failover.providers]]\nname = "{kind}"\nkind = "{kind}"\n'
            text += f'base_url = "{server.base_url}"\napi_key_env = "{variable}"\n'
            text += f'model = "{MODELS[kind]}"\n' if MODELS[kind] else ""
        path = tmp_path / "failover.toml"
        path.write_text(text, encoding="utf-8")
        yield path, "\n".join(keys)
    finally:
        servers.close()


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_check_shows_no_key(
    echo_config: tuple[Path, str],
    as_json: bool,
    capsys: pytest.CaptureFixture[str],
    logs: pytest.LogCaptureFixture,
) -> None:
    path, keys = echo_config
    code, shown = run(
        ["check", "--config", str(path), *(["--json"] if as_json else [])], capsys, logs
    )
    assert code == 1  # every provider unhealthy: the checks did run
    if as_json:
        data = json.loads(_first_json(shown))
        assert sorted(p["name"] for p in data["providers"]) == sorted(KINDS)
        assert all(p["healthy"] is False for p in data["providers"])
    else:
        assert shown.count("UNHEALTHY") >= len(KINDS)
    assert "Traceback" not in shown
    for key in keys.split("\n"):
        assert leaks(shown, key) == []


def _first_json(text: str) -> str:
    """The JSON document at the start of ``text`` (the rest is stderr and logs)."""
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(text)
    return text[:end]


# --- status --redis ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_with_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL with a password, password) of an ACL user of a redis-server of this module."""
    server = RedisServer(_binary(), tmp_path_factory.mktemp("redis-secrets"))
    server.start()
    password = f"pw-{uuid.uuid4().hex}-cli"
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("ACL", "SETUSER", "cli", "on", f">{password}", "~*", "&*", "+@all")
    admin.close()
    yield f"redis://cli:{password}@127.0.0.1:{server.port}/0", password
    server.stop()


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_status_shows_no_redis_password(
    redis_with_user: tuple[str, str],
    as_json: bool,
    capsys: pytest.CaptureFixture[str],
    logs: pytest.LogCaptureFixture,
) -> None:
    url, password = redis_with_user
    argv = ["status", "--redis", url, "--provider", "p", *(["--json"] if as_json else [])]
    code, shown = run(argv, capsys, logs)
    assert code == 0
    if as_json:
        assert json.loads(_first_json(shown)) == {"p": None}
    else:
        assert "no record" in shown
    assert password not in shown


@pytest.mark.parametrize(
    "url",
    ["redis://u:{pw}@127.0.0.1:{port}/0", "redis://:{pw}@host:notaport", "notaurl://u:{pw}@host"],
    ids=["unreachable", "bad-port", "not-a-url"],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_status_errors_show_no_redis_password(
    url: str, as_json: bool, capsys: pytest.CaptureFixture[str], logs: pytest.LogCaptureFixture
) -> None:
    password = f"pw-{uuid.uuid4().hex}-gone"
    given = url.format(pw=password, port=free_port())
    code, shown = run(["status", "--redis", given, *(["--json"] if as_json else [])], capsys, logs)
    assert code == 2
    assert "Traceback" not in shown
    assert password not in shown
