"""The docs tests' Redis: the tutorial's service shares its breakers through Redis and reads its
URL from REDIS_URL, as a reader's shell would have it (a real redis-server on loopback)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.distributed.conftest import RedisServer, _binary


@pytest.fixture(scope="session", autouse=True)
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL for the whole docs session (set only while it runs)."""
    server = RedisServer(_binary(), tmp_path_factory.mktemp("docs-redis"))
    server.start()
    before = os.environ.get("REDIS_URL")
    os.environ["REDIS_URL"] = server.url
    yield server.url
    if before is None:
        del os.environ["REDIS_URL"]
    else:
        os.environ["REDIS_URL"] = before
    server.stop()
