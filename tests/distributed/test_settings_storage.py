"""A storage written in the settings (``storage = { url_env, prefix }``) shares breakers between
coordinators that managed_failover builds, on a real redis-server (issue 15, item 1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.lifecycle import managed_failover
from failover.provider import Provider
from failover.redis_storage import RedisStorage
from failover.registry import default_registry, register_provider
from failover.settings import FailoverSettings, ProviderSettings
from failover.testing import ScriptedProvider
from statemachines import BreakerState, ConfigurationError
from tests.distributed.conftest import RedisServer
from tests.distributed.support import eventually

KIND = "settings-storage-test"
PASSWORD = "s3cret-in-the-url"


@pytest.fixture
def kind() -> Iterator[None]:
    def build(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        return ScriptedProvider(settings.name, lambda request: "ok")

    register_provider(KIND, build)
    yield
    default_registry.unregister(KIND)


def settings_file(tmp_path: Path, prefix: str) -> Path:
    path = tmp_path / "failover.toml"
    path.write_text(
        f"""
[failover]
storage = {{ url_env = "TEST_REDIS_URL", prefix = "{prefix}", timeout = 2 }}

[[failover.providers]]
name = "a"
kind = "{KIND}"
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.asyncio
async def test_two_coordinators_from_one_file_share_a_breaker(
    redis_server: RedisServer, tmp_path: Path, kind: None
) -> None:
    path = settings_file(tmp_path, f"settings-{uuid.uuid4().hex}")
    environ = {"TEST_REDIS_URL": redis_server.url}
    async with (
        managed_failover(path, environ=environ) as one,
        managed_failover(path, environ=environ) as two,
    ):
        one.breaker("a").force_open()
        await eventually(lambda: two.breaker("a").state is BreakerState.FORCED_OPEN, what="shared")
        two.breaker("a").reset()
        await eventually(lambda: one.breaker("a").state is BreakerState.CLOSED, what="reset")


def test_the_storage_is_a_redis_storage_with_the_files_prefix(tmp_path: Path) -> None:
    settings = FailoverSettings.from_toml(settings_file(tmp_path, "svc"))
    url = f"redis://:{PASSWORD}@127.0.0.1:6390/0"
    storage = settings.make_storage({"TEST_REDIS_URL": url})
    assert isinstance(storage, RedisStorage)
    assert PASSWORD not in repr(storage)
    assert PASSWORD not in repr(settings)
    assert FailoverSettings().make_storage() is None


def test_an_unset_url_variable_names_it(tmp_path: Path) -> None:
    settings = FailoverSettings.from_toml(settings_file(tmp_path, "svc"))
    with pytest.raises(ConfigurationError, match=r"storage.url_env names TEST_REDIS_URL, which is"):
        settings.make_storage({})


def test_a_url_in_the_file_never_shows_its_password() -> None:
    data = {
        "storage": {"url": f"redis://:{PASSWORD}@h:1/0", "prefix": "p"},
        "providers": [{"name": "a", "kind": KIND}],
    }
    settings = FailoverSettings.from_mapping(data)
    assert PASSWORD not in repr(settings)
    data["storage"] = {"url": f"redis://:{PASSWORD}@h:1/0", "url_env": "X"}
    with pytest.raises(ConfigurationError) as caught:
        FailoverSettings.from_mapping(data)
    assert "exactly one of url and url_env" in str(caught.value)
    assert PASSWORD not in str(caught.value)
