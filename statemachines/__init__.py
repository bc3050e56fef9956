"""statemachines: the pure core of failover.

States, policies, windows, the explicit breaker machine, its events and their verification.
No I/O, no asyncio and no clock reads: time is always an argument. ``statemachines.examples``
holds example policies (THROTTLED, a deliberately broken one).
"""

from statemachines._builtin_conditions import (
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
from statemachines._builtin_transitions import BUILTIN_NAMES
from statemachines._checks import MAX_POLICY_COUNT, MAX_WINDOW_SECONDS, MAX_WINDOW_SIZE
from statemachines._conditions import (
    Condition,
    ConditionContext,
    ConditionFn,
    PolicyView,
    Verdict,
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
from statemachines._machine import BreakerMachine, ConditionErrorListener, EventListener
from statemachines._mermaid import to_mermaid
from statemachines._policy import ANY, BreakerPolicy, Transition, pybreaker_compatible
from statemachines._presets import PYBREAKER_REMOVED_TRANSITIONS
from statemachines._snapshot import MachineSnapshot
from statemachines._states import (
    MAX_RETRY_AFTER,
    BreakerState,
    CustomState,
    FailoverReason,
    Outcome,
    ProviderHealth,
    State,
    Stimulus,
    retry_after_of,
)
from statemachines._verify import Defect, DefectKind, VerificationReport, verify_policy
from statemachines._window import CountWindow, TimeWindow, Window

__all__ = [
    "ANY",
    "BUILTIN_NAMES",
    "MAX_POLICY_COUNT",
    "MAX_RETRY_AFTER",
    "MAX_WINDOW_SECONDS",
    "MAX_WINDOW_SIZE",
    "PYBREAKER_REMOVED_TRANSITIONS",
    "BreakerMachine",
    "BreakerPolicy",
    "BreakerState",
    "Condition",
    "ConditionContext",
    "ConditionErrorListener",
    "ConditionFn",
    "ConfigurationError",
    "CountWindow",
    "CustomState",
    "Defect",
    "DefectKind",
    "EventListener",
    "FailoverError",
    "FailoverEvent",
    "FailoverReason",
    "IllegalTransitionError",
    "MachineSnapshot",
    "Outcome",
    "PolicyView",
    "ProviderHealth",
    "State",
    "Stimulus",
    "TimeWindow",
    "Transition",
    "Verdict",
    "VerificationReport",
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
    "pybreaker_compatible",
    "replay",
    "retry_after_of",
    "signalled",
    "slow_call_rate",
    "timed_out",
    "to_mermaid",
    "verify_policy",
]
