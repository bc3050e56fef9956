"""One configuration language (issue 15, items 1 and 2): what a Coordinator takes, written in
the settings TOML and honoured by the coordinator that managed_failover builds from it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover import AllProvidersFailed, ManualClock, Unavailable
from failover.lifecycle import managed_failover
from failover.provider import Provider
from failover.registry import default_registry, register_provider
from failover.settings import FailoverSettings, ProviderSettings, SettingsError
from failover.testing import ScriptedProvider, ScriptedRequest
from statemachines import BreakerState, ConfigurationError

KIND = "language-test"
EXAMPLES = Path(__file__).resolve().parents[3] / "failover" / "policies"


def failing_generate(request: ScriptedRequest) -> object:
    if request.kind == "health_check":
        return True
    if request.provider == "flaky":
        raise Unavailable("503 from the test", provider=request.provider)
    return f"{request.provider}: {request.payload}"


@pytest.fixture
def built() -> Iterator[dict[str, ScriptedProvider]]:
    providers: dict[str, ScriptedProvider] = {}

    def build(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        providers[settings.name] = ScriptedProvider(settings.name, failing_generate)
        return providers[settings.name]

    register_provider(KIND, build)
    yield providers
    default_registry.unregister(KIND)


def write(tmp_path: Path, text: str, name: str = "failover.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.asyncio
async def turns(count: int = 20) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


# --- a policy in the policy format ---------------------------------------------------------


POLICY_TOML = f"""
[failover]
strategy = "priority"
max_retries_per_request = 0

[failover.policy]
open_duration = 40

[[failover.providers]]
name = "flaky"
kind = "{KIND}"
priority = 2
policy = {{ trip_condition = "consecutive_failures(1)" }}

[[failover.providers]]
name = "steady"
kind = "{KIND}"
"""


@pytest.mark.asyncio
async def test_a_trip_condition_in_the_settings_opens_the_breaker_as_written(
    built: dict[str, ScriptedProvider], tmp_path: Path
) -> None:
    path = write(tmp_path, POLICY_TOML)
    async with managed_failover(path, clock=ManualClock()) as coordinator:
        breaker = coordinator.breaker("flaky")
        assert breaker.policy.open_duration == 40  # the global [failover.policy]
        with pytest.raises(AllProvidersFailed) as caught:
            await coordinator.generate("hi")  # 0 retries: one attempt, no failover
        assert [a.provider for a in caught.value.attempts] == ["flaky"]
        assert breaker.state is BreakerState.OPEN  # one failure: consecutive_failures(1)
        assert coordinator.breaker("steady").policy.open_duration == 40
        result = await coordinator.generate("again")
        assert (result.provider, len(result.attempts)) == ("steady", 1)


@pytest.mark.asyncio
async def test_a_policy_file_is_read_relative_to_the_settings_file(
    built: dict[str, ScriptedProvider], tmp_path: Path
) -> None:
    (tmp_path / "policies").mkdir()
    write(tmp_path / "policies", (EXAMPLES / "throttled.toml").read_text(), "throttled.toml")
    text = f"""
[failover]
[[failover.providers]]
name = "steady"
kind = "{KIND}"
policy_file = "policies/throttled.toml"
policy = {{ open_duration = 12 }}
"""
    settings = FailoverSettings.from_toml(write(tmp_path, text))
    policy = settings.breaker_policy("steady")
    assert "throttled" in {state.value for state in policy.states}
    assert policy.open_duration == 12  # the provider's table changes the file's policy
    assert Path(str(settings.provider("steady").policy_file)).is_absolute()


def test_a_bad_policy_table_is_every_problem_with_its_path() -> None:
    data = {
        "providers": [
            {
                "name": "a",
                "kind": KIND,
                "policy": {
                    "trip_condition": "consecutive_failures(",
                    "transitions": [{"name": "t", "source": "nowhere", "dest": "closed"}],
                },
            }
        ]
    }
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_mapping(data)
    paths = {p.path for p in caught.value.problems}
    assert "providers[0].policy.trip_condition" in paths
    assert any(p.startswith("providers[0].policy.transitions[0]") for p in paths)


def test_a_missing_policy_file_is_a_problem_at_its_key(tmp_path: Path) -> None:
    data = {"providers": [{"name": "a", "kind": KIND, "policy_file": str(tmp_path / "no.toml")}]}
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_mapping(data)
    [problem] = caught.value.problems
    assert problem.path == "providers[0].policy_file"
    assert "a valid policy file" in problem.expected


# --- hedging and per-provider health checks -------------------------------------------------


HEALTH_TOML = f"""
[failover]
hedge_after = 0.5
health_check_interval = 100

[[failover.providers]]
name = "checked"
kind = "{KIND}"
health_check_interval = 10
health_check_timeout = 2

[[failover.providers]]
name = "billed"
kind = "{KIND}"
health_check_interval = "off"

[[failover.providers]]
name = "plain"
kind = "{KIND}"
"""


@pytest.mark.asyncio
async def test_hedging_and_each_providers_health_interval_come_from_the_file(
    built: dict[str, ScriptedProvider], tmp_path: Path
) -> None:
    clock = ManualClock()
    async with managed_failover(write(tmp_path, HEALTH_TOML), clock=clock) as coordinator:
        assert coordinator.hedge_after == 0.5
        for _ in range(260):  # 260 s: past 2 checks of "plain" (100 s, jitter 10 %)
            await turns()
            clock.advance(1.0)
        await turns()
        checks = {
            name: sum(r.kind == "health_check" for r in provider.requests)
            for name, provider in built.items()
        }
    assert checks["billed"] == 0
    assert 2 <= checks["plain"] <= 3
    assert 23 <= checks["checked"] <= 27  # every 10 s (+-0.5 s jitter) after a first offset


def test_a_providers_health_timeout_must_be_below_its_interval() -> None:
    data = {
        "providers": [
            {"name": "a", "kind": KIND, "health_check_interval": 5, "health_check_timeout": 8}
        ]
    }
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_mapping(data)
    assert [p.path for p in caught.value.problems] == ["providers[0].health_check_timeout"]


@pytest.mark.parametrize("value", [0.5, "never", -1, True])
def test_a_bad_health_interval_names_off(value: object) -> None:
    data = {"providers": [{"name": "a", "kind": KIND, "health_check_interval": value}]}
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_mapping(data)
    [problem] = caught.value.problems
    assert problem.path == "providers[0].health_check_interval"
    assert "'off'" in problem.expected


# --- retries and client-side limits ---------------------------------------------------------


@pytest.mark.parametrize("retries", [0, 1, 2, 5])
def test_retries_are_attempts_after_the_first(retries: int) -> None:
    settings = FailoverSettings(max_retries_per_request=retries)
    assert settings.retry_policy().max_attempts == 1 + retries


@pytest.mark.asyncio
async def test_one_retry_fails_over_once(
    built: dict[str, ScriptedProvider], tmp_path: Path
) -> None:
    text = POLICY_TOML.replace("max_retries_per_request = 0", "max_retries_per_request = 1")
    async with managed_failover(write(tmp_path, text), clock=ManualClock()) as coordinator:
        result = await coordinator.generate("hi")
    assert [a.provider for a in result.attempts] == ["flaky", "steady"]


@pytest.mark.asyncio
async def test_a_settings_built_coordinator_has_no_client_side_limit_unless_asked(
    built: dict[str, ScriptedProvider], tmp_path: Path
) -> None:
    text = f'[failover]\n[[failover.providers]]\nname = "steady"\nkind = "{KIND}"\n'
    async with managed_failover(write(tmp_path, text), clock=ManualClock()) as coordinator:
        for index in range(200):  # 60 per minute was the old default: 61 would have failed
            assert (await coordinator.generate(str(index))).provider == "steady"
        assert coordinator.status().provider("steady").quota_left is None


# --- mistakes that used to be silent --------------------------------------------------------


def test_a_top_level_providers_table_says_where_it_belongs(tmp_path: Path) -> None:
    text = f'[failover]\nstrategy = "priority"\n\n[[providers]]\nname = "a"\nkind = "{KIND}"\n'
    with pytest.raises(ConfigurationError, match=r"providers outside its \[failover\] table") as e:
        FailoverSettings.from_toml(write(tmp_path, text))
    assert "[[failover.providers]]" in str(e.value)


def test_other_top_level_tables_are_left_alone(tmp_path: Path) -> None:
    text = (
        f'[app]\nport = 8080\n\n[failover]\n[[failover.providers]]\nname = "a"\nkind = "{KIND}"\n'
    )
    assert FailoverSettings.from_toml(write(tmp_path, text)).providers[0].name == "a"


def test_an_unknown_key_suggests_the_closest() -> None:
    with pytest.raises(SettingsError) as caught:
        FailoverSettings.from_mapping({"hedge_afer": 1, "providers": [{"name": "a", "kind": "k"}]})
    [problem] = caught.value.problems
    assert problem.path == "hedge_afer"
    assert problem.expected.startswith("unknown key; did you mean hedge_after?")


def test_a_policy_file_named_in_the_environments_file_is_relative_to_that_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf", (EXAMPLES / "throttled.toml").read_text(), "throttled.toml")
    text = f'[failover]\n[[failover.providers]]\nname = "a"\nkind = "{KIND}"\n'
    text += 'policy_file = "throttled.toml"\n'
    path = write(tmp_path / "conf", text)
    settings = FailoverSettings.from_env(environ={"FAILOVER_CONFIG": str(path)})
    assert settings.provider("a").policy_file == str(tmp_path / "conf" / "throttled.toml")
