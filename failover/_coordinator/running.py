"""A coordinator's life (internal: the Coordinator's base class): starting and stopping its
background tasks (health checks, the replica), closing its providers, checking their health on
demand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from failover._base.log import get_logger

if TYPE_CHECKING:
    import random

    from failover._coordinator.health_runner import HealthRunner
    from failover._coordinator.slot import Slot
    from failover._distributed.replica import Replica
    from failover.provider import HealthCheckResult

__all__ = ["Running"]

logger = get_logger(__name__)


class Running:
    """``start``, ``aclose`` and ``check_health`` (see the module docstring)."""

    _closed: bool
    _started: bool
    _health_runner: HealthRunner
    _replica: Replica | None
    _rng: random.Random

    if TYPE_CHECKING:

        @property
        def _slots(self) -> tuple[Slot, ...]: ...

    async def start(self) -> None:
        """Start the background tasks (health checks). Idempotent."""
        if self._closed:
            raise RuntimeError("this Coordinator is closed; build a new one")
        if not self._started:
            self._started = True
            await self._start_background()

    async def aclose(self) -> None:
        """Stop the background tasks and close every provider (errors are logged). Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._stop_background()
        for slot in self._slots:
            try:
                await slot.provider.aclose()
            except Exception:
                logger.exception("closing provider %r failed; ignored", slot.name)

    async def _start_background(self) -> None:
        """Start one health-check task per provider (unless health checks are disabled)."""
        self._health_runner.start(self._rng)
        if self._replica is not None:
            await self._replica.start()

    async def _stop_background(self) -> None:
        """Cancel the health-check tasks and wait until each has ended."""
        await self._health_runner.stop()
        if self._replica is not None:
            await self._replica.stop()

    async def check_health(self, force: bool = False) -> Mapping[str, HealthCheckResult]:
        """Check the providers now (concurrently) and return each one's latest result.

        Each result is also kept for ``status()`` and fed to the provider's breaker (failures
        trip it per its policy; a pass while OPEN probes early).

        Args:
            force: Check every provider now, even one with a result younger than
                ``health.interval`` and even when background checks are disabled. Without it,
                recent results are kept and nothing is checked when checks are disabled.

        Returns:
            The latest result per provider name (providers never checked are absent).

        Raises:
            RuntimeError: The coordinator is closed.
        """
        if self._closed:
            raise RuntimeError("this Coordinator is closed; its providers cannot be checked")
        return await self._health_runner.check_all(force)
