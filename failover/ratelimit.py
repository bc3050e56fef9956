"""Client-side rate limits per provider, on the injected clock.

``RateLimit(per_minute, per_day, tokens_per_minute)`` is checked before a request is sent: a
provider without quota is skipped, not failed, and says until when. What the provider reports
is learned too: a RateLimited's retry_after blocks it until then; remaining quota from response
headers (``learn_remaining``) is honoured until its reset.

The ``limits`` package reads the wall clock itself, so it cannot run on a ManualClock (tests,
the outage simulator): these moving windows are kept here over the injected clock instead.
Memory: one timestamp per request within each window (bounded by the limit).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import attrs

from statemachines import ConfigurationError

__all__ = ["Quota", "RateLimit"]

MINUTE, DAY = 60.0, 86_400.0


def _limit(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigurationError(
            f"RateLimit.{attribute.name} must be an int >= 1 or None, got {value!r}"
        )


@attrs.frozen
class RateLimit:
    """Client-side limits for one provider: only those named limit (None: unlimited).

    ``RateLimit(per_minute=15)`` limits requests per minute and nothing else, as the settings'
    ``rate_limits = { per_minute = 15 }`` does.

    Attributes:
        per_minute: Requests per moving minute (REQUESTS_PER_MINUTE).
        per_day: Requests per moving day (DAILY_REQUEST_LIMIT).
        tokens_per_minute: Tokens per moving minute, counted after each answer.
    """

    per_minute: int | None = attrs.field(default=None, validator=_limit)
    per_day: int | None = attrs.field(default=None, validator=_limit)
    tokens_per_minute: int | None = attrs.field(default=None, validator=_limit)


class _Window:
    """A moving window of (time, weight) entries with a running total."""

    __slots__ = ("entries", "limit", "seconds", "total")

    def __init__(self, seconds: float, limit: int) -> None:
        self.seconds, self.limit = seconds, limit
        self.entries: deque[tuple[float, int]] = deque()
        self.total = 0

    def expire(self, now: float) -> None:
        # ``when + seconds``, as free_at says it: at that very time the entry is gone (``now -
        # seconds`` may round above ``when`` and refuse the caller who waited as told)
        entries, seconds = self.entries, self.seconds
        while entries and entries[0][0] + seconds <= now:
            self.total -= entries.popleft()[1]

    def free_at(self, now: float) -> float | None:
        """None if there is room now, else when enough will have expired."""
        self.expire(now)
        if self.total < self.limit:
            return None
        excess, freed = self.total - self.limit + 1, 0
        for when, weight in self.entries:
            freed += weight
            if freed >= excess:
                return when + self.seconds
        return now  # pragma: no cover - total >= limit implies entries cover the excess

    def add(self, now: float, weight: int) -> None:
        if weight > 0:
            self.entries.append((now, weight))
            self.total += weight


class Quota:
    """The live quota of one provider under a RateLimit."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._requests = [
            _Window(seconds, n)
            for seconds, n in ((MINUTE, limit.per_minute), (DAY, limit.per_day))
            if n is not None
        ]
        self._tokens = _Window(MINUTE, limit.tokens_per_minute) if limit.tokens_per_minute else None
        self.blocked_until: float | None = None
        self.remaining: int | None = None  # as reported by the provider
        self.remaining_resets_at: float | None = None

    def available_at(self, now: float) -> float | None:
        """None if a request may be sent now, else the earliest time one may."""
        waits = [w.free_at(now) for w in self._requests]
        if self._tokens is not None:
            waits.append(self._tokens.free_at(now))
        if self.blocked_until is not None and now < self.blocked_until:
            waits.append(self.blocked_until)
        if self.remaining == 0 and self.remaining_resets_at is not None:
            if now < self.remaining_resets_at:
                waits.append(self.remaining_resets_at)
            else:
                self.remaining = None
        pending = [w for w in waits if w is not None]
        return max(pending) if pending else None

    def refusals(self, now: float) -> list[tuple[str, float]]:
        """Why no request may be sent now: each refusing limit, said for a person, with when
        it frees up (empty when a request may be sent)."""
        found = []
        for window in self._requests:
            free = window.free_at(now)
            if free is not None:
                name = "per_minute" if window.seconds == MINUTE else "per_day"
                found.append((f"client-side limit {name} = {window.limit}", free))
        if self._tokens is not None and (free := self._tokens.free_at(now)) is not None:
            found.append((f"client-side limit tokens_per_minute = {self._tokens.limit}", free))
        if self.blocked_until is not None and now < self.blocked_until:
            found.append(("the provider's Retry-After", self.blocked_until))
        resets = self.remaining_resets_at
        if self.remaining == 0 and resets is not None and now < resets:
            found.append(("the provider reports no requests left", resets))
        return found

    def left(self, now: float) -> int | None:
        """Requests left in the tightest window (None when unlimited)."""
        for window in self._requests:
            window.expire(now)
        counts = [w.limit - w.total for w in self._requests]
        if self.remaining is not None:
            counts.append(self.remaining)
        return min(counts) if counts else None

    def consume(self, now: float) -> None:
        """Count one request sent at ``now``."""
        for window in self._requests:
            window.add(now, 1)
        if self.remaining:
            self.remaining -= 1

    def consume_tokens(self, now: float, tokens: int) -> None:
        """Count the tokens an answer used."""
        if self._tokens is not None:
            self._tokens.add(now, tokens)

    def block_until(self, when: float) -> None:
        """The provider asked us to wait (Retry-After): never shortens an earlier block."""
        if self.blocked_until is None or when > self.blocked_until:
            self.blocked_until = when

    def learn_remaining(self, remaining: int, resets_at: float | None) -> None:
        """The provider reported how many requests are left until ``resets_at``."""
        self.remaining, self.remaining_resets_at = max(remaining, 0), resets_at
