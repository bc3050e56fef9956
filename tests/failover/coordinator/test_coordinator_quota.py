"""Quota a provider reports in its responses (ReportsQuota): a remaining of 0 skips the provider
until the reset without sending it anything; the report is read after failures too."""

from __future__ import annotations

import pytest

from failover import QuotaReport, ReportsQuota, Unavailable
from failover.testing import ScriptedProvider, ScriptedRequest
from tests.failover.coordinator.test_coordinator_support import answers, coordinator


class Reporting(ScriptedProvider):
    """Answers (or fails) and then reports the quota it was told to report."""

    def __init__(self, name: str, *, fail: bool = False) -> None:
        super().__init__(name, self._handle)
        self.report: QuotaReport | None = None
        self.fail = fail
        self.sent = 0

    def _handle(self, request: ScriptedRequest) -> str:
        self.sent += 1
        if self.fail:
            raise Unavailable("503", provider=self.name)
        return self.name

    def quota_report(self) -> QuotaReport | None:
        return self.report


def test_a_reporting_provider_is_recognised_by_the_protocol() -> None:
    assert isinstance(Reporting("a"), ReportsQuota)
    assert not isinstance(answers("a"), ReportsQuota)


@pytest.mark.asyncio
@pytest.mark.parametrize("fail", [False, True])
async def test_remaining_zero_skips_the_provider_until_the_reset(fail: bool) -> None:
    first = Reporting("a", fail=fail)
    coord, clock = coordinator(first, answers("b"), strategy="priority", priorities={"a": 1})
    first.report = QuotaReport(remaining=0, reset_after=30.0)
    await coord.generate("hi")  # "a" is asked once (and answers or fails), then reports 0 left
    assert first.sent == 1
    clock.advance(29.0)
    for _ in range(3):
        result = await coord.generate("hi")
        assert result.provider == "b"
    assert first.sent == 1  # nothing reached "a" before the reset
    status = coord.status().providers[0]
    assert status.name == "a"
    assert status.quota_available_at == pytest.approx(30.0)
    assert status.quota_left == 0
    first.report, first.fail = None, False
    clock.advance(1.0)
    result = await coord.generate("hi")
    assert result.provider == "a"
    assert first.sent == 2


@pytest.mark.asyncio
async def test_remaining_quota_is_spent_down_locally_between_reports() -> None:
    first = Reporting("a")
    coord, _ = coordinator(first, answers("b"), strategy="priority", priorities={"a": 1})
    first.report = QuotaReport(remaining=2, reset_after=60.0)
    await coord.generate("hi")  # learns: 2 left
    first.report = None  # the provider says nothing more
    providers = [(await coord.generate("hi")).provider for _ in range(4)]
    assert providers == ["a", "a", "b", "b"]
    assert first.sent == 3


@pytest.mark.asyncio
async def test_a_report_without_a_reset_time_blocks_nothing() -> None:
    first = Reporting("a")
    coord, _ = coordinator(first, answers("b"), strategy="priority", priorities={"a": 1})
    first.report = QuotaReport(remaining=0, reset_after=None)
    providers = [(await coord.generate("hi")).provider for _ in range(3)]
    assert providers == ["a", "a", "a"]
