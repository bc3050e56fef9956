"""managed_failover (from settings, a TOML file or the environment; closing on exit, on error
and on a failed build) and ProviderMixin."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover import ConfigurationError, ManualClock
from failover.lifecycle import ProviderMixin, managed_failover
from failover.provider import Provider, SearchResult, SearchResults
from failover.registry import default_registry, register_provider
from failover.settings import FailoverSettings, ProviderSettings, SettingsError
from failover.testing import ScriptedProvider, ScriptedRequest
from tests.failover.coordinator.test_coordinator_support import coordinator

KIND = "lifecycle-test"
BROKEN = "lifecycle-test-broken"


def answering(request: ScriptedRequest) -> object:
    if request.kind == "search":
        return [SearchResult(f"{request.payload} at {request.provider}", "https://x.example")]
    if request.kind == "health_check":
        return True
    return f"{request.provider}: {request.payload} {dict(request.options)}"


@pytest.fixture
def built() -> Iterator[list[ScriptedProvider]]:
    """Registers KIND (builds a ScriptedProvider) and BROKEN (its factory fails); yields the
    providers built, in order; unregisters both after the test."""
    providers: list[ScriptedProvider] = []

    def build(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        provider = ScriptedProvider(settings.name, answering)
        providers.append(provider)
        return provider

    def broken(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        raise RuntimeError("no route to the provider")

    register_provider(KIND, build)
    register_provider(BROKEN, broken)
    yield providers
    default_registry.unregister(KIND)
    default_registry.unregister(BROKEN)


TOML = f"""
[failover]
max_retries_per_request = 4
strategy = "priority"
all_down = "wait"
health_check_interval = 50

[[failover.providers]]
name = "a"
kind = "{KIND}"

[[failover.providers]]
name = "b"
kind = "{KIND}"
priority = 2
weight = 3
policy = {{ open_duration = 5 }}
rate_limits = {{ per_minute = 7 }}
"""


def toml_file(tmp_path: Path) -> Path:
    path = tmp_path / "failover.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


async def turns(count: int = 20) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["settings", "str path", "Path", "environment"])
async def test_builds_the_coordinator_the_settings_describe(
    built: list[ScriptedProvider], tmp_path: Path, form: str
) -> None:
    path = toml_file(tmp_path)
    source: object = {
        "settings": FailoverSettings.from_toml(path),
        "str path": str(path),
        "Path": path,
        "environment": None,
    }[form]
    clock = ManualClock()
    environ = {"FAILOVER_CONFIG": str(path), "FAILOVER_BACKOFF_FACTOR": "2"}
    before = asyncio.all_tasks()
    async with managed_failover(source, clock=clock, environ=environ) as c:  # type: ignore[arg-type]
        assert [p.name for p in built] == ["a", "b"]
        assert c.providers == tuple(built)
        # max_retries_per_request = 4: 5 attempts
        assert (c.retry.max_attempts, c.strategy, c.all_down) == (5, "priority", "wait")
        assert c.retry.backoff_factor == (2.0 if form == "environment" else 1.5)
        assert c.health.interval == 50.0
        assert c.breaker("b").policy.open_duration == 5.0
        assert c.breaker("a").policy.open_duration == 30.0
        status = c.status()
        assert (status.provider("b").priority, status.provider("b").weight) == (2.0, 3.0)
        assert (status.provider("a").quota_left, status.provider("b").quota_left) == (None, 7)
        assert len(asyncio.all_tasks() - before) == 2  # one health task per provider
        result = await c.generate("hi")
        assert (result.provider, result.value.text) == ("b", "b: hi {}")
        await turns()  # the health tasks wait for their first check
        clock.advance(5.0)  # past every first one (jitter 0.1 x interval 50)
        await turns()
        assert all(s.last_health_check is not None for s in c.status().providers)
    assert all(p.closed for p in built)
    assert asyncio.all_tasks() == before


@pytest.mark.asyncio
async def test_an_error_in_the_body_closes_everything_and_propagates(
    built: list[ScriptedProvider], tmp_path: Path
) -> None:
    before = asyncio.all_tasks()
    with pytest.raises(KeyError, match="boom"):
        async with managed_failover(toml_file(tmp_path), clock=ManualClock()):
            raise KeyError("boom")
    assert len(built) == 2
    assert all(p.closed for p in built)
    assert asyncio.all_tasks() == before


@pytest.mark.asyncio
async def test_a_failing_factory_closes_the_providers_built_before_it(
    built: list[ScriptedProvider],
) -> None:
    settings = FailoverSettings(
        providers=(
            ProviderSettings("a", KIND),
            ProviderSettings("b", KIND),
            ProviderSettings("c", BROKEN),
        )
    )
    with pytest.raises(ConfigurationError, match="no route to the provider"):
        async with managed_failover(settings, clock=ManualClock()):
            pytest.fail("the body must not run")
    assert [(p.name, p.closed) for p in built] == [("a", True), ("b", True)]


@pytest.mark.asyncio
async def test_every_unbuildable_provider_is_reported_before_any_is_built(
    built: list[ScriptedProvider],
) -> None:
    settings = FailoverSettings(
        providers=(
            ProviderSettings("a", KIND),
            ProviderSettings("b", "no-such-kind"),
            ProviderSettings("c", KIND, api_key_env="LIFECYCLE_TEST_KEY"),
        )
    )
    with pytest.raises(SettingsError) as caught:
        async with managed_failover(settings, environ={}):
            pytest.fail("the body must not run")
    paths = [p.path for p in caught.value.problems]
    assert paths == ["providers[1].kind", "providers[2].api_key_env"]
    assert built == []


@pytest.mark.asyncio
async def test_settings_without_providers_are_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        async with managed_failover(FailoverSettings(), environ={}):
            pytest.fail("the body must not run")
    assert [(p.path, p.given) for p in caught.value.problems] == [("providers", None)]
    assert "at least one [[failover.providers]] table" in str(caught.value)


@pytest.mark.asyncio
async def test_something_else_than_settings_or_a_path_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"takes FailoverSettings, .* got 42"):
        async with managed_failover(42):  # type: ignore[arg-type]
            pytest.fail("the body must not run")


# --- ProviderMixin -------------------------------------------------------------------------------


class Agent(ProviderMixin):
    """An existing class that gains llm() and search()."""

    def __init__(self, name: str) -> None:
        self.name = name


@pytest.mark.asyncio
async def test_mixin_llm_and_search_go_through_the_coordinator() -> None:
    c, _ = coordinator(ScriptedProvider("a", answering))
    agent = Agent("helper")
    agent.coordinator = c
    assert await agent.llm("hello", temperature=0) == "a: hello {'temperature': 0}"
    found = await agent.search("cats")
    assert found == SearchResults("cats", (SearchResult("cats at a", "https://x.example"),), "a")
    assert c.status().provider("a").calls == 2


@pytest.mark.asyncio
async def test_mixin_without_a_coordinator_says_what_to_set() -> None:
    agent = Agent("helper")
    with pytest.raises(AttributeError, match=r"Agent uses ProviderMixin but has no coordinator"):
        await agent.llm("hello")
    with pytest.raises(AttributeError, match=r"set self\.coordinator to a Coordinator"):
        await agent.search("cats")
