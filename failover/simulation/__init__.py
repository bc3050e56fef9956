"""Outage simulation: replay a scenario against a policy on a virtual clock.

``simulate(scenario, policy, seed)`` runs the real Coordinator and CircuitBreakers on a
ManualClock against simulated providers (fault schedules: outages, random errors, latency
distributions, 429 bursts, quotas) fed by Poisson arrivals, and returns a SimulationReport: the
FailoverEvent timeline, each request and attempt, per-provider figures and the state bands
behind ``failover simulate --plot``. Scenarios and policies are read from TOML with every
problem reported at once (``load_scenario``, ``policy_from_toml``).
"""

from failover._config.expression import (
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_TERMS,
)
from failover._config.policy_format import (
    CONDITION_ATOMS,
    EXAMPLE_POLICIES,
    POLICY_KEYS,
    example_policy,
    policy_from_mapping,
    policy_from_toml,
)
from failover._config.problems import InputFileError, PolicyFileError, ScenarioError
from failover.simulation._engine import Progress, arrival_times, run_simulation, simulate
from failover.simulation._load import DEFAULT_SCENARIO, load_scenario, scenario_from_mapping
from failover.simulation._load_values import MAX_SIMULATED_REQUESTS, MAX_SIMULATED_SECONDS
from failover.simulation._report import (
    AttemptRecord,
    Band,
    ProviderReport,
    RequestRecord,
    SimulationReport,
    percentile,
    state_bands,
)
from failover.simulation._scenario import (
    Arrivals,
    Latency,
    Outage,
    ProviderScenario,
    Quota,
    RateLimitBurst,
    Scenario,
)

__all__ = [
    "CONDITION_ATOMS",
    "DEFAULT_SCENARIO",
    "EXAMPLE_POLICIES",
    "MAX_EXPRESSION_CHARS",
    "MAX_EXPRESSION_DEPTH",
    "MAX_EXPRESSION_TERMS",
    "MAX_SIMULATED_REQUESTS",
    "MAX_SIMULATED_SECONDS",
    "POLICY_KEYS",
    "Arrivals",
    "AttemptRecord",
    "Band",
    "InputFileError",
    "Latency",
    "Outage",
    "PolicyFileError",
    "Progress",
    "ProviderReport",
    "ProviderScenario",
    "Quota",
    "RateLimitBurst",
    "RequestRecord",
    "Scenario",
    "ScenarioError",
    "SimulationReport",
    "arrival_times",
    "example_policy",
    "load_scenario",
    "percentile",
    "policy_from_mapping",
    "policy_from_toml",
    "run_simulation",
    "scenario_from_mapping",
    "simulate",
    "state_bands",
]
