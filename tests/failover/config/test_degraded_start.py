"""A start that degrades (issue 15, item 4): managed_failover(on_build_error="degrade") starts
with the providers it could build and reports the rest in status, a FleetEvent and a log line;
with "raise" every factory failure is reported at once, each at its path."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from failover import FleetEvent, ManualClock
from failover.lifecycle import managed_failover
from failover.provider import Provider
from failover.registry import default_registry, register_provider
from failover.settings import FailoverSettings, ProviderSettings, SettingsError
from failover.testing import ScriptedProvider
from statemachines import ConfigurationError

GOOD, BROKEN = "degrade-test", "degrade-test-broken"
SECRET = "sk-degrade-0123456789abcdef"


@pytest.fixture
def built() -> Iterator[list[ScriptedProvider]]:
    providers: list[ScriptedProvider] = []

    def build(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        provider = ScriptedProvider(settings.name, lambda request: f"{settings.name} answers")
        providers.append(provider)
        return provider

    def broken(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        raise RuntimeError(f"cannot reach the endpoint with key {api_key}")

    register_provider(GOOD, build)
    register_provider(BROKEN, broken)
    yield providers
    default_registry.unregister(GOOD)
    default_registry.unregister(BROKEN)


def settings(*kinds: tuple[str, str, bool]) -> FailoverSettings:
    return FailoverSettings.from_mapping(
        {
            "providers": [
                {"name": name, "kind": kind, "fallback": fallback, "api_key_env": "DEGRADE_KEY"}
                for name, kind, fallback in kinds
            ]
        }
    )


ENV = {"DEGRADE_KEY": SECRET}


@pytest.mark.asyncio
async def test_every_failing_factory_is_one_problem_at_its_path(
    built: list[ScriptedProvider],
) -> None:
    config = settings(("a", BROKEN, False), ("b", GOOD, False), ("c", BROKEN, False))
    with pytest.raises(SettingsError) as caught:
        async with managed_failover(config, clock=ManualClock(), environ=ENV):
            raise AssertionError("not reached")
    problems = caught.value.problems
    assert [p.path for p in problems] == ["providers[0]", "providers[2]"]
    text = str(caught.value)
    assert f"{__name__}:built.<locals>.broken" in text  # the factory by name
    assert " at 0x" not in text  # never a memory address
    assert SECRET not in text
    assert [p.closed for p in built] == [True]  # b was built, then closed


@pytest.mark.asyncio
async def test_degrade_starts_with_what_could_be_built(
    built: list[ScriptedProvider], caplog: pytest.LogCaptureFixture
) -> None:
    events: list[FleetEvent] = []
    config = settings(("a", BROKEN, False), ("b", GOOD, False), ("canned", BROKEN, True))
    with caplog.at_level(logging.WARNING, logger="failover"):
        async with managed_failover(
            config,
            clock=ManualClock(),
            environ=ENV,
            on_build_error="degrade",
            fleet_hooks=[events.append],
        ) as coordinator:
            assert [p.name for p in coordinator.providers] == ["b"]
            assert coordinator.fallbacks == ()
            result = await coordinator.generate("hi")
            assert result.value.text == "b answers"
            status = coordinator.status()
    assert sorted(status.not_built) == ["a", "canned"]
    assert "RuntimeError: cannot reach the endpoint" in status.not_built["a"]
    assert SECRET not in repr(status)
    changes = [(e.change, e.provider) for e in events if e.change is not None]
    assert changes == [("not_built", "a"), ("not_built", "canned")]
    assert all(e.source is e.dest for e in events if e.change is not None)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("could not be built" in w for w in warnings) == 2
    assert not [w for w in warnings if SECRET in w]


@pytest.mark.asyncio
async def test_degrade_still_needs_a_primary(built: list[ScriptedProvider]) -> None:
    config = settings(("a", BROKEN, False), ("canned", GOOD, True))
    with pytest.raises(SettingsError, match=r"providers\[0\]"):
        async with managed_failover(
            config, clock=ManualClock(), environ=ENV, on_build_error="degrade"
        ):
            raise AssertionError("not reached")
    assert [p.closed for p in built] == [True]


@pytest.mark.asyncio
async def test_degrade_reports_a_missing_key_and_an_unknown_kind_too(
    built: list[ScriptedProvider],
) -> None:
    config = settings(("a", "no-such-kind", False), ("b", GOOD, False))
    async with managed_failover(
        config, clock=ManualClock(), environ=ENV, on_build_error="degrade"
    ) as coordinator:
        assert "registered provider kind" in coordinator.status().not_built["a"]
    with pytest.raises(SettingsError) as caught:
        async with managed_failover(
            settings(("a", GOOD, False), ("b", GOOD, False)),
            clock=ManualClock(),
            environ={},
            on_build_error="degrade",
        ):
            raise AssertionError("not reached: no provider has its key")
    assert [p.path for p in caught.value.problems] == ["providers[0].api_key_env"] * 1 + [
        "providers[1].api_key_env"
    ]


@pytest.mark.asyncio
async def test_on_build_error_is_checked() -> None:
    with pytest.raises(
        ConfigurationError, match=r"on_build_error must be one of \['raise', 'degrade'\]"
    ):
        async with managed_failover(FailoverSettings(), on_build_error="ignore"):  # type: ignore[arg-type]
            raise AssertionError("not reached")


@pytest.mark.asyncio
async def test_a_factory_refusing_an_option_is_placed_at_that_option() -> None:
    import providers  # noqa: F401  (registers the "callable" kind)

    config = FailoverSettings.from_mapping(
        {
            "providers": [
                {"name": "a", "kind": "callable", "options": {"callable": "no_such_module:f"}},
                {"name": "b", "kind": "callable"},
            ]
        }
    )
    with pytest.raises(SettingsError) as caught:
        async with managed_failover(config, clock=ManualClock()):
            raise AssertionError("not reached")
    assert [p.path for p in caught.value.problems] == [
        "providers[0].options.callable",
        "providers[1].options.callable",
    ]
    assert "providers._registration:build_callable" in str(caught.value)
