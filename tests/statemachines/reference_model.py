"""An independent reference model of the breaker (docs/semantics.md), default transitions.

Written from the semantics page alone (it reads only the enums and the thresholds of a
BreakerPolicy, never the machine's code), as naively as possible: the window is a plain list of
every outcome since the last transition, with its time, filtered when counted: the last N for a
CountWindow; for a TimeWindow those whose bucket is among the last ``buckets`` (TimeWindow's
documented rule: recorded at ``t``, inside at ``now`` iff ``t // width > now // width - buckets``).
The stateful tests run it beside a ``BreakerMachine`` and compare every answer.

Where that page is silent the model chooses, and says so here:

- Precedence in CLOSED: a provider's explicit signal first (RATE_LIMITED, then AUTH_FAILED), then
  CONSECUTIVE_FAILURES, ERROR_RATE, SLOW_CALLS (the composition order of the issue's example
  ``consecutive_failures(3) | failure_rate(0.5, min_calls=10)``). In HALF_OPEN: RATE_LIMITED, then
  PROBE_FAILED, then PROBES_SUCCEEDED.
- A rate is ``part / whole`` compared with ``>=`` to its threshold, as docs/semantics.md writes it.
  HALF_OPEN rates are over ``half_open_max_calls`` ("all probes finished" means that many).
- Time-driven transitions (COOLDOWN_ELAPSED, PROBE_TIMEOUT) are checked at an admission and at a
  tick, not when an outcome or a health check arrives.
- A Retry-After carried by the outcome that causes a transition into OPEN raises that opening's
  duration, whatever the reason; time-driven and health-check openings carry none.
- Every transition clears the window, the consecutive-failure count, the probe tallies and the
  count of health checks failed in a row. The opening count k is reset on entering CLOSED.
- A window's counts are as of the latest outcome it recorded (nothing else moves its clock in
  CLOSED); a record first moves the window's clock to the record's time, then adds the outcome.
- A record "counts" when the current generation takes it into account: CLOSED's window or
  HALF_OPEN's probe tally. IGNORED never counts; a cancelled probe of the current HALF_OPEN
  generation gives its permit back.
"""

from __future__ import annotations

import attrs

from statemachines import BreakerPolicy, BreakerState, CountWindow, FailoverReason, Outcome

__all__ = ["ReferenceBreaker", "Step"]

S = BreakerState
R = FailoverReason


@attrs.frozen
class Step:
    """One transition as the model predicts it."""

    source: BreakerState
    dest: BreakerState
    reason: FailoverReason
    at: float
    generation: int


class ReferenceBreaker:
    """The breaker of docs/semantics.md, default transition table, without any optimisation."""

    def __init__(self, policy: BreakerPolicy, now: float = 0.0) -> None:
        if policy.open_jitter:
            raise ValueError("the reference model predicts open_until only with open_jitter=0")
        self.policy = policy
        self.window = _Window(policy)
        self.state = S.CLOSED
        self.generation = 0
        self.consecutive_failures = 0
        self.probes_admitted = self.probes_succeeded = self.probes_failed = 0
        self.health_failures = 0
        self.openings = 0
        self.open_until: float | None = None
        self.half_open_since = now
        self.steps: list[Step] = []

    # --- what the tests compare ----------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The number of transitions so far (the last event's seq)."""
        return len(self.steps)

    @property
    def window_counts(self) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the window."""
        return self.window.counts()

    @property
    def retry_at(self) -> float | None:
        """open_until in OPEN; None in CLOSED, DISABLED, FORCED_OPEN (HALF_OPEN: not modelled)."""
        return self.open_until if self.state is S.OPEN else None

    # --- stimuli -------------------------------------------------------------------------------

    def admit(self, now: float) -> int | None:
        """The generation of an admitted call, or None."""
        self._check_time(now)
        if self.state in (S.CLOSED, S.DISABLED):
            return self.generation
        if self.state is S.HALF_OPEN and self.probes_admitted < self.policy.half_open_max_calls:
            self.probes_admitted += 1
            return self.generation
        return None

    def tick(self, now: float) -> None:
        """Time passes: only the time-driven transitions may fire."""
        self._check_time(now)

    def record(
        self,
        generation: int,
        outcome: Outcome,
        now: float,
        signal: FailoverReason | None = None,
        retry_after: float | None = None,
    ) -> bool:
        """Whether the outcome counts in the current generation (window or probe tally)."""
        current = generation == self.generation
        if outcome is Outcome.IGNORED:
            in_flight = self.probes_admitted - self.probes_succeeded - self.probes_failed
            if current and self.state is S.HALF_OPEN and in_flight > 0:
                self.probes_admitted -= 1
            return False
        if not current:
            return False
        if self.state is S.CLOSED:
            self._record_closed(outcome, now, signal, retry_after)
            return True
        if self.state is S.HALF_OPEN:
            self._record_probe(outcome, now, signal, retry_after)
            return True
        return False

    def health_check(self, passed: bool, now: float) -> None:
        """An active health check finished."""
        self.health_failures = 0 if passed else self.health_failures + 1
        enough = self.health_failures >= self.policy.health_failures_to_trip
        if self.state is S.CLOSED and not passed and enough:
            self._go(S.OPEN, R.HEALTH_CHECK_FAILED, now)
        elif self.state is S.OPEN and passed and self.policy.health_check_can_probe:
            self._go(S.HALF_OPEN, R.HEALTH_CHECK_PASSED, now)

    def manual(self, name: str, now: float) -> None:
        """An operator trigger: force_open, disable or reset (from any state)."""
        dest = {"force_open": S.FORCED_OPEN, "disable": S.DISABLED, "reset": S.CLOSED}[name]
        self._go(dest, R.MANUAL, now)

    # --- the rules -----------------------------------------------------------------------------

    def _check_time(self, now: float) -> None:
        if self.state is S.OPEN and self.open_until is not None and now >= self.open_until:
            self._go(S.HALF_OPEN, R.COOLDOWN_ELAPSED, now)
        elif (
            self.state is S.HALF_OPEN
            and now >= self.half_open_since + self.policy.max_half_open_duration
        ):
            self._go(S.OPEN, R.PROBE_TIMEOUT, now)

    def _record_closed(
        self, outcome: Outcome, now: float, signal: FailoverReason | None, retry_after: float | None
    ) -> None:
        self.window.add(now, outcome)
        self.consecutive_failures = self.consecutive_failures + 1 if outcome.failed else 0
        reason = self._trip_reason(signal)
        if reason is not None:
            self._go(S.OPEN, reason, now, retry_after)

    def _trip_reason(self, signal: FailoverReason | None) -> FailoverReason | None:
        p = self.policy
        calls, failures, slow = self.window_counts
        enough = calls >= p.minimum_calls
        if signal in (R.RATE_LIMITED, R.AUTH_FAILED):
            return signal
        if self.consecutive_failures >= p.max_consecutive_failures:
            return R.CONSECUTIVE_FAILURES
        if enough and failures / calls >= p.failure_rate_threshold:
            return R.ERROR_RATE
        if enough and slow / calls >= p.slow_call_rate_threshold:
            return R.SLOW_CALLS
        return None

    def _record_probe(
        self, outcome: Outcome, now: float, signal: FailoverReason | None, retry_after: float | None
    ) -> None:
        if outcome.failed:
            self.probes_failed += 1
        else:
            self.probes_succeeded += 1
        probes = self.policy.half_open_max_calls
        threshold = self.policy.failure_rate_threshold
        if signal is R.RATE_LIMITED:
            self._go(S.OPEN, R.RATE_LIMITED, now, retry_after)
        elif self.probes_failed / probes >= threshold:
            self._go(S.OPEN, R.PROBE_FAILED, now, retry_after)
        elif self.probes_succeeded + self.probes_failed >= probes:
            self._go(S.CLOSED, R.PROBES_SUCCEEDED, now)

    def _go(
        self,
        dest: BreakerState,
        reason: FailoverReason,
        now: float,
        retry_after: float | None = None,
    ) -> None:
        self.generation += 1
        self.steps.append(Step(self.state, dest, reason, now, self.generation))
        self.state = dest
        self.window.items.clear()
        self.consecutive_failures = self.health_failures = 0
        self.probes_admitted = self.probes_succeeded = self.probes_failed = 0
        self.open_until = None
        if dest is S.OPEN:
            self.openings += 1
            self.open_until = now + self.open_duration(self.openings, retry_after)
        elif dest is S.HALF_OPEN:
            self.half_open_since = now
        elif dest is S.CLOSED:
            self.openings = 0

    def open_duration(self, k: int, retry_after: float | None = None) -> float:
        """Semantics: ``open_duration * open_backoff ** (k - 1)`` capped at max_open_duration,
        raised (never lowered) by a Retry-After."""
        p = self.policy
        base = min(p.open_duration * p.open_backoff ** (k - 1), p.max_open_duration)
        return max(base, retry_after or 0.0)


class _Window:
    """Every outcome recorded since the last transition, with its time."""

    def __init__(self, policy: BreakerPolicy) -> None:
        spec = policy.window
        self.items: list[tuple[float, Outcome]] = []
        self.latest = 0.0  # the latest time the window has seen
        if isinstance(spec, CountWindow):
            self.size: int | None = spec.size
        else:
            self.size, self.width, self.buckets = None, spec.seconds / spec.buckets, spec.buckets

    def add(self, now: float, outcome: Outcome) -> None:
        self.latest = max(self.latest, now)
        self.items.append((now, outcome))

    def counts(self) -> tuple[int, int, int]:
        if self.size is not None:
            inside = [o for _, o in self.items[-self.size :]]
        else:
            oldest = self.latest // self.width - self.buckets
            inside = [o for t, o in self.items if t // self.width > oldest]
        return len(inside), sum(o.failed for o in inside), sum(o.slow for o in inside)
