"""The root of the library's error tree and the errors of the pure core.

The whole tree (the runtime adds the rest in ``failover.errors``)::

    FailoverError
    ├── ConfigurationError (also ValueError)
    └── IllegalTransitionError (also RuntimeError)

They are defined once, here, because ``statemachines`` sits below ``failover`` and must raise
them itself; ``failover.errors`` re-exports them.
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "FailoverError", "IllegalTransitionError"]


class FailoverError(Exception):
    """Root of every error this library raises."""


class ConfigurationError(FailoverError, ValueError):
    """A policy, state, transition or setting is invalid.

    The message names the field, the value given and what would be accepted.
    """


class IllegalTransitionError(FailoverError, RuntimeError):
    """A transition was asked for that the policy does not declare from the current state.

    Attributes:
        name: The transition (or trigger) that was asked for.
        source: The state the machine was in.
        dest: The state the transition would have led to, if known.
    """

    def __init__(self, name: str, source: str, dest: str | None = None) -> None:
        self.name = name
        self.source = source
        self.dest = dest
        target = f" to {dest!r}" if dest is not None else ""
        super().__init__(
            f"transition {name!r}{target} is not declared from state {source!r}; "
            "declare it in the policy's transitions or fire it from a state it names as source"
        )
