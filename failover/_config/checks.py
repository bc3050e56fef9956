"""The checks of ``failover.settings``: each field's check, and the problems they collect.

A check takes a value as given and returns it normalized, or raises ``Invalid`` with every
problem found, each as (subpath, value as shown, what would be accepted), relative to the value
checked (the callers prefix the paths: ``under``). A field names its check in its metadata
(``check_metadata``); the same checks validate a record built directly (``checked_fields``)
and one read through the converter. Shared with the simulator under these names."""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeAlias, cast
from urllib.parse import parse_qsl, urlsplit

import attrs

from failover._config.problem import describe
from failover.ratelimit import RateLimit
from statemachines import BUILTIN_NAMES, BreakerPolicy, ConfigurationError, CountWindow, TimeWindow

UNLIMITED: Final = "unlimited"
"""The text that stands for "no limit" in a rate limit (None in Python)."""
MAX_RATE_LIMIT: Final = 1_000_000_000
"""The largest rate limit (requests per minute or day, tokens per minute); more is "unlimited"."""

HIDDEN = "(hidden)"
CHECK = "failover.settings.check"
_CODE_ONLY = frozenset({"trip_condition", "states", "transitions"})
POLICY_FIELD_KEYS: Final = tuple(
    f.name for f in attrs.fields(BreakerPolicy) if f.name not in _CODE_ONLY
)
_RATE_LIMIT_KEYS: Final = tuple(f.name for f in attrs.fields(RateLimit))
_SECRET_WORDS = frozenset(
    {"key", "apikey", "secret", "token", "password", "passwd", "auth", "authorization", "bearer"}
    | {"credential", "credentials"}
)
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")

PathPart: TypeAlias = str | int
Found: TypeAlias = tuple[tuple[PathPart, ...], str | None, str]  # (subpath, given, expected)


class Invalid(ConfigurationError):
    """A check's verdict: problems relative to the value checked (``where`` names that value
    in the message, such as "FailoverSettings")."""

    def __init__(self, found: list[Found], where: str = "") -> None:
        self.found = found
        super().__init__("; ".join(describe(render(p, where), g, e) for p, g, e in found))


class _Repr(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        if abs(x) < 10**60:
            return repr(x)
        digits = int(x.bit_length() * math.log10(2)) + 1
        return f"{'-' if x < 0 else ''}<an int of about {digits} digits>"


_REPR = _Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 80, 80


def show(value: object) -> str:
    """A value as shown in a problem: its repr, shortened; never fails (deep nesting, an int
    of thousands of digits, a repr that raises)."""
    text = _REPR.repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def bad(expected: str, value: object, *, hide: bool = False) -> Invalid:
    return Invalid([((), HIDDEN if hide else show(value), expected)])


def render(parts: Iterable[PathPart], text: str = "") -> str:
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text or "(settings)"


def problem_path(parts: tuple[PathPart, ...], rename: Mapping[str, str] | None = None) -> str:
    """The path of a problem; a top-level key found in ``rename`` is shown by its new name."""
    key = ".".join(parts) if all(isinstance(p, str) for p in parts) else None  # type: ignore[arg-type]
    return rename[key] if rename and key is not None and key in rename else render(parts)


def under(part: PathPart, exc: Invalid) -> list[Found]:
    return [((part, *sub), given, expected) for sub, given, expected in exc.found]


def secret_name(name: str) -> bool:
    return any(word in _SECRET_WORDS for word in re.split(r"[^a-z0-9]+", name.lower()))


def suggest(given: str, accepted: Iterable[str]) -> str:
    """ "did you mean X?" for the accepted name closest to ``given``, else all of them."""
    accepted = list(accepted)
    close = difflib.get_close_matches(given, accepted, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]}?"
    return f"the accepted are {', '.join(accepted)}"


def unknown(key: object, accepted: Iterable[str]) -> Found:
    hint = ""
    if isinstance(key, str) and secret_name(key):
        hint = "; API keys come from the environment only: name the variable in api_key_env"
    suggestion = suggest(key, accepted) if isinstance(key, str) else ""
    if suggestion.startswith("did"):
        expected = f"unknown key; {suggestion} (the accepted keys are {', '.join(accepted)})"
    else:
        expected = f"unknown key; the accepted keys are {', '.join(accepted)}"
    return ((str(key),), None, expected + hint)


# --- checks: value -> normalized value, or _Invalid --------------------------------------------


def flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise bad("true or false", value)


def count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise bad("an int >= 1", value)


def limit(value: object) -> int | None:
    if value is None or value == UNLIMITED:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_RATE_LIMIT:
        return value
    raise bad(f"an int >= 1 and <= {MAX_RATE_LIMIT}, or {UNLIMITED!r}", value)


def choice(options: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if isinstance(value, str) and value in options:
            return value
        raise bad(f"one of {', '.join(map(repr, options))}", value)

    return check


def checked_name(value: object) -> str:
    if isinstance(value, str) and value and value == value.strip():
        return value
    raise bad("a non-empty string without surrounding spaces", value)


def checked_kind(value: object) -> str:
    if isinstance(value, str) and value and value == value.strip():
        return value
    raise bad("a provider kind such as 'gemini', 'brave', 'openai' or 'callable'", value)


def optional_text(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise bad("a non-empty string", value)


def checked_base_url(value: object) -> str | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:
        parts = None
    if parts is not None and (
        parts.username or parts.password or any(secret_name(k) for k, _ in parse_qsl(parts.query))
    ):
        expected = "a URL without credentials (API keys come from api_key_env)"
        raise bad(expected, value, hide=True)
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad("an http:// or https:// URL such as 'https://api.example.com/v1'", value)
    return cast(str, value)


def env_name(value: object) -> str | None:
    if value is None or (isinstance(value, str) and _ENV_NAME.fullmatch(value)):
        return value
    expected = (
        "the NAME of an environment variable (A-Z, 0-9 and _, such as 'GEMINI_API_KEY'), "
        "never the key itself"
    )
    raise bad(expected, value, hide=True)


def _table(value: object, expected: str) -> Mapping[str, object]:
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return value
    raise bad(expected, value)


def checked_entries(
    value: object, expected: str, accepted: tuple[str, ...], check: Callable[[str, object], object]
) -> dict[str, Any]:
    """Check each entry of a table: every unknown key and every bad value is a problem."""
    table, found, out = _table(value, expected), list[Found](), dict[str, Any]()
    for key, item in table.items():
        if key not in accepted:
            found.append(unknown(key, accepted))
            continue
        try:
            out[key] = check(key, item)
        except Invalid as exc:
            found += under(key, exc)
    if found:
        raise Invalid(found)
    return out


TELEMETRY_KEYS: Final = ("tracing", "gen_ai_metrics")
"""The keys of ``[failover.telemetry]`` (``failover.tracing.CoordinatorTelemetry``)."""


def checked_telemetry(value: object) -> dict[str, bool]:
    expected = f"a table with some of {', '.join(TELEMETRY_KEYS)} (each true or false)"
    return checked_entries(value, expected, TELEMETRY_KEYS, lambda _, item: flag(item))


def checked_rate_limits(value: object) -> dict[str, int | None]:
    expected = f"a table with some of {', '.join(_RATE_LIMIT_KEYS)}"
    return checked_entries(value, expected, _RATE_LIMIT_KEYS, lambda _, item: limit(item))


def _expected_from(exc: ConfigurationError) -> str:
    match = re.search(r" must be (.+), got ", str(exc), re.DOTALL)
    return match.group(1) if match else str(exc)


def _window_data(value: object) -> dict[str, Any]:
    if isinstance(value, CountWindow | TimeWindow):
        return attrs.asdict(value)
    if isinstance(value, Mapping) and set(value) in ({"size"}, {"seconds"}, {"seconds", "buckets"}):
        kind = CountWindow if "size" in value else TimeWindow
        found: list[Found] = []
        for key, item in value.items():
            try:
                _field_value(kind, key, item)
            except Invalid as exc:
                found += under(key, exc)
        if found:
            raise Invalid(found)
        try:
            return attrs.asdict(kind(**value))
        except ConfigurationError as exc:  # the fields together (seconds / buckets)
            raise bad(_expected_from(exc), value) from None
    expected = "{size = N} (the last N calls) or {seconds = T, buckets = B} (the last T seconds)"
    raise bad(expected, value)


def _policy_value(key: str, value: object) -> object:
    if key == "window":
        return _window_data(value)
    if key == "removed_transitions":
        names = sorted(BUILTIN_NAMES)
        if isinstance(value, list | tuple | set | frozenset) and all(
            isinstance(name, str) and name in BUILTIN_NAMES for name in value
        ):
            return tuple(sorted(value))
        raise bad(f"a list of built-in transition names, from {', '.join(names)}", value)
    return _field_value(BreakerPolicy, key, value)


def _field_value(cls: type[Any], key: str, value: object) -> object:
    """``value`` checked by the validator of the field ``key`` of the attrs class ``cls``."""
    attribute = getattr(attrs.fields(cls), key)
    try:
        attribute.validator(None, attribute, value)
    except ConfigurationError as exc:
        raise bad(_expected_from(exc), value) from None
    except (ArithmeticError, ValueError, TypeError):  # an int too large for a float, ...
        raise bad(_expected_of(attribute), value) from None
    return value


def _expected_of(attribute: attrs.Attribute[Any]) -> str:
    """What a field's validator accepts, as its own message says for a value of no type."""
    try:
        if attribute.validator is not None:
            attribute.validator(None, attribute, object())
    except ConfigurationError as exc:
        return _expected_from(exc)
    return f"a value {attribute.name} accepts"  # pragma: no cover - validators refuse object()


def checked_policy(value: object) -> dict[str, object]:
    expected = "a table of BreakerPolicy fields"
    checked = checked_entries(value, expected, POLICY_FIELD_KEYS, _policy_value)
    try:
        BreakerPolicy().with_changes(**policy_kwargs(checked))
    except (ConfigurationError, ArithmeticError, ValueError) as exc:
        raise bad(f"a consistent policy ({exc})", value) from None
    return checked


def policy_kwargs(overrides: Mapping[str, object]) -> dict[str, object]:
    kwargs = dict(overrides)
    window = kwargs.get("window")
    if isinstance(window, Mapping):
        kwargs["window"] = CountWindow(**window) if "size" in window else TimeWindow(**window)
    return kwargs


def _duplicates(names: Iterable[object]) -> list[Found]:
    found: list[Found] = []
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if not isinstance(name, str):
            continue
        if name in first:
            expected = f"a name not already used by providers[{first[name]}]"
            found.append(((index, "name"), show(name), expected))
        first.setdefault(name, index)
    return found


def _raw_name(entry: object, cls: type[Any], key: str = "name") -> object:
    if isinstance(entry, cls):
        return cast(object, getattr(entry, key))
    return entry.get(key) if isinstance(entry, Mapping) else None


def list_problems(entries: list[Any] | tuple[Any, ...], cls: type[Any]) -> list[Found]:
    """Duplicate names, and a list of nothing but fallbacks (they only stand in for providers)."""
    found = _duplicates(_raw_name(p, cls) for p in entries)
    if entries and all(_raw_name(p, cls, "fallback") is True for p in entries):
        expected = "at least one provider without fallback = true (fallbacks serve only beside it)"
        found.append(((), None, expected))
    return found


# --- wiring: attrs converters and validators over the checks ----------------------------------


def lenient(check: Callable[[object], Any], value: Any) -> Any:
    """For attrs converters: the normalized value, or the value as given for the validator."""
    try:
        return check(value)
    except Invalid:
        return value


def _policy_in(value: Mapping[str, object]) -> Mapping[str, object]:
    return cast("Mapping[str, object]", lenient(checked_policy, value))


def records(cls: type[Any]) -> Callable[[object], tuple[Any, ...]]:
    """The check of a list of ``cls`` records (the providers) with unique names."""

    def check(value: object) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise bad("a list of provider tables ([[failover.providers]] in TOML)", value)
        found: list[Found] = [
            ((i,), f"<{type(p).__name__}>", f"a {cls.__name__}")
            for i, p in enumerate(value)
            if not isinstance(p, cls)
        ]
        found += list_problems(value, cls)
        if found:
            raise Invalid(found)
        return tuple(value)

    return check


def check_metadata(check: Callable[[object], object]) -> dict[str, object]:
    """A field's metadata naming its check (read by ``_validate`` and the converter)."""
    return {CHECK: check}


def _validate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    try:
        attribute.metadata[CHECK](value)
    except Invalid as exc:
        where = f"{type(instance).__name__}.{attribute.name}"
        found = [describe(render(sub, where), g, e) for sub, g, e in exc.found]
        raise ConfigurationError("; ".join(found)) from None


def checked_fields(
    cls: type[Any], fields: list[attrs.Attribute[Any]]
) -> list[attrs.Attribute[Any]]:
    """An attrs field transformer: every field is validated by the check in its metadata."""
    return [field.evolve(validator=_validate) for field in fields]
