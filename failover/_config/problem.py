"""``SettingsProblem``: one bad key of the settings (public in ``failover.settings``), and how
a problem reads."""

from __future__ import annotations

import attrs

__all__ = ["SettingsProblem", "_describe"]


def _describe(path: str, given: str | None, expected: str) -> str:
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
        return _describe(self.path, self.given, self.expected)


SettingsProblem.__module__ = "failover.settings"
