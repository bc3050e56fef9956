"""Test kit: ScriptedProvider (a provider driven by a function, as httpx's MockTransport is)
and the ManualClock, for users' tests and the library's own; and for policy authors, Hypothesis
strategies (``outcomes``, ``fault_schedules``, ``policies``) and ``PolicyInterleavings``, a
state machine that checks a policy against the invariants of docs/semantics.md ("Invariants").

The Hypothesis part is loaded on first use of one of its names (a module ``__getattr__``): it
needs hypothesis (the extra ``failover[testing]``); ``import failover.testing`` does not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from failover.clock import ManualClock
from failover.testing._scripted import ScriptedProvider, ScriptedRequest

if TYPE_CHECKING:
    from failover.testing._interleavings import PolicyInterleavings
    from failover.testing._strategies import (
        CallOutcome,
        Fault,
        FaultSchedule,
        fault_schedules,
        outcomes,
        policies,
    )

__all__ = [
    "CallOutcome",
    "Fault",
    "FaultSchedule",
    "ManualClock",
    "PolicyInterleavings",
    "ScriptedProvider",
    "ScriptedRequest",
    "fault_schedules",
    "outcomes",
    "policies",
]

_HYPOTHESIS_KIT = {
    "CallOutcome": "failover.testing._strategies",
    "Fault": "failover.testing._strategies",
    "FaultSchedule": "failover.testing._strategies",
    "fault_schedules": "failover.testing._strategies",
    "outcomes": "failover.testing._strategies",
    "policies": "failover.testing._strategies",
    "PolicyInterleavings": "failover.testing._interleavings",
}


def __getattr__(name: str) -> object:
    """Load the Hypothesis part of the kit on first use of one of its names."""
    module = _HYPOTHESIS_KIT.get(name)
    if module is None:
        raise AttributeError(f"module 'failover.testing' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        raise ImportError(
            f"failover.testing.{name} needs hypothesis, which is not installed; "
            "install it with `pip install 'failover[testing]'` (or `pip install hypothesis`)"
        ) from exc
    globals()[name] = value
    return value
