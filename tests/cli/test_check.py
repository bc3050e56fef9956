"""``failover check``: providers built from settings through the registry, health-checked once."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.cli import main
from failover.registry import default_registry
from failover.settings import ProviderSettings
from failover.testing import ScriptedProvider, ScriptedRequest

KIND = "cli-test-scripted"


def factory(settings: ProviderSettings, *, api_key: str | None) -> ScriptedProvider:
    """A scripted provider whose health check passes unless its options say ``down``."""
    down = bool(settings.options.get("down", False))

    def handler(request: ScriptedRequest) -> object:
        if request.kind == "health_check" and down:
            raise ConnectionError("refused")
        return True

    return ScriptedProvider(settings.name, handler)


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    default_registry.register(KIND, factory, requires_api_key=True, replace=True)
    yield
    default_registry.unregister(KIND)


def config(tmp_path: Path, *providers: str) -> Path:
    path = tmp_path / "failover.toml"
    path.write_text("[failover]\n" + "".join(providers), encoding="utf-8")
    return path


def provider(name: str, *, env: str | None = "CLI_TEST_KEY", down: bool = False) -> str:
    text = f'[[failover.providers]]\nname = "{name}"\nkind = "{KIND}"\n'
    if env:
        text += f'api_key_env = "{env}"\n'
    return text + ("options = { down = true }\n" if down else "")


def test_healthy_providers_exit_0_with_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLI_TEST_KEY", "k-123")
    assert main(["check", "--config", str(config(tmp_path, provider("a"), provider("b")))]) == 0
    out = capsys.readouterr().out
    assert "Provider health" in out
    assert out.count("healthy") == 2
    assert "UNHEALTHY" not in out
    assert "k-123" not in out


def test_an_unhealthy_provider_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLI_TEST_KEY", "k-123")
    path = config(tmp_path, provider("a"), provider("b", down=True))
    assert main(["check", "--config", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["healthy"] is False
    assert [(p["name"], p["healthy"]) for p in data["providers"]] == [("a", True), ("b", False)]
    assert data["providers"][1]["error"] == "health_check() raised ConnectionError"


def test_missing_keys_name_the_variables_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLI_TEST_KEY", raising=False)
    monkeypatch.delenv("OTHER_TEST_KEY", raising=False)
    path = config(
        tmp_path, provider("a"), provider("b", env="OTHER_TEST_KEY"), provider("c", env=None)
    )
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "set CLI_TEST_KEY, OTHER_TEST_KEY (API keys) first" in err
    assert "providers[0].api_key_env: got 'CLI_TEST_KEY'" in err
    assert "providers[2].api_key_env: missing; the name of the environment variable" in err
    assert "Traceback" not in err


def test_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLI_TEST_KEY", "k")
    monkeypatch.setenv("FAILOVER_CONFIG", str(config(tmp_path, provider("a"))))
    assert main(["check"]) == 0
    assert "healthy" in capsys.readouterr().out


def test_no_providers_and_bad_settings_are_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FAILOVER_CONFIG", raising=False)
    assert main(["check", "--config", str(config(tmp_path))]) == 2
    assert "no providers configured" in capsys.readouterr().err
    path = tmp_path / "bad.toml"
    path.write_text("[failover]\nmax_retries_per_request = -1\n", encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "max_retries_per_request: got -1; expected an int >= 0" in err
    assert "Traceback" not in err
    path.write_text("[other]\n", encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 2
    assert "has no [failover] table" in capsys.readouterr().err


def test_unknown_kind_then_registered_by_an_imported_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.toml"
    path.write_text('[failover]\n[[failover.providers]]\nname = "a"\nkind = "late"\n')
    assert main(["check", "--config", str(path)]) == 2
    assert "providers[0].kind: got 'late'; expected a registered provider kind" in (
        capsys.readouterr().err
    )
    plugin = tmp_path / "cli_test_plugin.py"
    plugin.write_text(
        "from failover.registry import register_provider\n"
        "from tests.cli.test_check import factory\n"
        "register_provider('late', factory, replace=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cli_test_plugin", raising=False)
    try:
        assert main(["check", "--config", str(path), "--import", "cli_test_plugin"]) == 0
    finally:
        default_registry.unregister("late")
        sys.modules.pop("cli_test_plugin", None)
    assert main(["check", "--config", str(path), "--import", "no_such_module_here"]) == 2
    assert "--import no_such_module_here: cannot import it" in capsys.readouterr().err
