"""Problems found in an input file (a scenario, a policy): collected, never raised one by one.

Every check adds a SettingsProblem (the record ``failover.settings`` uses: key path, value as
given, what would be accepted) to a ``Problems`` list; the loader raises one InputFileError
listing them all, so that the CLI prints one line per problem and exits 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from failover._config.checks import Invalid, render, show
from failover._config.problem import SettingsProblem, listing
from failover._config.toml_limits import TomlLimitError, load_toml
from statemachines import ConfigurationError

__all__ = ["InputFileError", "PolicyFileError", "Problems", "ScenarioError", "read_toml"]

T = TypeVar("T")


class InputFileError(ConfigurationError):
    """An input file (scenario or policy) has problems: every one found, at once.

    Attributes:
        source: The file (or "a mapping" when the data did not come from a file).
        problems: Each bad key: its path, the value given and what would be accepted.
    """

    what = "input"

    def __init__(self, source: str, problems: Iterable[SettingsProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(listing(self.what, source, self.problems))


class ScenarioError(InputFileError):
    """A simulation scenario has problems (unknown keys, wrong types, impossible values)."""

    what = "scenario"


class PolicyFileError(InputFileError):
    """A policy file has problems (unknown keys, wrong types, impossible values)."""

    what = "policy"


class Problems:
    """The problems of one input, each under its key path."""

    def __init__(self) -> None:
        self.found: list[SettingsProblem] = []

    def add(self, path: str, given: object, expected: str, *, shown: bool = False) -> None:
        """One problem at ``path``; ``given`` is shown with repr unless ``shown`` (then as is,
        None meaning "no value": a missing or unknown key)."""
        text = given if shown else show(given)
        self.found.append(SettingsProblem(path or "(top level)", text, expected))  # type: ignore[arg-type]

    def missing(self, path: str, expected: str) -> None:
        """A required key is absent."""
        self.add(path, None, f"missing; {expected}", shown=True)

    def invalid(self, path: str, exc: Invalid) -> None:
        """The problems a ``failover.settings`` check found, under ``path``."""
        for sub, given, expected in exc.found:
            self.add(render(sub, path), given, expected, shown=True)

    def check(self, path: str, value: object, check: Callable[[object], T]) -> T | None:
        """``check(value)``, or None with its problems recorded."""
        try:
            return check(value)
        except Invalid as exc:
            self.invalid(path, exc)
            return None

    def table(self, path: str, value: object, accepted: Iterable[str]) -> dict[str, Any]:
        """``value`` as a table whose keys are all ``accepted`` (unknown keys are problems);
        an empty table when it is not a table at all."""
        accepted = tuple(accepted)
        if not isinstance(value, Mapping):
            self.add(path, value, f"a table with some of the keys {', '.join(accepted)}")
            return {}
        for key in value:
            if key not in accepted:
                where = join(path, str(key))
                self.add(
                    where,
                    None,
                    f"unknown key; the accepted keys are {', '.join(accepted)}",
                    shown=True,
                )
        return {k: v for k, v in value.items() if k in accepted}

    def __bool__(self) -> bool:
        return bool(self.found)


def join(path: str, key: str | int) -> str:
    """``path.key`` or ``path[index]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return render([key], path) if path else render([key])


def read_toml(path: str | os.PathLike[str], error: type[InputFileError]) -> dict[str, Any]:
    """The document in a TOML file, read within ``failover._config.toml_limits``' limits (1 MiB, 64
    levels of nesting, checked before parsing).

    Raises:
        InputFileError: (of the class ``error``) the file cannot be read, is too large, nested
            too deeply or not TOML.
    """
    source = os.fspath(path)
    try:
        return load_toml(path)
    except OSError as exc:
        problem = SettingsProblem("(file)", None, f"a readable file: {exc.strerror or exc}")
    except TomlLimitError as exc:
        problem = SettingsProblem("(file)", None, str(exc))
    raise error(source, [problem])
