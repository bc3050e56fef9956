"""Reading for ``failover.settings``: TOML files, environment variables' text, and the strict
cattrs converter that structures plain data through each field's check, every problem kept.

The converter is a copy of the project's one converter (``statemachines.converter``), which is
left as it is; ``failover.settings`` registers its records on it (``_record_hook``) and turns
the errors it raises into problems with their paths (``leaves``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final, cast, get_args

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, override

from failover._config.checks import (
    CHECK,
    Found,
    Invalid,
    PathPart,
    bad,
    list_problems,
    suggest,
    unknown,
)
from failover._config.policy import resolve_policy_files
from failover._config.toml_limits import TomlLimitError, load_toml
from statemachines import ConfigurationError, converter

_INT: Final = re.compile(r"[+-]?[0-9]{1,40}")
_FLOAT: Final = re.compile(
    r"[+-]?(?:[0-9]{1,40}\.?[0-9]{0,40}|\.[0-9]{1,40})(?:[eE][+-]?[0-9]{1,4})?"
)


def _from_text(text: str) -> object:
    """An environment variable's text as an int or a float, or stripped if it is neither.

    Only ASCII digits make a number ("١٢", "1_000", "nan" and "inf" stay text, which no
    numeric setting accepts); at most 40 digits on each side of the point (longer is out of
    every range, and stays text too).
    """
    stripped = text.strip()
    if _INT.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        return float(stripped)
    return stripped


def read_env_data(
    env: Mapping[str, str], config: str, variables: Mapping[str, str]
) -> tuple[dict[str, object], str, dict[str, str]]:
    """The data of ``from_env``: the file named by the variable ``config``, then each field's
    variable that is set; also its source, and each field read -> its variable's name."""
    data: dict[str, object] = {}
    source = "the environment"
    path = env.get(config, "").strip()
    if path:  # its policy_file paths are relative to it, as from_toml reads them
        data.update(resolve_policy_files(read_table(Path(path), via=config), Path(path).parent))
        source += f" and {path} [failover]"
    names: dict[str, str] = {}
    for field, name in variables.items():
        if name not in env:
            continue
        names[field] = name
        table, _, key = field.rpartition(".")
        if not table:
            data[field] = _from_text(env[name])
            continue
        inner = data.get(table)
        inner = dict(inner) if isinstance(inner, Mapping) else {}
        if key == "url":  # the variable's URL replaces the file's (given either way)
            inner.pop("url_env", None)
        inner[key] = env[name].strip()
        data[table] = inner
    return data, source, names


def unknown_variables(
    env: Mapping[str, str], prefix: str, known: Iterable[str]
) -> list[tuple[str, str]]:
    """Each variable named ``{prefix}...`` that ``from_env`` does not read, with what it
    might have meant (a prefix of "" matches everything, so nothing is reported)."""
    if not prefix:
        return []
    known = sorted(known)
    found = []
    for name in sorted(env):
        if name.startswith(prefix) and name not in known:
            rest = suggest(name[len(prefix) :], [k[len(prefix) :] for k in known])
            if rest.startswith("did"):  # compared without the prefix, which every name shares
                rest = rest.replace("did you mean ", f"did you mean {prefix}", 1)
            else:
                rest = f"the accepted are {', '.join(known)}"
            found.append((name, f"not a variable failover reads; {rest}"))
    return found


def read_table(path: Path, via: str = "") -> Mapping[str, object]:
    """The [failover] table of a TOML file, read within ``failover._config.toml_limits``' size and
    nesting limits (so a hostile file is an error that says why, never a RecursionError)."""
    named = f" (named by {via})" if via else ""
    try:
        document = load_toml(path)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read failover settings from {str(path)!r}{named}: {exc.strerror or exc}"
        ) from exc
    except TomlLimitError as exc:
        verb = "is" if str(exc).startswith("nested") else "is not"
        raise ConfigurationError(f"{str(path)!r}{named} {verb} {exc}") from None
    except ValueError as exc:  # a path with a NUL character
        raise ConfigurationError(
            f"cannot read failover settings from {str(path)!r}{named}: {exc}"
        ) from None
    table = document.get("failover")
    misplaced = sorted(set(document) & _SETTINGS_KEYS)
    if misplaced or not isinstance(table, dict):
        found = (
            f"has {', '.join(misplaced)} outside its [failover] table"
            if misplaced
            else "has no [failover] table"
        )
        raise ConfigurationError(
            f"{str(path)!r}{named} {found} (its top-level keys are {sorted(document)!r}); put "
            "the settings under [failover] and each provider in a [[failover.providers]] table "
            "([[providers]] is the syntax of a simulate scenario)"
        )
    return table


_SETTINGS_KEYS: Final = frozenset(
    {"providers", "strategy", "all_down", "storage", "hedge_after", "policy", "telemetry"}
    | {"max_retries_per_request", "request_timeout", "health_check_interval"}
)
"""Top-level keys of a settings file that belong in its [failover] table: such a key is an
error, not silently ignored (the rest of the file may hold other configuration)."""


def leaves(exc: BaseException, path: tuple[PathPart, ...]) -> Iterator[Found]:
    """Every problem in a (nested) cattrs error group, with its path."""
    if isinstance(exc, ClassValidationError):
        named, other = exc.group_exceptions()
        for inner, note in named:
            yield from leaves(inner, (*path, note.name))
        for inner in other:
            yield from leaves(inner, path)
    elif isinstance(exc, IterableValidationError):
        indexed, rest = exc.group_exceptions()
        for inner, index_note in indexed:
            yield from leaves(inner, (*path, index_note.index))
        for inner in rest:
            yield from leaves(inner, path)
    elif isinstance(exc, ForbiddenExtraKeysError):
        accepted = [f.name for f in attrs.fields(exc.cl)]
        for key in sorted(map(str, exc.extra_fields)):
            sub, given, expected = unknown(key, accepted)
            yield (*path, *sub), given, expected
    elif isinstance(exc, Invalid):
        for sub, given, expected in exc.found:
            yield (*path, *sub), given, expected
    elif isinstance(exc, KeyError):
        yield path, None, "missing; this key is required"
    elif isinstance(exc, ExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner, path)
    else:  # pragma: no cover - the checks above leave nothing else
        yield path, None, str(exc)


def _check_hook(check: Callable[[object], object]) -> Callable[[object, object], object]:
    return lambda value, _: check(value)


def _record_hook(
    cls: type[Any], conv: cattrs.Converter, **hooks: Callable[[object, object], object]
) -> Callable[[object, type[Any]], Any]:
    """Structure ``cls`` from a mapping through each field's check (or the hook named for it)."""
    overrides = {
        f.name: override(struct_hook=hooks.get(f.name) or _check_hook(f.metadata[CHECK]))
        for f in attrs.fields(cls)
    }
    structure = make_dict_structure_fn(cls, conv, **cast(Any, overrides))

    def hook(value: object, kind: type[Any]) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise bad(f"a table (mapping) of {cls.__name__} keys", value)
        return structure(value, kind)

    return hook


def _providers_hook(
    conv: cattrs.Converter, many: Any
) -> Callable[[object, object], tuple[Any, ...]]:
    """Structure the providers (``many``: ``tuple[Record, ...]``), reporting duplicate names
    (and a list of fallbacks only)."""
    cls = get_args(many)[0]

    def providers(value: object, _: object) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise bad("a list of provider tables ([[failover.providers]] in TOML)", value)
        duplicates = list_problems(value, cls)
        try:
            structured: tuple[Any, ...] = conv.structure(value, many)
        except cattrs.BaseValidationError as exc:
            if duplicates:
                raise ExceptionGroup("providers", [exc, Invalid(duplicates)]) from None
            raise
        if duplicates:
            raise Invalid(duplicates)
        return structured

    return providers


@cache
def settings_converter(cls: type[Any], providers: Any) -> cattrs.Converter:
    """A copy of the project's converter that reads settings strictly (every error, no extra
    keys); the project's converter itself is left as it is.

    Args:
        cls: The settings record, whose ``providers`` field is structured by ``providers``.
        providers: ``tuple[Record, ...]``, Record being the record of one provider.
    """
    conv = converter.copy(forbid_extra_keys=True, detailed_validation=True)
    record = get_args(providers)[0]
    conv.register_structure_hook(record, _record_hook(record, conv))
    hook = _record_hook(cls, conv, providers=_providers_hook(conv, providers))
    conv.register_structure_hook(cls, hook)
    return conv
