"""Distributed-mode fixtures: a real ``redis-server`` on a free loopback port.

The binary is looked up on PATH and in /usr/bin and /usr/sbin. When it is missing the Redis
tests fail under CI (``CI=true``: they must run there; ``make test`` installs it) and are
skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.distributed.support import Fleet

STARTUP_TIMEOUT = 10.0


def redis_binary() -> str | None:
    """The redis-server executable, or None."""
    found = shutil.which("redis-server")
    if found:
        return found
    return next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if Path(p).exists()), None
    )


def free_port() -> int:
    """A TCP port nobody listens on now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1, without persistence, in its own directory."""

    def __init__(self, binary: str, directory: Path, port: int | None = None) -> None:
        self.binary, self.directory = binary, directory
        self.port = port if port is not None else free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.directory
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.01)  # polling for the server to come up, not a test's wait
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        """SIGKILL it (its data is lost: no persistence) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Terminate it and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


def _binary() -> str:
    binary = redis_binary()
    if binary is None:
        message = "redis-server is not installed (apt-get install redis-server; make test does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: the distributed tests must run in CI")
        pytest.skip(message)
    return binary


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server shared by the session's tests (each test uses its own key prefix)."""
    server = RedisServer(_binary(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for one test (one that kills and restarts it)."""
    server = RedisServer(_binary(), tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def storage_kind(request: pytest.FixtureRequest) -> str:
    """Each contract test runs over every Storage implementation."""
    kind: str = request.param
    return kind


@pytest.fixture
def redis_url(storage_kind: str, request: pytest.FixtureRequest) -> str | None:
    """The shared server's URL for the Redis runs (None for the memory runs)."""
    if storage_kind != "redis":
        return None
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest_asyncio.fixture
async def processes(storage_kind: str, redis_url: str | None) -> AsyncIterator[Fleet]:
    """Coordinators sharing one storage of each kind (``await processes()`` starts one)."""
    fleet = Fleet(storage_kind, redis_url)
    yield fleet
    await fleet.aclose()
