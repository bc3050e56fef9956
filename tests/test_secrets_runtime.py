"""One redaction for every text the runtime builds: errors, log records of logger ``failover``
(message and traceback), health results, status snapshots, LoggingHook and JsonLinesHook.

Each test registers a secret of its own (masking is process-wide: a secret registered by an
earlier test would make a later test's masking look like its own).
"""

from __future__ import annotations

import io
import logging
import traceback
import uuid

import pytest

from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    Attempt,
    BreakerPolicy,
    CallNotPermitted,
    Coordinator,
    HealthCheckConfig,
    HealthCheckResult,
    LoggingHook,
    ManualClock,
    RateLimited,
    StreamInterrupted,
    Unavailable,
    status_to_json,
)
from failover._base.redacting_log import RedactingFilter
from failover.secrets import MASK, register_secret
from failover.telemetry import JsonLinesHook
from failover.testing import ScriptedProvider, ScriptedRequest
from statemachines import BreakerState, ConditionContext, FailoverEvent, FailoverReason, Verdict


def secret() -> str:
    """A fresh registered secret."""
    value = f"sk-{uuid.uuid4().hex}"
    register_secret(value)
    return value


def everything(exc: BaseException) -> str:
    return "\n".join(
        ["".join(traceback.format_exception(exc)), str(exc), repr(exc), repr(exc.args)]
    )


def test_provider_errors_are_redacted_as_they_are_built() -> None:
    key = secret()
    errors = [
        Unavailable(f"HTTP 500: echoed headers {{'x-goog-api-key': '{key}'}}", provider="g"),
        RateLimited(f"429 for https://api.example/v1?key={key}", provider="g", retry_after=2),
        Unavailable(f"upstream said {key}"),
    ]
    for error in errors:
        assert key not in everything(error)
        assert MASK in str(error)
    assert errors[1].retry_after == 2.0
    assert errors[1].provider == "g"


def test_the_coordinators_errors_are_redacted() -> None:
    key = secret()
    named = f"p-{key}"  # a name holding a secret (a URL pasted as a name, say)
    attempt = Attempt(named, 0.0, 1.0, Unavailable(key, provider=named))
    errors: list[BaseException] = [
        AllProvidersFailed([attempt]),
        AllProvidersUnavailable(12.5, [named, "q"]),
        CallNotPermitted(named, BreakerState.OPEN, 3.0),
        StreamInterrupted("hel", named, Unavailable(f"cut: {key}", provider=named)),
    ]
    for error in errors:
        assert key not in str(error)
    assert str(errors[2]) == f"provider 'p-{MASK}' is open: call not permitted until t=3.000"
    assert str(errors[1]).endswith(f"(p-{MASK}, q); earliest retry at t=12.500")


def test_failover_log_records_are_redacted_message_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = secret()
    log = logging.getLogger("failover")
    plain = "failover: nothing secret in %s"
    with caplog.at_level(logging.DEBUG, logger="failover"):
        log.warning("storage %r unavailable (%s)", f"redis://u:{key}@h", "down")
        try:
            raise RuntimeError(f"boom with {key}")
        except RuntimeError:
            log.exception("hook raised")
        log.info(plain, "here")
    formatter = logging.Formatter("%(message)s")
    texts = [formatter.format(r) for r in caplog.records]
    assert all(key not in t for t in texts)
    assert "RuntimeError: boom with ***" in texts[1]
    assert caplog.records[2].msg == plain  # untouched when there is nothing to mask
    assert caplog.records[2].args == ("here",)


def test_a_record_whose_arguments_do_not_format_passes_the_filter_unchanged() -> None:
    record = logging.LogRecord("failover", logging.WARNING, "f.py", 1, "%d items", ("many",), None)
    assert RedactingFilter().filter(record) is True  # its handler reports it, as usual
    assert (record.msg, record.args) == ("%d items", ("many",))
    assert any(isinstance(f, RedactingFilter) for f in logging.getLogger("failover").filters)


@pytest.mark.asyncio
async def test_health_results_and_status_are_redacted() -> None:
    key = secret()

    def handler(request: ScriptedRequest) -> object:
        if request.kind == "health_check":
            return HealthCheckResult("a", False, error=f"403 for key {key}")
        return "ok"

    c = Coordinator(
        [ScriptedProvider("a", handler)],
        clock=ManualClock(),
        health=HealthCheckConfig(enabled=False),
        hooks=(),
    )
    results = await c.check_health(force=True)
    assert results["a"].error == f"403 for key {MASK}"
    status = c.status()
    assert key not in status_to_json(status) + repr(status)
    await c.aclose()


def test_a_broken_condition_and_event_details_are_redacted_in_status() -> None:
    key = secret()

    def broken(ctx: ConditionContext) -> Verdict:
        raise KeyError(key)

    c = Coordinator(
        [ScriptedProvider("a", lambda r: "ok")],
        policy=BreakerPolicy(trip_condition=broken),
        clock=ManualClock(),
        health=HealthCheckConfig(enabled=False),
        hooks=(),
    )
    c.breaker("a").call(lambda: "answer")  # evaluates the broken rule
    shown = c.status().provider("a")
    assert shown.condition_errors == 1
    assert shown.last_condition_error == f"trip: KeyError: '{MASK}'"


def test_logging_hook_and_json_lines_hook_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    key = secret()
    event = FailoverEvent(
        f"p-{key}",
        1,
        BreakerState.CLOSED,
        BreakerState.OPEN,
        FailoverReason.STORAGE_DEGRADED,
        1.0,
        1,
        {"error": f"StorageUnavailable('redis://u:{key}@h')"},
    )
    stream = io.StringIO()
    mine = logging.getLogger("mine")  # not failover's: the hook redacts by itself
    with caplog.at_level(logging.DEBUG, logger="mine"):
        LoggingHook(mine).on_transition(event)
        JsonLinesHook(stream).on_transition(event)
    [record] = caplog.records
    assert record.getMessage() == f"breaker p-{MASK}: closed -> open (storage_degraded) seq=1"
    assert record.failover_provider == f"p-{MASK}"
    assert key not in stream.getvalue()
    assert MASK in stream.getvalue()
