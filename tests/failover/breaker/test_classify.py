"""Classification: what each error (or result) means for the breaker, the rules that change it,
and what the breaker does with the verdict (signals, Retry-After, released probe permits)."""

from __future__ import annotations

import asyncio

import pytest

import failover.errors
from failover import (
    AllProvidersFailed,
    AllProvidersUnavailable,
    BadRequest,
    BreakerPolicy,
    BreakerState,
    CallNotPermitted,
    Classification,
    ConfigurationError,
    ContentBlocked,
    FailoverError,
    IllegalTransitionError,
    NotFound,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
    Unauthorized,
    Unavailable,
    default_classifier,
    failure,
    failure_if_result,
    ignore,
    success,
)
from statemachines import FailoverReason, Outcome
from tests.failover.breaker._support import half_open, make

S, R = BreakerState, FailoverReason
FAILED, IGNORED, SUCCEEDED = (
    Classification(Outcome.FAILURE),
    Classification(Outcome.IGNORED),
    Classification(Outcome.SUCCESS),
)

# Every error class of failover.errors, one instance each, and its default verdict.
DEFAULTS: dict[type[BaseException], tuple[BaseException, Classification]] = {
    RateLimited: (
        RateLimited("429", retry_after=7.5),
        Classification(Outcome.FAILURE, R.RATE_LIMITED, 7.5),
    ),
    QuotaExhausted: (
        QuotaExhausted("daily quota", retry_after=3600.0),
        Classification(Outcome.FAILURE, R.RATE_LIMITED, 3600.0),
    ),
    Unauthorized: (Unauthorized("401"), Classification(Outcome.FAILURE, R.AUTH_FAILED)),
    BadRequest: (BadRequest("400"), IGNORED),
    ContentBlocked: (ContentBlocked("safety"), IGNORED),
    NotFound: (NotFound("404"), FAILED),
    Unavailable: (Unavailable("503"), FAILED),
    ProviderTimeout: (ProviderTimeout("slow"), FAILED),
    ProviderError: (ProviderError("?"), FAILED),
    CallNotPermitted: (CallNotPermitted("q", S.OPEN, 1.0), FAILED),
    AllProvidersFailed: (AllProvidersFailed([]), FAILED),
    AllProvidersUnavailable: (AllProvidersUnavailable(None), FAILED),
    StreamInterrupted: (StreamInterrupted("Hel", "a", Unavailable("reset")), FAILED),
    ConfigurationError: (ConfigurationError("bad"), FAILED),
    IllegalTransitionError: (IllegalTransitionError("x", "closed"), FAILED),
    FailoverError: (FailoverError("?"), FAILED),
}


def test_the_table_covers_every_error_class() -> None:
    exported = {getattr(failover.errors, name) for name in failover.errors.__all__}
    assert exported == set(DEFAULTS)


@pytest.mark.parametrize("kind", DEFAULTS, ids=lambda kind: kind.__name__)
def test_each_library_error_has_its_default_verdict(kind: type[BaseException]) -> None:
    error, verdict = DEFAULTS[kind]
    assert type(error) is kind
    assert default_classifier(error, None) == verdict


def test_a_retry_after_without_a_signal_is_kept() -> None:
    verdict = default_classifier(Unavailable("503", retry_after=5.0), None)
    assert verdict == Classification(Outcome.FAILURE, None, 5.0)


@pytest.mark.parametrize(
    "error", [ValueError("x"), OSError("x"), TimeoutError(), RuntimeError("x"), Exception()]
)
def test_any_other_exception_is_a_failure(error: Exception) -> None:
    assert default_classifier(error, None) == FAILED


@pytest.mark.parametrize(
    "error", [asyncio.CancelledError(), KeyboardInterrupt(), GeneratorExit(), SystemExit(1)]
)
def test_cancellation_and_interrupts_are_ignored(error: BaseException) -> None:
    assert default_classifier(error, None) == IGNORED


@pytest.mark.parametrize("result", [None, 0, "", "error", object()])
def test_any_result_is_a_success(result: object) -> None:
    assert default_classifier(None, result) == SUCCEEDED


# --- through a breaker ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_cancelled_probe_gives_its_permit_back_and_records_nothing() -> None:
    breaker, _ = half_open()
    before = breaker.statistics()
    entered = asyncio.Event()

    async def provider() -> None:
        entered.set()
        await asyncio.get_running_loop().create_future()  # never resolved

    task = asyncio.create_task(breaker.acall(provider))
    await entered.wait()
    assert breaker.statistics().probes_in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = breaker.statistics()
    assert (after.state, after.seq, after.probes_admitted, after.probes_in_flight) == (
        S.HALF_OPEN,
        before.seq,
        0,
        0,
    )
    assert (after.lifetime_calls, after.lifetime_ignored) == (before.lifetime_calls, 1)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, GeneratorExit, SystemExit])
def test_an_interrupted_probe_gives_its_permit_back(interrupt: type[BaseException]) -> None:
    breaker, _ = half_open()

    def provider() -> None:
        raise interrupt

    with pytest.raises(interrupt):
        breaker.call(provider)
    stats = breaker.statistics()
    assert (stats.state, stats.probes_admitted, stats.lifetime_ignored) == (S.HALF_OPEN, 0, 1)


def test_a_rate_limit_opens_the_breaker_for_at_least_its_retry_after() -> None:
    breaker, clock = make(BreakerPolicy())  # 30 s cooldown, 3 failures to trip
    clock.advance(1000.0)
    with pytest.raises(RateLimited):
        breaker.call(raise_, RateLimited("429", retry_after=120.0))
    event = breaker.events[-1]
    assert (breaker.state, event.reason) == (S.OPEN, R.RATE_LIMITED)
    assert breaker.statistics().deadline == breaker.retry_at
    assert breaker.retry_at is not None
    assert breaker.retry_at >= 1000.0 + 120.0


def test_a_rate_limited_probe_reopens_for_its_retry_after() -> None:
    breaker, clock = half_open()
    with pytest.raises(RateLimited):
        breaker.call(raise_, RateLimited("429", retry_after=500.0))
    assert (breaker.state, breaker.events[-1].reason) == (S.OPEN, R.RATE_LIMITED)
    assert breaker.retry_at is not None
    assert breaker.retry_at >= clock.monotonic() + 500.0


def test_a_retry_after_on_any_failure_lengthens_the_opening() -> None:
    breaker, _ = make(BreakerPolicy(max_consecutive_failures=1, open_duration=10.0))
    with pytest.raises(Unavailable):
        breaker.call(raise_, Unavailable("503", retry_after=500.0))
    assert breaker.events[-1].reason is R.CONSECUTIVE_FAILURES
    assert breaker.retry_at is not None
    assert breaker.retry_at >= 500.0


def test_rejected_credentials_trip_at_once() -> None:
    breaker, _ = make(BreakerPolicy(max_consecutive_failures=3))
    with pytest.raises(Unauthorized):
        breaker.call(raise_, Unauthorized("401"))
    assert (breaker.state, breaker.events[-1].reason) == (S.OPEN, R.AUTH_FAILED)


def test_the_callers_own_faults_never_trip() -> None:
    breaker, _ = make(BreakerPolicy(max_consecutive_failures=1))
    for error in [BadRequest("400"), ContentBlocked("no")] * 5:
        with pytest.raises(ProviderError) as caught:
            breaker.call(raise_, error)
        assert caught.value is error
    stats = breaker.statistics()
    assert (stats.state, stats.calls, stats.lifetime_ignored) == (S.CLOSED, 0, 10)


def raise_(error: BaseException) -> None:
    raise error


# --- rules ------------------------------------------------------------------------------------


def test_ignore_by_type_matches_subclasses_and_leaves_the_rest_to_the_default() -> None:
    rule = ignore(LookupError)
    assert rule(KeyError("k"), None) == IGNORED
    assert rule(ValueError("v"), None) == FAILED
    rate_limited, its_verdict = DEFAULTS[RateLimited]
    assert rule(rate_limited, None) == its_verdict  # the signal and retry_after survive
    assert rule(None, "result") == SUCCEEDED
    assert rule.opinion(ValueError("v"), None) is None


def test_ignore_by_predicate() -> None:
    rule = ignore(lambda exc: "caller" in str(exc))
    assert rule(ValueError("the caller's fault"), None) == IGNORED
    assert rule(ValueError("the provider's fault"), None) == FAILED


def test_failure_counts_a_base_exception() -> None:
    rule = failure(KeyboardInterrupt)
    assert rule(KeyboardInterrupt(), None) == FAILED
    assert rule(asyncio.CancelledError(), None) == IGNORED


def test_success_counts_an_exception_as_the_provider_working() -> None:
    rule = success(NotFound, lambda exc: isinstance(exc, KeyError))
    assert rule(NotFound("404"), None) == SUCCEEDED
    assert rule(KeyError("k"), None) == SUCCEEDED
    assert rule(Unavailable("503"), None) == FAILED


def test_failure_if_result_judges_returned_values_only() -> None:
    rule = failure_if_result(lambda result: result == {"error": True})
    assert rule(None, {"error": True}) == FAILED
    assert rule(None, {"error": False}) == SUCCEEDED
    assert rule(BadRequest("400"), {"error": True}) == IGNORED  # an exception: not its business


@pytest.mark.parametrize(
    ("rule", "verdict"),
    [
        (ignore(ValueError) | failure(ValueError), IGNORED),
        (failure(ValueError) | ignore(ValueError), FAILED),
        (success(KeyError) | ignore(ValueError) | failure(ValueError), IGNORED),
        (success(ValueError) | ignore(ValueError), SUCCEEDED),
    ],
    ids=repr,
)
def test_the_first_rule_with_an_opinion_wins(rule: object, verdict: Classification) -> None:
    assert callable(rule)
    assert rule(ValueError("v"), None) == verdict


def test_composed_rules_describe_themselves() -> None:
    rule = ignore(KeyError) | failure_if_result(bool) | success(NotFound)
    assert repr(rule) == "ignore(KeyError) | failure_if_result(bool) | success(NotFound)"


def test_a_rule_composes_only_with_rules() -> None:
    with pytest.raises(TypeError):
        ignore(KeyError) | default_classifier  # type: ignore[operator]


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: ignore(), r"ignore\(\) needs at least one exception type or predicate"),
        (lambda: failure(42), r"failure\(\) takes exception types or predicates .*got 42"),
        (lambda: success(int), r"success\(\) takes exception types or predicates .*got <class"),
        (lambda: ignore(KeyError, "x"), r"ignore\(\) takes exception types .*got 'x'"),
        (lambda: failure_if_result(3), r"failure_if_result\(\) takes a predicate .*got 3"),
    ],
)
def test_bad_rule_arguments_are_configuration_errors(build: object, match: str) -> None:
    assert callable(build)
    with pytest.raises(ConfigurationError, match=match):
        build()


def test_a_breaker_applies_its_rules() -> None:
    classifier = ignore(KeyError) | success(NotFound) | failure_if_result(lambda r: r == "err")
    breaker, _ = make(BreakerPolicy(max_consecutive_failures=5), classifier=classifier)
    with pytest.raises(KeyError):
        breaker.call(raise_, KeyError("k"))
    not_found = NotFound("404")
    with pytest.raises(NotFound) as caught:
        breaker.call(raise_, not_found)
    assert caught.value is not_found  # a SUCCESS for the breaker, still the caller's exception
    assert breaker.call(lambda: "err") == "err"  # a FAILURE for the breaker, still the result
    stats = breaker.statistics()
    assert (stats.calls, stats.failures, stats.lifetime_ignored) == (2, 1, 1)


def test_an_ignoring_rule_gives_a_probe_permit_back() -> None:
    breaker, _ = half_open(classifier=ignore(KeyError))
    with pytest.raises(KeyError):
        breaker.call(raise_, KeyError("k"))
    stats = breaker.statistics()
    assert (stats.state, stats.probes_admitted, stats.probes_in_flight) == (S.HALF_OPEN, 0, 0)


def test_a_plain_function_is_a_classifier_too() -> None:
    breaker, _ = make(classifier=lambda exc, result: IGNORED)
    with pytest.raises(Unavailable):
        breaker.call(raise_, Unavailable("503"))
    assert breaker.statistics().lifetime_ignored == 1


def test_result_rules_leave_a_guarded_block_alone() -> None:
    breaker, _ = make(classifier=failure_if_result(lambda result: result is None))
    with breaker.guard():
        pass  # a block has no result: not a None result
    stats = breaker.statistics()
    assert (stats.calls, stats.failures) == (1, 0)


def test_a_broken_classifier_loses_neither_the_call_nor_the_probe(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(exc: BaseException | None, result: object) -> Classification:
        raise RuntimeError("classifier bug")

    breaker, _ = make(classifier=broken)
    for passed in (False, False, True):  # no call can trip it: health checks can
        breaker.record_health_check(passed)
    assert breaker.state is S.HALF_OPEN
    assert breaker.call(lambda: "ok") == "ok"
    error = Unavailable("503")
    with pytest.raises(Unavailable) as caught:
        breaker.call(raise_, error)
    assert caught.value is error
    stats = breaker.statistics()
    assert (stats.state, stats.probes_admitted, stats.lifetime_ignored) == (S.HALF_OPEN, 0, 2)
    logged = [r for r in caplog.records if r.name.startswith("failover.") and r.exc_info]
    assert [str(r.exc_info[1]) for r in logged if r.exc_info] == ["classifier bug"] * 2
