"""The library's loggers: one per module under ``failover``, each redacting its own records, and
silent in an application that configures no logging (a NullHandler on ``failover``)."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from failover import BreakerState, CircuitBreaker, FailoverEvent, LoggingHook
from failover._base.log import get_logger
from failover._base.redacting_log import RedactingFilter
from failover.secrets import MASK, register_secret

ROOT = Path(__file__).resolve().parents[3]

MODULES = [
    "failover._breaker.admission",
    "failover._breaker.breaker",
    "failover._coordinator.running",
    "failover._coordinator.fleet",
    "failover._coordinator.health_runner",
    "failover._distributed.shared_breaker",
    "failover._distributed.redis_feed",
    "failover._distributed.replica",
    "failover.errors",
    "failover.interop",
    "failover.lifecycle",
]
"""The modules that log, each on the logger named after it."""
HOOKS = ("failover._base.hooks", "failover.hooks")
"""Hook dispatch logs on the public name its users configure (docs: observability)."""

TRIP_AND_BREAK = """
import failover
from failover import CircuitBreaker

def broken(event):
    raise RuntimeError("hook bug")

breaker = CircuitBreaker("p")  # the default hooks: LoggingHook warns on a trip
breaker.force_open()
CircuitBreaker("q", hooks=[broken]).force_open()  # logged at ERROR, with its traceback
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )


def redacting(logger: logging.Logger) -> bool:
    return any(isinstance(f, RedactingFilter) for f in logger.filters)


def secret() -> str:
    value = f"sk-{uuid.uuid4().hex}"
    register_secret(value)
    return value


# --- no logging configured: nothing on stderr ---------------------------------------------------


def test_with_no_logging_configured_a_trip_and_a_hook_error_print_nothing() -> None:
    done = run(TRIP_AND_BREAK)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_without_the_null_handler_pythons_last_resort_would_print_them() -> None:
    unquiet = 'import logging, failover\nlogging.getLogger("failover").handlers.clear()\n'
    done = run(unquiet + TRIP_AND_BREAK)
    assert done.returncode == 0, done.stderr
    assert "breaker p: closed -> forced_open (manual)" in done.stderr
    assert "RuntimeError: hook bug" in done.stderr


def test_a_configured_application_gets_the_records_on_its_handlers() -> None:
    configured = (
        "import logging\nlogging.basicConfig(format='%(name)s %(levelname)s %(message)s')\n"
    )
    done = run(configured + TRIP_AND_BREAK)
    lines = done.stderr.splitlines()
    assert "failover.hooks WARNING breaker p: closed -> forced_open (manual) seq=1" in lines
    assert any(line.startswith("failover.hooks ERROR failover hook broken") for line in lines)


# --- one logger per module, each redacting ------------------------------------------------------


@pytest.mark.parametrize(("module", "name"), [*((m, m) for m in MODULES), HOOKS])
def test_a_module_logs_on_its_own_logger_which_redacts(module: str, name: str) -> None:
    logger = importlib.import_module(module).logger
    assert logger.name == name
    assert redacting(logger)


def test_every_failover_logger_made_at_import_redacts() -> None:
    code = (
        "import logging, failover, failover.telemetry, failover.interop, failover.redis_storage\n"
        "import failover.testing, failover.strategies, failover.status\n"
        "from failover._base.redacting_log import RedactingFilter\n"
        "for name, logger in sorted(logging.root.manager.loggerDict.items()):\n"
        "    if isinstance(logger, logging.Logger) and name.split('.')[0] == 'failover':\n"
        "        ok = any(isinstance(f, RedactingFilter) for f in logger.filters)\n"
        "        print(name, ok)\n"
    )
    done = run(code)
    assert done.returncode == 0, done.stderr
    seen = dict(line.split() for line in done.stdout.splitlines())
    assert {"failover", *MODULES, HOOKS[1]} <= seen.keys()
    assert set(seen.values()) == {"True"}


def test_get_logger_installs_one_filter_and_the_package_has_one_null_handler() -> None:
    logger = get_logger("failover.test_logging_loggers")
    assert get_logger("failover.test_logging_loggers") is logger
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    package = logging.getLogger("failover")
    assert sum(isinstance(h, logging.NullHandler) for h in package.handlers) == 1
    assert package.propagate


def test_a_hook_error_is_logged_redacted_on_failover_hooks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = secret()

    def broken(event: FailoverEvent) -> None:
        raise RuntimeError(f"bad key {key}")

    with caplog.at_level(logging.ERROR, logger="failover"):
        CircuitBreaker(f"p-{key}", hooks=[broken]).force_open()
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.name == "failover.hooks"
    shown = logging.Formatter().format(record)
    assert key not in shown
    assert f"RuntimeError: bad key {MASK}" in shown


def test_a_transition_line_comes_from_failover_hooks_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = secret()
    with caplog.at_level(logging.INFO, logger="failover"):
        CircuitBreaker(f"p-{key}", hooks=[LoggingHook()]).force_open()
    [record] = caplog.records
    assert (record.name, record.levelno) == ("failover.hooks", logging.WARNING)
    assert record.getMessage() == f"breaker p-{MASK}: closed -> forced_open (manual) seq=1"
    assert record.failover_dest == BreakerState.FORCED_OPEN.value  # type: ignore[attr-defined]
