"""Active health checks: one background task per provider, and checks on demand.

Each task waits a jittered first offset (``rng.uniform(0, jitter * interval)``), then checks its
provider, then waits ``interval`` seconds after each check ends, each wait jittered by up to
``jitter * interval / 2`` either way (the mean stays ``interval``). A check runs
``provider.health_check()`` under ``HealthCheckConfig.timeout`` on the coordinator's clock
(``clock_timeout``, as attempts are timed); a timeout, an exception or an answer that is not a
HealthCheckResult counts as an unhealthy result whose ``error`` names only the kind of failure
(never the exception's text, which could hold a URL with a credential); a provider's own
``error`` text is passed through ``failover.secrets.redact``. The result is kept on
the provider's slot (shown by ``status()``) and fed to its breaker (``record_health_check``):
failures trip it per the policy (HEALTH_CHECK_FAILED), a pass while OPEN probes early
(HEALTH_CHECK_PASSED). A background check is skipped while the provider's quota allows no
request (a check may cost one: Brave's does), and a provider that reports its quota
(``ReportsQuota``) is read after a check as after a request.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping

import attrs

from failover._base.log import get_logger
from failover._coordinator.slot import Slot
from failover._coordinator.timeouts import clock_timeout
from failover.clock import Clock
from failover.health import HealthCheckConfig
from failover.provider import HealthCheckResult
from failover.secrets import redact

__all__ = ["HealthRunner"]

logger = get_logger(__name__)


class HealthRunner:
    """The health checks of one coordinator's providers (internal).

    Args:
        slots: The coordinator's slots, in registration order.
        clock: The coordinator's clock (waits and timeouts run on it).
        config: Interval, timeout, jitter, and whether background checks run.
        overrides: A provider's own config, by name (``Coordinator(health_checks=...)``),
            in place of ``config``.
    """

    def __init__(
        self,
        slots: Iterable[Slot],
        clock: Clock,
        config: HealthCheckConfig,
        overrides: Mapping[str, HealthCheckConfig] | None = None,
    ) -> None:
        self._slots = tuple(slots)
        self._clock = clock
        self._config = config
        self._overrides = dict(overrides or {})
        self._tasks: list[asyncio.Task[None]] = []

    def config_of(self, slot: Slot) -> HealthCheckConfig:
        """The health-check config of ``slot``'s provider: its own, else the coordinator's."""
        return self._overrides.get(slot.name, self._config)

    @property
    def tasks(self) -> tuple[asyncio.Task[None], ...]:
        """The running background tasks (none before ``start`` or after ``stop``)."""
        return tuple(self._tasks)

    def start(self, rng: random.Random) -> None:
        """Start one background task per provider whose checks are enabled.

        ``rng`` is not drawn from: a private source is derived from a copy of its state, so
        that health checks never change the jitter a coordinator's requests see.
        """
        if self._tasks:
            return
        copy = random.Random()
        copy.setstate(rng.getstate())
        own = random.Random(copy.getrandbits(64))
        loop = asyncio.get_running_loop()
        for slot in self._slots:
            config = self.config_of(slot)
            if not config.enabled:
                continue
            offset = own.uniform(0.0, config.jitter * config.interval)
            name = f"failover health check {slot.name!r}"
            self._tasks.append(loop.create_task(self._every(slot, offset, own), name=name))

    async def stop(self) -> None:
        """Cancel every background task and wait until each has ended."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(self, slot: Slot, delay: float, rng: random.Random) -> None:
        config = self.config_of(slot)
        spread = config.jitter * config.interval
        while True:
            await self._clock.sleep(delay)
            try:
                slot.breaker.tick()  # time-driven transitions, even with no request (L1)
                if slot.quota_at(self._clock.monotonic()) is None:  # no quota: skip this one
                    await self.check(slot)
            except Exception:  # a hook's error: said once per check, the task goes on
                logger.exception("health check of provider %r failed; checks go on", slot.name)
            delay = config.interval + rng.uniform(-0.5, 0.5) * spread

    async def check_all(self, force: bool) -> Mapping[str, HealthCheckResult]:
        """Check the providers at once and return each one's latest result, by name.

        Without ``force``, a provider whose last result is younger than the interval keeps
        it, and nothing is checked when background checks are disabled (the cached results
        are returned). With ``force`` every provider is checked now.
        """
        now = self._clock.monotonic()
        due = [s for s in self._slots if force or self._due(s, now)]
        await asyncio.gather(*(self.check(slot) for slot in due))
        return {s.name: s.last_health_check for s in self._slots if s.last_health_check is not None}

    def _due(self, slot: Slot, now: float) -> bool:
        last, config = slot.last_health_check, self.config_of(slot)
        if not config.enabled:
            return False
        return last is None or now - last.checked_at >= config.interval

    async def check(self, slot: Slot) -> HealthCheckResult:
        """Check ``slot``'s provider once: keep the result and tell its breaker."""
        result = await self._ask(slot)
        if slot.reports_quota:  # a check's answer reports quota as a request's does
            report = slot.provider.quota_report()  # type: ignore[attr-defined]
            if report is not None:
                slot.learn(report, result.checked_at)
        slot.last_health_check = result
        slot.breaker.record_health_check(result.healthy)
        return result

    async def _ask(self, slot: Slot) -> HealthCheckResult:
        clock, limit = self._clock, self.config_of(slot).timeout
        started = clock.monotonic()
        error: str | None = None
        try:
            async with clock_timeout(clock, limit):
                answer = await slot.provider.health_check()
        except TimeoutError:
            timed_out = clock.monotonic() - started >= limit
            answer, error = None, f"timed out after {limit:g} s" if timed_out else "TimeoutError"
        except Exception as exc:
            answer, error = None, f"health_check() raised {type(exc).__name__}"
        ended = clock.monotonic()
        if error is None and isinstance(answer, HealthCheckResult):
            shown = None if answer.error is None else redact(str(answer.error))
            return attrs.evolve(
                answer, provider=slot.name, latency=ended - started, checked_at=ended, error=shown
            )
        if error is None:
            error = f"health_check() returned a {type(answer).__name__}, not a HealthCheckResult"
        return HealthCheckResult(slot.name, False, ended - started, ended, error)
