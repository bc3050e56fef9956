"""Any settings mapping, and any environment, either builds a working coordinator or raises
SettingsError: never TypeError, ValueError, OverflowError, MemoryError, RecursionError, nor a
ConfigurationError that is not a SettingsError.

The mappings mix valid and invalid keys and values of every TOML type (and a few Python ones:
huge ints, NaN, infinities, deep nesting) at every level; the providers are of kind "callable"
(a function of this module), "openai" (never sent a request: no network call is made) or an
unregistered kind. "Working": the coordinator is entered with ``async with``, answers a request
when only callable providers serve, and is closed.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import providers  # noqa: F401 - registers the built-in kinds
from failover import ManualClock, managed_failover
from failover.settings import ENV_NAMES, FailoverSettings, SettingsError

CALLABLE = f"{__name__}:shout"


def shout(prompt: object, **options: object) -> str:
    return str(prompt).upper()


# --- values of every kind ----------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.sampled_from([0, 1, 2, 59, 100, 1024, 10**9, 10**9 + 1, 10**12, 10**100, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 1.0, 1.5, 30.0, 120.0, 1e-9, 86_400.0, 1e308]),
    st.text(max_size=8),
    st.sampled_from(["unlimited", "priority", "wait", "fail_fast", "size", "seconds"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


ODD = st.one_of(VALUES, st.sampled_from([deep(3_000), {"size": deep(2_000)}, 10**5000]))


Field = tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]  # (valid, anything like it)


def table(known: dict[str, Field], clean: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Some of the known keys: valid values only when ``clean``; else each valid, near or odd,
    and maybe an unknown key."""
    if clean:
        return st.fixed_dictionaries({}, optional={k: valid for k, (valid, _) in known.items()})
    messy = {k: st.one_of(valid, wide, ODD) for k, (valid, wide) in known.items()}
    extra = st.dictionaries(st.text(max_size=6), ODD, max_size=1)
    chosen = st.fixed_dictionaries({}, optional=messy)
    return st.tuples(chosen, st.one_of(st.just({}), extra)).map(lambda p: {**p[1], **p[0]})


def number(low: float, high: float, wide_low: float, wide_high: float) -> Field:
    return st.floats(low, high), st.floats(wide_low, wide_high)


def count(low: int, high: int, wide_high: int) -> Field:
    return st.integers(low, high), st.integers(-1, wide_high)


LIMIT: Field = (
    st.one_of(st.integers(1, 10**9), st.just("unlimited")),
    st.one_of(st.integers(-1, 2 * 10**9), st.just("Unlimited")),
)
WINDOW: Field = (
    st.one_of(
        st.fixed_dictionaries({"size": st.integers(1, 10_000)}),
        st.fixed_dictionaries({"seconds": st.floats(1, 86_400), "buckets": st.integers(1, 100)}),
    ),
    st.one_of(
        st.fixed_dictionaries({"size": st.integers(0, 10**13)}),
        st.fixed_dictionaries({"seconds": st.floats(0, 1e6), "buckets": st.integers(0, 20_000)}),
    ),
)
POLICY = {
    "open_duration": number(1, 300, 0, 1e6),
    "max_open_duration": number(300, 3_000, 0, 1e6),
    "minimum_calls": count(1, 100, 20_000),
    "max_consecutive_failures": count(1, 100, 20_000),
    "failure_rate_threshold": number(0.01, 1, -1, 2),
    "window": WINDOW,
    "removed_transitions": (
        st.just([]),
        st.lists(st.sampled_from(["trip", "probe_health_check", "x"])),
    ),
    "trip_condition": (
        st.sampled_from(["consecutive_failures(2)", "failure_rate(0.5, min_calls=5)"]),
        st.sampled_from(["consecutive_failures(", "nope()", "1 +", ""]),
    ),
}


def common(clean: bool) -> dict[str, Field]:
    return {
        "priority": number(-1e6, 1e6, -2e6, 2e6),
        "weight": number(0.001, 1e6, -1, 2e6),
        "policy": (table(POLICY, clean), table(POLICY, clean=False)),
        "health_check_interval": (
            st.one_of(st.just("off"), st.floats(200, 86_400)),
            st.one_of(st.just("of"), st.floats(0, 1e5)),
        ),
        "rate_limits": (
            table({"per_minute": LIMIT, "per_day": LIMIT, "tokens_per_minute": LIMIT}, clean),
            ODD,
        ),
    }


def provider(clean: bool) -> st.SearchStrategy[dict[str, Any]]:
    calls = table({**common(clean), "options": (st.just({"callable": CALLABLE}), ODD)}, clean)
    openai_options = {
        "timeout": number(0.001, 21_600, -1, 30_000),
        "max_response_bytes": count(1024, 1024**3, 2 * 1024**3),
    }
    openai = table(
        {
            **common(clean),
            "base_url": (st.just("http://127.0.0.1:9/v1"), st.sampled_from(["x", "ftp://a"])),
            "options": (table(openai_options, clean), table(openai_options, clean=False)),
        },
        clean,
    )
    kinds = [
        calls.map(lambda p: {"kind": "callable", "options": {"callable": CALLABLE}, **p}),
        openai.map(lambda p: {"kind": "openai", "model": "m", **p}),
    ]
    if not clean:
        kinds += [table(common(clean), clean).map(lambda p: {"kind": "unknown", **p}), ODD]
    return st.one_of(*kinds)


def named(entries: list[Any], clean: bool, fallbacks: list[bool]) -> list[Any]:
    """Names: unique when clean (a first provider that is no fallback), else from a few."""
    out = []
    for index, (entry, fallback) in enumerate(zip(entries, fallbacks, strict=False)):
        if isinstance(entry, dict):
            name = f"p{index}" if clean else "abc"[index % 2 + (fallback and index > 1)]
            entry = {"name": name, "fallback": fallback and index > 0, **entry}
        out.append(entry)
    return out


TOP = {
    "health_check_interval": number(30, 86_400, 0, 1e5),
    "health_check_timeout": number(0.001, 20, 0, 200),
    "max_consecutive_failures": count(1, 1_000, 2_000),
    "max_retries_per_request": count(0, 99, 200),
    "backoff_factor": number(1, 10, 0.5, 20),
    "request_timeout": number(0.001, 21_600, -1, 30_000),
    "requests_per_minute": LIMIT,
    "daily_request_limit": LIMIT,
    "strategy": (
        st.sampled_from(["success_rate", "priority", "round_robin", "weighted_random", "p2c"]),
        st.sampled_from(["fastest", "PRIORITY", ""]),
    ),
    "all_down": (st.sampled_from(["fail_fast", "wait", "probe"]), st.just("retry")),
    "hedge_after": number(0.001, 60, -1, 1e5),
    "policy": (table(POLICY, True), table(POLICY, clean=False)),
}


def mapping(clean: bool) -> st.SearchStrategy[dict[str, Any]]:
    entries = st.tuples(
        st.lists(provider(clean), min_size=0, max_size=3),
        st.lists(st.booleans(), min_size=3, max_size=3),
    ).map(lambda pair: named(pair[0], clean, pair[1]))
    return st.tuples(table(TOP, clean), entries).map(lambda p: {**p[0], "providers": p[1]})


MAPPING = st.booleans().flatmap(mapping)


# --- the property ------------------------------------------------------------------------------


async def _use(built: FailoverSettings) -> None:
    async with managed_failover(built, clock=ManualClock(), environ={}) as coordinator:
        assert coordinator.status().providers
        served = [p for p in built.providers if not p.fallback]
        if all(p.kind == "callable" for p in built.providers):
            result = await coordinator.generate("hi")
            assert result.value.text == "HI"
            assert result.provider in {p.name for p in built.providers}
        assert {p.name for p in served} <= {s.name for s in coordinator.status().providers}
    assert coordinator._closed


def builds_or_refuses(read: Any) -> str:
    """Read settings with ``read()`` and build a coordinator; "built" or "refused"."""
    refused: SettingsError | None = None
    try:
        built = read()
        assert isinstance(built, FailoverSettings)
        asyncio.run(_use(built))
    except SettingsError as exc:
        refused = exc
    if refused is None:
        return "built"
    assert refused.problems
    assert all(str(problem) in str(refused) for problem in refused.problems)
    return "refused"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MAPPING)
def test_any_mapping_builds_a_working_coordinator_or_raises_settings_error(
    data: dict[str, Any],
) -> None:
    builds_or_refuses(lambda: FailoverSettings.from_mapping(data))


@settings(deadline=None)
@given(st.one_of(ODD, st.dictionaries(st.text(max_size=4), ODD, max_size=3)))
def test_anything_at_all_is_read_or_refused(data: Any) -> None:
    try:
        FailoverSettings.from_mapping(data)
    except SettingsError as exc:
        assert exc.problems  # noqa: PT017 - either outcome is fine; an empty error is not


NUMBER_TEXT = st.one_of(
    st.integers(-5, 200).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789.eE+-_ \u0661\u0662\uff13nainfx", max_size=12),
    st.sampled_from(["unlimited", "1e-9", "9" * 5_000, "1e400", " 30 "]),
    st.text(max_size=6),
)
ENV = st.dictionaries(
    st.one_of(st.sampled_from(sorted(ENV_NAMES.values())), st.text(max_size=6)),
    NUMBER_TEXT,
    max_size=6,
)


@pytest.fixture(scope="module")
def provider_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("settings") / "failover.toml"
    path.write_text(
        f'[failover]\n[[failover.providers]]\nname = "local"\nkind = "callable"\n'
        f'options = {{ callable = "{CALLABLE}" }}\n'
    )
    return path


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ENV)
def test_any_environment_builds_a_working_coordinator_or_raises_settings_error(
    provider_file: Path, env: dict[str, str]
) -> None:
    environ = {**env, "FAILOVER_CONFIG": str(provider_file)}
    outcome = builds_or_refuses(lambda: FailoverSettings.from_env("", environ=environ))
    if outcome == "built":
        for field, name in ENV_NAMES.items():
            text = env.get(name, "").strip()
            if text and text != "unlimited":
                value = float(text)  # only numbers in ASCII digits were read as numbers
                assert math.isfinite(value)
                assert text.isascii()
                assert getattr(FailoverSettings.from_env("", environ=environ), field) == value


def test_a_known_good_mapping_builds() -> None:
    provider = {"name": "a", "kind": "callable", "options": {"callable": CALLABLE}}
    assert builds_or_refuses(lambda: FailoverSettings.from_mapping({"providers": [provider]})) == (
        "built"
    )
