"""The settings' policies in the policy format, and their storage table.

A provider's ``policy`` table (and the global ``[failover.policy]``) is read by the same parser
as a policy file's ``[policy]`` table (``failover._config.policy_format``, which ``failover
verify`` and
``failover simulate`` read): BreakerPolicy's fields, and ``trip_condition``, custom ``states``
and ``transitions``. ``policy_file`` names such a file instead. The storage table
(``storage = { url = ..., prefix = ... }``) names a Redis server; its URL may hold a password,
so a URL is never shown: not in a problem, not in a repr.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import urlsplit

from failover._config.checks import (
    Found,
    Invalid,
    bad,
    checked_entries,
    checked_name,
    checked_policy,
    env_name,
    lenient,
)
from failover._config.policy_format import policy_from_toml, policy_in
from failover._config.problems import InputFileError, Problems
from failover._config.ranges import checked_timeout
from failover.secrets import redact
from statemachines import BreakerPolicy

if TYPE_CHECKING:
    from failover.storage import Storage

__all__ = [
    "STORAGE_KEYS",
    "build_storage",
    "checked_policy_file",
    "checked_storage",
    "policy_from",
    "policy_table",
    "policy_table_in",
    "storage_repr",
]

STORAGE_KEYS: Final = ("url", "url_env", "prefix", "timeout")
"""The keys of ``storage = {...}``: RedisStorage's URL (or ``url_env``, the NAME of the variable
that holds it), its key ``prefix`` and its ``timeout`` in seconds."""
_SCHEMES: Final = ("redis", "rediss", "unix")
_CODE_KEYS: Final = ("trip_condition", "states", "transitions")
_PART: Final = re.compile(r"\[(\d+)\]|\[('[^']*')\]|([^.\[\]]+)")


def _parts(path: str) -> tuple[str | int, ...]:
    """A problem's path as text (``transitions[0].condition``) back into its parts."""
    parts: list[str | int] = []
    for index, quoted, key in _PART.findall(path):
        parts.append(int(index) if index else quoted[1:-1] if quoted else key)
    return tuple(parts)


def _found(problems: Problems) -> list[Found]:
    return [
        (() if p.path in ("(top level)", "(settings)") else _parts(p.path), p.given, p.expected)
        for p in problems.found
    ]


def policy_from(data: Mapping[str, object], base: BreakerPolicy) -> BreakerPolicy:
    """``base`` changed by a policy table (checked: a bad one raises ``Invalid``)."""
    problems = Problems()
    policy = policy_in(problems, "", data, base)
    if problems or policy is None:
        raise Invalid(_found(problems))
    return policy


def policy_table(value: object) -> dict[str, object]:
    """A policy table in the policy format (checked against the default policy)."""
    if not isinstance(value, Mapping):
        raise bad("a table in the policy format (a policy file's [policy] table)", value)
    policy_from(value, BreakerPolicy())
    plain = checked_policy({k: v for k, v in value.items() if k not in _CODE_KEYS})
    return {**value, **plain}  # the fields normalized (a window as data), the rest as given


def policy_table_in(value: Mapping[str, object]) -> Mapping[str, object]:
    """For attrs converters: the table normalized, or as given for the validator."""
    return cast("Mapping[str, object]", lenient(policy_table, value))


def checked_policy_file(value: object) -> str | None:
    """The path of a policy file (read, and its policy checked, now)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad("the path of a policy file (a TOML file with a [policy] table)", value)
    try:
        policy_from_toml(value)
    except InputFileError as exc:
        found: list[Found] = [((), repr(value), f"a valid policy file: {p}") for p in exc.problems]
        raise Invalid(found) from None
    return value


def _storage_value(key: str, value: object) -> object:
    if key == "url":
        return _url(value)
    if key == "url_env":
        return env_name(value)
    if key == "prefix":
        prefix = checked_name(value)
        if "{" in prefix or "}" in prefix:
            raise bad("a key prefix without { or }", value)
        return prefix
    return checked_timeout(value)


def _url(value: object) -> str:
    try:
        scheme = urlsplit(value).scheme if isinstance(value, str) else None
    except ValueError:
        scheme = None
    if scheme not in _SCHEMES:
        expected = "a redis://, rediss:// or unix:// URL such as 'redis://localhost:6379/0'"
        raise bad(expected, value, hide=True)
    return str(value)


def checked_storage(value: object) -> dict[str, object]:
    """``{url = ..., prefix = ...}`` (or ``url_env``), or an empty table for no storage."""
    expected = f"a table with some of {', '.join(STORAGE_KEYS)}"
    checked = checked_entries(value, expected, STORAGE_KEYS, _storage_value)
    if checked and ("url" in checked) == ("url_env" in checked):
        raise Invalid([((), None, "exactly one of url and url_env (the variable's name)")])
    return checked


def storage_repr(value: Mapping[str, object]) -> str:
    """The storage table as shown by a repr: the URL's password masked."""
    shown = {k: redact(v) if k == "url" and isinstance(v, str) else v for k, v in value.items()}
    return repr(shown)


def build_storage(table: Mapping[str, object], environ: Mapping[str, str]) -> Storage | None:
    """The RedisStorage a checked storage table names (None for an empty table).

    Raises:
        ConfigurationError: ``url_env`` names a variable that is not set, or the redis extra
            is missing.
    """
    if not table:
        return None
    from failover.redis_storage import RedisStorage  # the redis extra: only when asked for
    from statemachines import ConfigurationError

    url = table.get("url")
    if url is None:
        name = str(table["url_env"])
        url = environ.get(name, "").strip()
        if not url:
            raise ConfigurationError(
                f"storage.url_env names {name}, which is not set: set it to the Redis URL "
                "(such as redis://localhost:6379/0)"
            )
        try:
            _url(url)
        except Invalid:
            raise ConfigurationError(
                f"storage.url_env names {name}, whose value is not a redis://, rediss:// or "
                "unix:// URL"
            ) from None
    options: dict[str, Any] = {k: table[k] for k in ("prefix", "timeout") if k in table}
    return RedisStorage(str(url), **options)


def resolve_policy_files(data: Mapping[str, object], base: Path) -> Mapping[str, object]:
    """``data`` (a [failover] table) with each relative ``policy_file`` made relative to
    ``base`` (the settings file's directory); anything else left as it is."""
    providers = data.get("providers")
    if not isinstance(providers, list):
        return data
    resolved = [_resolved(entry, base) for entry in providers]
    return {**data, "providers": resolved}


def _resolved(entry: object, base: Path) -> object:
    if not isinstance(entry, Mapping):
        return entry
    path = entry.get("policy_file")
    if not isinstance(path, str) or not path.strip() or Path(path).is_absolute():
        return entry
    return {**entry, "policy_file": str(base / path)}
