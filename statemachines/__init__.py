"""statemachines: the pure core of failover.

States, policies, windows, the explicit breaker machine, its events and their verification.
No I/O, no asyncio and no clock reads: time is always an argument.
"""

from statemachines._builtin import BUILTIN_NAMES
from statemachines._conditions import (
    Condition,
    ConditionContext,
    ConditionFn,
    Verdict,
    consecutive_failures,
    deadline_passed,
    failure_rate,
    health_check_passed,
    health_checks_failed,
    probes_failed,
    probes_succeeded,
    signalled,
    slow_call_rate,
    timed_out,
)
from statemachines._converter import (
    converter,
    event_from_json,
    event_to_json,
    events_from_jsonl,
    events_to_jsonl,
    make_converter,
)
from statemachines._errors import ConfigurationError, FailoverError, IllegalTransitionError
from statemachines._events import FailoverEvent, replay
from statemachines._machine import BreakerMachine, EventListener
from statemachines._policy import ANY, BreakerPolicy, Transition
from statemachines._snapshot import MachineSnapshot
from statemachines._states import (
    BreakerState,
    CustomState,
    FailoverReason,
    Outcome,
    ProviderHealth,
    State,
    Stimulus,
)
from statemachines._window import CountWindow, TimeWindow, Window

__all__ = [
    "ANY",
    "BUILTIN_NAMES",
    "BreakerMachine",
    "BreakerPolicy",
    "BreakerState",
    "Condition",
    "ConditionContext",
    "ConditionFn",
    "ConfigurationError",
    "CountWindow",
    "CustomState",
    "EventListener",
    "FailoverError",
    "FailoverEvent",
    "FailoverReason",
    "IllegalTransitionError",
    "MachineSnapshot",
    "Outcome",
    "ProviderHealth",
    "State",
    "Stimulus",
    "TimeWindow",
    "Transition",
    "Verdict",
    "Window",
    "consecutive_failures",
    "converter",
    "deadline_passed",
    "event_from_json",
    "event_to_json",
    "events_from_jsonl",
    "events_to_jsonl",
    "failure_rate",
    "health_check_passed",
    "health_checks_failed",
    "make_converter",
    "probes_failed",
    "probes_succeeded",
    "replay",
    "signalled",
    "slow_call_rate",
    "timed_out",
]
