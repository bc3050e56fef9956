"""``SettingsProblem``: one bad key of the settings, and ``SettingsError``: every problem found
(both public in ``failover.settings``); how a problem reads."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from statemachines import ConfigurationError

__all__ = ["SettingsError", "SettingsProblem", "describe", "listing"]


def describe(path: str, given: str | None, expected: str) -> str:
    """One problem as text (also ``SettingsProblem.__str__``)."""
    if given is None:
        return f"{path}: {expected}"
    return f"{path}: got {given}; expected {expected}"


@attrs.frozen
class SettingsProblem:
    """One bad key.

    Attributes:
        path: Where: ``providers[1].rate_limits.per_minute``, or an environment variable's name.
        given: The value given as shown (a repr, shortened; ``(hidden)`` where it could be a
            credential), or None when the key is missing or unknown.
        expected: What would be accepted.
    """

    path: str
    given: str | None
    expected: str

    def __str__(self) -> str:
        return describe(self.path, self.given, self.expected)


class SettingsError(ConfigurationError):
    """Invalid settings: every problem found, at once.

    Attributes:
        source: Where the settings came from (a file, the environment, a mapping).
        problems: Every bad key, in the order found.
    """

    def __init__(self, source: str, problems: Iterable[SettingsProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(listing("failover settings", source, self.problems))


def listing(what: str, source: str, problems: tuple[SettingsProblem, ...]) -> str:
    """The message of an error that lists every problem found: one per line."""
    lines = "".join(f"\n  - {problem}" for problem in problems)
    plural = "" if len(problems) == 1 else "s"
    return f"invalid {what} ({source}): {len(problems)} problem{plural}{lines}"


SettingsProblem.__module__ = "failover.settings"
