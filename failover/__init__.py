"""The runtime: what a service embeds to call its providers through circuit breakers.

It will hold the asynchronous ``CircuitBreaker`` around each provider, the ``Coordinator`` that
chooses among providers and fails over, retries and backoff, rate limits, the health monitor,
storage (in memory by default, Redis for many processes), settings, telemetry, the CLI and the
testing kit. It builds on ``statemachines`` and never imports ``providers``.

Nothing is public yet: the code lands in later issues.
"""

from __future__ import annotations

__all__: list[str] = []
