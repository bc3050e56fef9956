"""MachineSnapshot: a frozen copy of a machine's figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from statemachines._states import ProviderHealth, State

if TYPE_CHECKING:
    from statemachines._machine_view import MachineView

__all__ = ["MachineSnapshot"]


@attrs.frozen
class MachineSnapshot:
    """Everything a BreakerMachine knows at one moment."""

    provider: str
    state: State
    health: ProviderHealth
    generation: int
    seq: int
    entered_at: float
    deadline: float | None
    openings: int
    calls: int
    failures: int
    slow_calls: int
    failure_rate: float
    slow_call_rate: float
    consecutive_failures: int
    consecutive_successes: int
    consecutive_health_failures: int
    probes_admitted: int
    probes_in_flight: int
    probes_succeeded: int
    probes_failed: int
    lifetime_calls: int
    lifetime_failures: int
    lifetime_slow: int
    lifetime_ignored: int
    lifetime_stale: int
    lifetime_rejected: int
    condition_errors: int
    last_condition_error: str | None

    @classmethod
    def of(cls, machine: MachineView) -> MachineSnapshot:
        """Copy ``machine``'s figures."""
        return cls(**{f.name: getattr(machine, f.name) for f in attrs.fields(cls)})
